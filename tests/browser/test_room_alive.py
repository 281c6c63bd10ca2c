"""The room on a phone and alive, in Chromium against the real stack: the messages take most of a
phone's screen, the room's details open from its header, likes and online counts change live in
the room and on the rooms list, a dropped connection is said and recovered from, a send waits
in words ("보내는 중") or offers "다시 보내기", and days are divided ("오늘", "어제")."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from chat.models import ChatMessage
from chat.services import room_create
from tests.conftest import make_user, store_messages

from .conftest import DESKTOP, PHONE, TIMEOUT_MS, login, screenshot, start_web

pytestmark = pytest.mark.browser

LIVE_MS = 2000  # "within 2 s": likes and counts
SEOUL = ZoneInfo("Asia/Seoul")


def open_room(page: Page, room) -> Page:
    page.goto(f"/rooms/{room.pk}/")
    expect(page.locator("#room")).to_have_attribute("data-state", "open")
    return page


def send(page: Page, body: str) -> None:
    page.locator("#composer-body").fill(body)
    page.locator("#composer-body").press("Enter")


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not on screen"
    return found


def a_room(owner, *, image_url: str = ""):
    return room_create(
        owner=owner,
        name="고독한 고양이방 — 짤로만 대화하는 아주 긴 이름의 방",
        description="말 대신 고양이 짤로만 대화해요. 사진, GIF 모두 좋아요.",
        image_url=image_url,
        tags=["고양이", "동물", "짤"],
    )


def test_on_a_phone_the_messages_take_most_of_the_screen(live, browsers):
    owner = make_user(nickname="방장")
    room = a_room(owner, image_url=f"{live.web.http}/static/img/sample-zzal.svg")
    store_messages(room, owner, [f"짤 {i}" for i in range(1, 41)])
    a = open_room(browsers.page(owner, viewport=PHONE), room)
    expect(a.locator(".msg")).to_have_count(40)

    # The list of messages (the scrolling log) is at least 70 % of the screen's height, with
    # the site's header, the room's header and the send box all there.
    for part in (".site-header", ".room__head", ".composer", "#composer-body", "[data-send]"):
        expect(a.locator(part)).to_be_visible()
    log = box(a, "[data-log]")
    assert log["height"] / PHONE["height"] >= 0.70, log
    # The room's header is one row: its name, the online count and the like side by side.
    name, who, like = box(a, ".room__title h1"), box(a, "[data-who-toggle]"), box(a, ".like")
    for other in (who, like):
        assert abs((other["y"] + other["height"] / 2) - (name["y"] + name["height"] / 2)) < 8
    assert box(a, ".room__head")["height"] <= 56
    # The details (image, description, tags) wait behind the ⓘ button.
    details = a.get_by_role("button", name="방 정보")
    description = a.locator(".room__desc")
    expect(description).to_be_hidden()
    expect(a.locator(".room__about .tag")).to_have_count(3)
    expect(a.locator(".room__about .tag").first).to_be_hidden()
    screenshot(a, "room-alive-phone")
    details.click()
    expect(details).to_have_attribute("aria-expanded", "true")
    expect(description).to_be_visible()
    expect(a.locator(".room__about .tag").first).to_be_visible()
    expect(a.locator(".room__about .room__image")).to_be_visible()
    expect(a.get_by_role("link", name="대표 이미지 바꾸기")).to_be_visible()
    screenshot(a, "room-about-phone")
    a.keyboard.press("Escape")
    expect(description).to_be_hidden()
    expect(details).to_be_focused()
    assert box(a, "[data-log]")["height"] == log["height"]  # the log never moved

    # The send box is one line that grows with its text, up to a few lines.
    text = a.locator("#composer-body")
    one_line = box(a, "#composer-body")["height"]
    text.fill("첫 줄\n둘째 줄\n셋째 줄")
    three_lines = box(a, "#composer-body")["height"]
    assert three_lines > one_line * 1.6, (one_line, three_lines)
    text.fill("\n".join(f"{i}번째 줄" for i in range(20)))
    assert box(a, "#composer-body")["height"] <= 7.5 * 16 + 1  # then it scrolls
    text.press("Enter")
    expect(a.locator(".msg")).to_have_count(41)
    expect(text).to_have_value("")
    assert box(a, "#composer-body")["height"] == one_line

    # On a desktop the details are in the header, no button needed; the log still rules.
    a.set_viewport_size(DESKTOP)
    expect(description).to_be_visible()
    expect(details).to_be_hidden()
    expect(a.locator(".room__title .tag")).to_have_text(["#고양이", "#동물", "#짤"])
    assert box(a, "[data-log]")["height"] / DESKTOP["height"] >= 0.6
    image, heading = box(a, ".room__image"), box(a, ".room__title h1")
    assert image["x"] + image["width"] <= heading["x"]  # the image beside the name, as before
    screenshot(a, "room-alive-desktop")


def test_the_new_messages_pill_sits_above_the_send_box_on_a_desktop(live, browsers):
    owner, friend = make_user(nickname="방장"), make_user(nickname="친구")
    room = a_room(owner)
    store_messages(room, owner, [f"짤 {i}" for i in range(1, 51)])
    a = open_room(browsers.page(owner), room)
    b = open_room(browsers.page(friend), room)
    a.locator("[data-log]").evaluate("log => { log.scrollTop = 0; }")
    send(b, "새 짤 왔어요")
    jump = a.locator("[data-jump]")
    expect(jump).to_be_visible()
    composer = box(a, ".composer")
    pill = box(a, "[data-jump]")
    assert pill["y"] + pill["height"] <= composer["y"], (pill, composer)
    log = box(a, "[data-log]")
    assert pill["y"] >= log["y"] and pill["y"] + pill["height"] <= log["y"] + log["height"]
    screenshot(a, "room-jump-desktop")
    jump.click()
    expect(jump).to_be_hidden()
    expect(a.locator(".msg").last).to_be_in_viewport()


def test_a_like_by_b_reaches_a_in_the_room_and_on_the_rooms_list_within_2_s(live, browsers):
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    room = a_room(alice)
    a = open_room(browsers.page(alice), room)
    rooms = browsers.page(alice)  # the same member, the rooms list in another tab
    rooms.goto("/")
    card = rooms.locator(f'[data-room-id="{room.pk}"]')
    expect(card.locator("[data-like-count]")).to_have_text("0")
    expect(card.locator("[data-online]")).to_have_text("1")  # alice, in the room
    expect(a.locator(".room__head [data-like-count]")).to_have_text("0")

    # Bob comes in: the list's online count follows without a reload or a look away.
    b = open_room(browsers.page(bob, viewport=PHONE), room)
    expect(card.locator("[data-online]")).to_have_text("2", timeout=LIVE_MS)
    expect(a.locator(".room__head [data-online]")).to_have_text("2")

    b.locator(".room__head").get_by_role("button", name=re.compile("좋아요")).click()
    expect(b.locator(".room__head [data-like-count]")).to_have_text("1")
    expect(a.locator(".room__head [data-like-count]")).to_have_text("1", timeout=LIVE_MS)
    expect(card.locator("[data-like-count]")).to_have_text("1", timeout=LIVE_MS)
    # Bob's like is Bob's: Alice's button stays as it was.
    expect(a.locator(".room__head button.like")).to_have_attribute("aria-pressed", "false")
    expect(card.locator("button.like")).to_have_attribute("aria-pressed", "false")

    b.locator(".room__head").get_by_role("button", name=re.compile("좋아요")).click()
    expect(a.locator(".room__head [data-like-count]")).to_have_text("0", timeout=LIVE_MS)
    expect(card.locator("[data-like-count]")).to_have_text("0", timeout=LIVE_MS)

    b.context.close()  # Bob leaves
    expect(card.locator("[data-online]")).to_have_text("1", timeout=LIVE_MS)
    expect(a.locator(".room__head [data-online]")).to_have_text("1")


def test_a_connection_the_server_cuts_is_said_and_recovered_from(live, browsers):
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    room = a_room(alice)
    restartable = start_web(live, "web-alive-cut")
    try:
        a = open_room(browsers.page(alice, base=restartable.http, viewport=PHONE), room)
        b = open_room(browsers.page(bob), room)
        status = a.locator("[data-conn-status]")
        expect(status).to_be_hidden()

        restartable.stop()  # the server goes away: the socket is cut from its side
        expect(status).to_have_text("연결 끊김 · 다시 연결하는 중…")
        expect(status).to_be_visible()
        expect(a.locator("#room")).to_have_attribute("data-state", "reconnecting")
        screenshot(a, "room-disconnected-phone")
        # Meanwhile Bob talks and likes the room: none of it reaches Alice yet.
        send(b, "안 들리지?")
        b.locator(".room__head").get_by_role("button", name=re.compile("좋아요")).click()
        expect(b.locator(".room__head [data-like-count]")).to_have_text("1")

        restartable.start()  # the page finds it again by itself
        expect(a.locator("#room")).to_have_attribute("data-state", "open", timeout=30_000)
        expect(status).to_be_hidden()
        expect(a.locator(".msg__body")).to_have_text(["안 들리지?"])  # caught up
        expect(a.locator(".room__head [data-like-count]")).to_have_text("1")  # read again
        send(a, "이제 들려")
        expect(b.locator(".msg__body")).to_have_text(["안 들리지?", "이제 들려"])
        send(b, "좋아")
        expect(a.locator(".msg__body")).to_have_text(["안 들리지?", "이제 들려", "좋아"])
    finally:
        restartable.stop()


def test_a_message_sent_while_disconnected_says_so_and_goes_once_reconnected(live, browsers):
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    room = a_room(alice)
    restartable = start_web(live, "web-alive-pending")
    try:
        a = open_room(browsers.page(alice, base=restartable.http, viewport=PHONE), room)
        b = open_room(browsers.page(bob), room)
        restartable.stop()
        expect(a.locator("#room")).to_have_attribute("data-state", "reconnecting")

        send(a, "끊긴 동안 쓴 말")
        line = a.locator("[data-send-status]")
        expect(line).to_contain_text("보내는 중")
        expect(line).to_be_visible()
        expect(a.locator("#composer-body")).to_have_value("끊긴 동안 쓴 말")  # not lost
        expect(a.locator("[data-retry]")).to_be_hidden()
        screenshot(a, "room-pending-phone")

        restartable.start()
        expect(a.locator("#room")).to_have_attribute("data-state", "open", timeout=30_000)
        expect(b.locator(".msg__body")).to_have_text(["끊긴 동안 쓴 말"])
        expect(a.locator(".msg__body")).to_have_text(["끊긴 동안 쓴 말"])
        expect(a.locator("#composer-body")).to_have_value("")
        expect(line).to_be_hidden()
        assert ChatMessage.objects.filter(room=room).count() == 1  # sent once
    finally:
        restartable.stop()


def test_a_failed_send_offers_to_send_it_again(live, browsers):
    """A send the server refuses for now (here: too fast, one message per 4 s) says why and
    offers "다시 보내기", which sends the same message once it may go."""
    member = make_user()
    room = a_room(member)
    strict = start_web(live, "web-alive-retry", CHAT_RATE_PER_SEC="0.25", CHAT_RATE_BURST="1")
    try:
        page = open_room(browsers.page(member, base=strict.http, viewport=PHONE), room)
        send(page, "하나")
        expect(page.locator("#composer-body")).to_have_value("")
        send(page, "둘")
        expect(page.locator("[data-send-status]")).to_contain_text("너무 빨리")
        retry = page.get_by_role("button", name="다시 보내기")
        expect(retry).to_be_visible()
        screenshot(page, "room-retry-phone")
        page.wait_for_timeout(4100)  # the bucket refills
        retry.click()
        expect(page.locator(".msg__body")).to_have_text(["하나", "둘"])
        expect(retry).to_be_hidden()
        expect(page.locator("[data-send-status]")).to_be_hidden()
        assert ChatMessage.objects.filter(room=room).count() == 2
    finally:
        strict.stop()


def test_days_are_divided_in_history_and_live_and_times_are_in_the_readers_locale(live, browsers):
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    room = a_room(alice)
    now = datetime.now(SEOUL)
    today = now.date()
    at_noon = lambda day: datetime.combine(day, time(12, 0), SEOUL)  # noqa: E731
    earlier = today - timedelta(days=10)
    stored = store_messages(room, alice, ["열흘 전", "어제 하나", "어제 둘"])
    for message, sent_at in zip(
        stored,
        [
            at_noon(earlier),
            at_noon(today - timedelta(days=1)),
            at_noon(today - timedelta(days=1)) + timedelta(hours=3),
        ],
        strict=True,
    ):
        ChatMessage.objects.filter(pk=message.pk).update(sent_at=sent_at)

    # A reader in Seoul, in Korean.
    context = browsers.browser.new_context(
        base_url=browsers.base, viewport=PHONE, locale="ko-KR", timezone_id="Asia/Seoul"
    )
    context.set_default_timeout(TIMEOUT_MS)
    a = browsers.watched.watch(context.new_page())
    login(a, alice.username)
    open_room(a, room)
    earlier_label = (
        f"{earlier.month}월 {earlier.day}일"
        if earlier.year == today.year
        else f"{earlier.year}년 {earlier.month}월 {earlier.day}일"
    )
    days = a.locator(".messages > .day")
    expect(days).to_have_text([earlier_label, "어제"])
    # A divider comes before the first message of its day, and only there.
    order = a.locator(".messages > .day, .messages > .msg").evaluate_all(
        """els => els.map(e => e.classList.contains('day')
            ? '|' + e.textContent : e.querySelector('.msg__body').textContent)"""
    )
    assert order == [f"|{earlier_label}", "열흘 전", "|어제", "어제 하나", "어제 둘"]
    # Times alone (the day is on the divider), in the reader's locale; the full date on hover.
    expect(a.locator(".msg__time").nth(2)).to_have_text("오후 3:00")
    expect(a.locator(".msg__time").nth(2)).to_have_attribute(
        "title", re.compile(r"요일 오후 3:00$")
    )

    # Live: today's first message brings "오늘"; the next one no other divider.
    b = open_room(browsers.page(bob), room)
    send(b, "오늘 첫 짤")
    expect(days).to_have_text([earlier_label, "어제", "오늘"])
    send(b, "오늘 둘째 짤")
    expect(a.locator(".msg")).to_have_count(5)
    expect(days).to_have_text([earlier_label, "어제", "오늘"])
    expect(a.locator(".msg__time").last).to_have_text(re.compile(r"^(오전|오후) \d{1,2}:\d{2}$"))
    screenshot(a, "room-days-phone")

    # After a reload the same dividers come from the page's history.
    a.reload()
    expect(a.locator(".msg")).to_have_count(5)
    expect(days).to_have_text([earlier_label, "어제", "오늘"])
