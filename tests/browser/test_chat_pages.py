"""The room list and a room, in Chromium against the real stack (Uvicorn, Kafka, relay, Redis)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from chat.models import ChatMessage
from chat.services import room_create
from tests.conftest import make_room, make_user, store_messages

from .conftest import PHONE, screenshot, start_web

pytestmark = pytest.mark.browser

REMOVED = "관리자가 삭제한 메시지예요."
DELETED = "삭제된 메시지예요."
# Elements that could only come from user content parsed as HTML (the page's own history is
# a JSON script element, and GIFs are the only images in the room).
INJECTED = "main script:not([type='application/json']), main img:not(.msg__gif)"


def send(page: Page, body: str, gif_url: str = "") -> None:
    """Type into the send box and press Enter, as a member does."""
    if gif_url:
        page.locator("[data-gif-toggle]").click()  # the address field is in the GIF picker
        page.locator("#composer-gif").fill(gif_url)
    page.locator("#composer-body").fill(body)
    page.locator("#composer-body").press("Enter")


def shown(page: Page) -> list[tuple[str, str]]:
    """(sender, body) of every message on the page, top to bottom."""
    return [
        (item.locator(".msg__author").inner_text(), item.locator(".msg__bubble").inner_text())
        for item in page.locator(".msg").all()
    ]


def seqs(page: Page) -> list[int]:
    return [int(s) for s in page.locator(".msg").evaluate_all("els => els.map(e => e.dataset.seq)")]


def open_room(page: Page, room) -> Page:
    page.goto(f"/rooms/{room.pk}/")
    expect(page.locator("#room")).to_have_attribute("data-state", "open")
    return page


def test_two_members_exchange_ten_messages_in_order_and_a_reload_shows_them(live, browsers):
    room = make_room(name="짤 교환방", tags=["고양이", "유머"])
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    a = open_room(browsers.page(alice), room)
    b = open_room(browsers.page(bob), room)
    gif = f"{live.web.http}/static/img/sample-zzal.svg"

    expected = []
    for i in range(10):
        page, who = (a, "앨리스") if i % 2 == 0 else (b, "밥")
        body = f"{i}번째 짤"
        if i == 4:  # Shift+Enter adds a line instead of sending
            page.locator("#composer-body").fill("첫 줄")
            page.locator("#composer-body").press("Shift+Enter")
            page.locator("#composer-body").press_sequentially("둘째 줄")
            page.locator("#composer-body").press("Enter")
            body = "첫 줄\n둘째 줄"
        else:
            send(page, body, gif_url=gif if i == 7 else "")
        expected.append((who, body))
        for reader in (a, b):  # each message is on both screens before the next is sent
            expect(reader.locator(".msg")).to_have_count(i + 1)
        expect(page.locator("#composer-body")).to_have_value("")  # acknowledged, box cleared

    for reader in (a, b):
        assert shown(reader) == expected
        assert seqs(reader) == list(range(1, 11))
        expect(reader.locator(".msg img.msg__gif")).to_have_attribute("src", gif)
    # Each member's own messages are told apart.
    expect(a.locator(".msg--mine")).to_have_count(5)
    expect(a.locator(".msg--mine .msg__author")).to_have_text(["앨리스"] * 5)
    expect(b.locator(".msg--mine .msg__author")).to_have_text(["밥"] * 5)
    screenshot(a, "room")
    b.set_viewport_size(PHONE)
    screenshot(b, "room-phone")

    for reader in (a, b):
        reader.reload()
        expect(reader.locator(".msg")).to_have_count(10)
        assert shown(reader) == expected
    assert ChatMessage.objects.filter(room=room).count() == 10


def test_html_in_messages_names_rooms_and_tags_is_shown_as_text(live, browsers):
    sneaky = make_user(nickname='<img src=x onerror="alert(1)">')
    room = make_room(name="<b>굵은</b> 방", tags=["<i>태그</i>"])
    script = "<script>alert(1)</script>"

    page = browsers.page(sneaky)
    page.goto("/")
    card = page.locator(f'[data-room-id="{room.pk}"]')
    expect(card.locator(".room-card__name")).to_have_text("<b>굵은</b> 방")
    expect(card.locator(".tag")).to_have_text("#<i>태그</i>")
    expect(card.locator("b, i")).to_have_count(0)

    open_room(page, room)
    expect(page.locator(".room__title h1")).to_have_text("<b>굵은</b> 방")
    send(page, script)
    message = page.locator(".msg").first
    expect(message.locator(".msg__body")).to_have_text(script)
    expect(message.locator(".msg__author")).to_have_text('<img src=x onerror="alert(1)">')
    expect(page.locator(".site-account__me")).to_have_text('<img src=x onerror="alert(1)">')
    assert page.locator(INJECTED).count() == 0
    page.reload()  # the same from history (json_script) as from the socket
    expect(page.locator(".msg__body")).to_have_text(script)
    assert page.locator(INJECTED).count() == 0
    # The browsers fixture fails the test if any dialog opened.


def test_a_reader_whose_server_restarts_reconnects_and_shows_the_missed_messages_once(
    live, browsers
):
    room = make_room()
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    restartable = start_web(live, "web-restart")
    try:
        a = open_room(browsers.page(alice, base=restartable.http), room)
        b = open_room(browsers.page(bob), room)
        send(b, "끊기기 전")
        expect(a.locator(".msg__body")).to_have_text(["끊기기 전"])

        restartable.stop()  # alice's server goes away mid-conversation
        expect(a.locator("#room")).to_have_attribute("data-state", "reconnecting")
        expect(a.locator("[data-conn-status]")).to_contain_text("다시 연결하는 중")
        screenshot(a, "room-reconnecting")
        missed = [f"못 본 메시지 {i}" for i in range(5)]
        for body in missed:
            send(b, body)
            expect(b.locator("#composer-body")).to_have_value("")
        expect(b.locator(".msg")).to_have_count(6)

        restartable.start()  # same port: the page finds it again by itself
        expect(a.locator("#room")).to_have_attribute("data-state", "open", timeout=30_000)
        expect(a.locator("[data-conn-status]")).to_be_hidden()
        expect(a.locator(".msg")).to_have_count(6)
        send(b, "다시 왔네")
        expect(a.locator(".msg")).to_have_count(7)
        send(a, "응 나 왔어")
        for page in (a, b):
            expect(page.locator(".msg")).to_have_count(8)
            assert seqs(page) == list(range(1, 9))
            bodies = page.locator(".msg__body").all_inner_texts()
            assert bodies == ["끊기기 전", *missed, "다시 왔네", "응 나 왔어"]
    finally:
        restartable.stop()


def test_a_reader_who_missed_more_than_the_catch_up_limit_loads_the_rest_where_it_belongs(
    live, browsers
):
    """The socket replays the newest CHAT_CATCH_UP_LIMIT (3 here) after a chat.gap; the page
    puts a button where the missing ones belong and fills the gap from the history API."""
    room, author = make_room(), make_user(nickname="글쓴이")
    store_messages(room, author, ["처음"])
    restartable = start_web(live, "web-catch-up", CHAT_CATCH_UP_LIMIT="3")
    try:
        reader = open_room(browsers.page(base=restartable.http), room)
        expect(reader.locator(".msg")).to_have_count(1)
        restartable.stop()
        expect(reader.locator("#room")).to_have_attribute("data-state", "reconnecting")
        store_messages(room, make_user(), [f"놓친 {i}" for i in range(1, 11)])  # seq 2..11

        restartable.start()
        expect(reader.locator("#room")).to_have_attribute("data-state", "open", timeout=30_000)
        expect(reader.locator(".msg")).to_have_count(4)
        assert seqs(reader) == [1, 9, 10, 11]
        missed = reader.locator("[data-load-missed]")
        # No count: messages and changes share the seqs, so 7 missing seqs need not be 7 messages.
        expect(missed).to_have_text("놓친 메시지 보기")
        screenshot(reader, "room-catch-up-gap")
        missed.click()
        expect(reader.locator(".msg")).to_have_count(11)
        expect(missed).to_have_count(0)
        assert seqs(reader) == list(range(1, 12))
        assert reader.locator(".msg__body").all_inner_texts() == [
            "처음",
            *[f"놓친 {i}" for i in range(1, 11)],
        ]
    finally:
        restartable.stop()


def test_a_send_that_is_rate_limited_says_so_and_keeps_the_text_for_a_retry(live, browsers):
    room = make_room()
    member = make_user()
    # One message, then one more every 4 s.
    strict = start_web(live, "web-strict", CHAT_RATE_PER_SEC="0.25", CHAT_RATE_BURST="1")
    try:
        page = open_room(browsers.page(member, base=strict.http), room)
        send(page, "하나")
        expect(page.locator("#composer-body")).to_have_value("")  # acknowledged
        send(page, "둘")
        error = page.locator("[data-send-status]")
        expect(error).to_be_visible()
        expect(error).to_contain_text("너무 빨리")
        expect(page.locator("#composer-body")).to_have_value("둘")  # kept for the retry
        screenshot(page, "room-send-error")
        expect(page.locator(".msg__body")).to_have_text(["하나"])
        page.wait_for_timeout(4100)  # the bucket refills
        page.locator("#composer-body").press("Enter")
        expect(page.locator(".msg__body")).to_have_text(["하나", "둘"])
        expect(error).to_be_hidden()
        expect(page.locator("#composer-body")).to_have_value("")
    finally:
        strict.stop()


def test_load_older_pages_back_to_the_first_message(live, browsers):
    room, member = make_room(), make_user()
    store_messages(room, member, [f"옛날 메시지 {i}" for i in range(1, 71)])
    page = open_room(browsers.page(), room)  # anonymous readers may read
    expect(page.locator(".msg")).to_have_count(50)
    assert seqs(page) == list(range(21, 71))
    expect(page.locator(".composer--guest")).to_contain_text("로그인")
    page.get_by_role("button", name="이전 메시지 더 보기").click()
    expect(page.locator(".msg")).to_have_count(70)
    assert seqs(page) == list(range(1, 71))
    expect(page.locator("[data-load-older]")).to_be_hidden()
    expect(page.get_by_text("대화의 처음이에요.")).to_be_visible()


def test_room_list_searches_sorts_creates_and_likes(live, browsers):
    owner = make_user()
    cats = room_create(
        owner=owner,
        name="고독한 고양이방",
        description="짤로만 대화하는 고양이 방",
        image_url=f"{live.web.http}/static/img/sample-zzal.svg",
        tags=["고양이", "동물"],
    )
    devs = make_room(owner=owner, name="개발자 짤방", tags=["개발"])
    make_room(owner=owner, name="무한도전 짤방", tags=["예능", "무도"])
    member = make_user(nickname="좋아요러")
    page = browsers.page(member)
    page.goto("/")
    screenshot(page, "room-list")

    page.get_by_label("방 이름이나 태그로 찾기").fill("개발")
    page.get_by_label("방 이름이나 태그로 찾기").press("Enter")
    expect(page.locator(".room-card__name")).to_have_text(["개발자 짤방"])
    page.locator(".tag", has_text="#개발").click()  # a tag is a search too
    expect(page.locator(".room-card__name")).to_have_text(["개발자 짤방"])
    page.goto("/")

    # Liking updates the count in place, with no reload.
    card = page.locator(f'[data-room-id="{cats.pk}"]')
    card.get_by_role("button", name=re.compile("좋아요")).click()
    expect(card.locator("[data-like-count]")).to_have_text("1")
    expect(card.locator("button.like")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("link", name="좋아요순").click()
    expect(page.locator(".room-card__name").first).to_have_text("고독한 고양이방")
    card = page.locator(f'[data-room-id="{cats.pk}"]')
    card.get_by_role("button", name=re.compile("좋아요")).click()  # and back
    expect(card.locator("[data-like-count]")).to_have_text("0")

    # Someone opens a room: the list's online count follows when the tab is looked at again.
    reader = open_room(browsers.page(), devs)
    expect(reader.locator("[data-online]")).to_have_text("1")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator(f'[data-room-id="{devs.pk}"] [data-online]')).to_have_text("1")

    page.get_by_role("link", name="방 만들기", exact=True).click()
    page.get_by_label("방 이름", exact=True).fill("새로 만든 방")
    page.get_by_label("소개").fill("짤 환영")
    page.get_by_label("태그").fill("새방, #첫방")
    page.get_by_role("button", name="만들기", exact=True).click()
    expect(page.locator(".room__title h1")).to_have_text("새로 만든 방")
    expect(page.locator(".room__title .tag")).to_have_text(["#새방", "#첫방"])
    expect(page.locator("#room")).to_have_attribute("data-state", "open")
    page.set_viewport_size(PHONE)
    page.goto("/")
    screenshot(page, "room-list-phone")


def test_presence_shows_who_joined_and_left(live, browsers):
    room = make_room()
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    a = open_room(browsers.page(alice), room)
    expect(a.locator("[data-online]")).to_have_text("1")
    b = open_room(browsers.page(bob), room)
    expect(a.locator("[data-online]")).to_have_text("2")
    expect(a.locator(".notice")).to_have_text(["밥 님이 들어왔어요"])
    b.context.close()
    expect(a.locator("[data-online]")).to_have_text("1")
    expect(a.locator(".notice").last).to_have_text("밥 님이 나갔어요")


def test_a_removed_message_disappears_from_an_open_room(live, browsers):
    """The admin's removal travels the Kafka path; open pages show it without a reload."""
    room = make_room(name="신고방", tags=["신고", "모더레이션"])
    author = make_user(nickname="글쓴이")
    moderator = make_user(nickname="관리자", staff=True, is_superuser=True)
    reader = open_room(browsers.page(author), room)
    send(reader, "지워질 메시지")
    send_after = "남을 메시지"
    expect(reader.locator(".msg")).to_have_count(1)
    send(reader, send_after)
    expect(reader.locator(".msg")).to_have_count(2)
    doomed = ChatMessage.objects.get(room=room, body="지워질 메시지")

    admin = browsers.page()
    admin.goto("/admin/login/")
    admin.locator("#id_username").fill(moderator.username)
    admin.locator("#id_password").fill("pw-for-tests-1234")
    admin.locator("input[type=submit]").click()
    admin.goto("/admin/chat/chatroom/")
    row = admin.locator("#result_list tbody tr", has_text="신고방")
    expect(row.locator("td.field-message_count")).to_have_text("2")
    expect(row.locator("td.field-online")).to_have_text("1")
    screenshot(admin, "admin-room-list")
    row.locator("th a").click()
    expect(admin.get_by_text("지워질 메시지")).to_be_visible()  # recent messages, read-only
    admin.get_by_role("link", name=re.compile("Moderate this room")).click()
    admin.locator(f'input[name="_selected_action"][value="{doomed.pk}"]').check()
    admin.locator("select[name=action]").select_option("remove_messages")
    admin.locator("button[name=index]").click()
    expect(admin.locator(".messagelist")).to_contain_text("Removal of 1 message(s)")

    # A chat.deleted frame by staff: the author's own page shows the moderator's tombstone.
    removed = reader.locator('.msg[data-seq="1"]')
    expect(removed).to_have_class(re.compile("msg--deleted"))
    expect(removed.locator(".msg__body")).to_have_text(REMOVED)
    expect(removed.get_by_role("button")).to_have_count(0)  # nothing left to reply to or edit
    expect(reader.get_by_text("지워질 메시지")).to_have_count(0)
    expect(reader.locator('.msg[data-seq="2"] .msg__body')).to_have_text(send_after)
    reader.reload()
    expect(reader.locator('.msg[data-seq="1"] .msg__body')).to_have_text(REMOVED)
    doomed.refresh_from_db()
    assert doomed.is_deleted


def test_reply_react_edit_and_delete_show_live_on_both_pages_and_after_a_reload(live, browsers):
    """Issue 13's walk: every change reaches both open pages and is there after a reload."""
    typo, fixed, answer = "오타 있는 메세지", "오타 고친 메시지", "그거 좋네요"
    room = make_room(name="답장방")
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    a = open_room(browsers.page(alice), room)
    b = open_room(browsers.page(bob), room)
    pages = (a, b)
    send(a, typo)
    for page in pages:
        expect(page.locator(".msg")).to_have_count(1)

    # Bob replies to it: the composer says to whom, both pages show the quote.
    original = b.locator(".msg").first
    original.hover()
    original.get_by_role("button", name="답장", exact=True).click()
    reply_bar = b.locator("[data-reply]")
    expect(reply_bar).to_contain_text("앨리스님에게 답장")
    expect(b.locator("#composer-body")).to_be_focused()
    send(b, answer)
    expect(reply_bar).to_be_hidden()
    for page in pages:
        expect(page.locator(".msg")).to_have_count(2)
        quote = page.locator(".msg").last.get_by_role("button", name=re.compile("원래 메시지 보기"))
        expect(quote).to_have_text(re.compile(f"앨리스.*{typo}"))
    # The quote leads to the original.
    a.locator(".msg").last.locator(".msg__quote").click()
    expect(a.locator(".msg").first).to_be_focused()
    expect(a.locator(".msg").first).to_have_class(re.compile("msg--flash"))

    # Bob reacts 👍 from the picker; Alice sees the chip, then adds hers by clicking it.
    original.hover()
    original.get_by_role("button", name="반응 달기").click()
    b.get_by_role("group", name="반응 고르기").get_by_role("button", name="👍", exact=True).click()
    a_original = a.locator(".msg").first
    chip_a = a_original.get_by_role("button", name=re.compile("^👍 반응"))
    expect(chip_a).to_have_accessible_name("👍 반응 1개")
    expect(chip_a).to_have_attribute("aria-pressed", "false")
    chip_a.click()
    chip_b = original.get_by_role("button", name=re.compile("^👍 반응"))
    for chip in (chip_a, chip_b):
        expect(chip).to_have_accessible_name("👍 반응 2개")
        expect(chip).to_have_attribute("aria-pressed", "true")
    screenshot(b, "room-reply-reactions")

    # Alice edits: Esc leaves the message as it was; ↑ in the empty box opens the editor again.
    a_original.hover()
    a_original.get_by_role("button", name="수정", exact=True).click()
    editor = a.get_by_label("메시지 수정")
    expect(editor).to_be_focused()
    expect(editor).to_have_value(typo)
    editor.fill(fixed)
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(a_original.locator(".msg__body")).to_have_text(typo)
    a.locator("#composer-body").press("ArrowUp")
    expect(editor).to_be_focused()
    editor.fill(fixed)
    editor.press("Enter")
    expect(editor).to_have_count(0)
    for page in pages:
        first = page.locator(".msg").first
        expect(first.locator(".msg__body")).to_have_text(fixed)
        expect(first.locator(".msg__edited")).to_have_text("(수정됨)")
        expect(first.locator(".msg__edited")).to_be_visible()
        expect(page.locator(".msg").last.locator(".msg__quote-text")).to_have_text(fixed)

    # A reload shows the same room: reply, reactions (mine pressed), the edit.
    b.reload()
    expect(b.locator("#room")).to_have_attribute("data-state", "open")
    expect(original.locator(".msg__body")).to_have_text(fixed)
    expect(original.locator(".msg__edited")).to_be_visible()
    expect(chip_b).to_have_accessible_name("👍 반응 2개")
    expect(chip_b).to_have_attribute("aria-pressed", "true")
    expect(b.locator(".msg").last.locator(".msg__quote")).to_have_text(re.compile(fixed))

    # Alice deletes it after a confirm: a tombstone on both pages, and Bob's quote says so.
    a_original.hover()
    a_original.get_by_role("button", name="삭제", exact=True).click()
    confirm = a.get_by_role("dialog", name="이 메시지를 삭제할까요?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="삭제", exact=True).click()
    expect(confirm).to_be_hidden()
    for page in pages:
        first, reply = page.locator(".msg").first, page.locator(".msg").last
        expect(first).to_have_class(re.compile("msg--deleted"))
        expect(first.locator(".msg__body")).to_have_text(DELETED)
        expect(first.locator(".reaction")).to_have_count(0)
        expect(first.locator(".msg__edited")).to_be_hidden()
        expect(reply.locator(".msg__quote-text")).to_have_text(DELETED)
        expect(reply.locator(".msg__body")).to_have_text(answer)
        expect(page.get_by_text(fixed)).to_have_count(0)
    screenshot(a, "room-deleted")

    for page in pages:
        page.reload()
        expect(page.locator(".msg")).to_have_count(2)
        first, reply = page.locator(".msg").first, page.locator(".msg").last
        expect(first.locator(".msg__body")).to_have_text(DELETED)
        expect(first.locator(".reaction")).to_have_count(0)
        expect(reply.locator(".msg__quote-text")).to_have_text(DELETED)
        expect(reply.locator(".msg__body")).to_have_text(answer)
        expect(page.get_by_text(fixed)).to_have_count(0)
        expect(page.get_by_text(typo)).to_have_count(0)


def test_a_member_sees_who_is_typing_and_who_is_here(live, browsers):
    room = make_room()
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    a = open_room(browsers.page(alice), room)
    b = open_room(browsers.page(bob), room)
    expect(b.locator("[data-online]")).to_have_text("2")

    a.locator("#composer-body").press_sequentially("밥 안녕", delay=60)
    expect(b.locator("[data-typing]")).to_have_text("앨리스 님이 입력 중…")
    expect(a.locator("[data-typing]")).to_have_text("")  # never for yourself
    screenshot(b, "room-typing")

    # The online count opens the list of who is here, each once, by nickname.
    who = b.get_by_role("button", name=re.compile("접속 중"))
    who.click()
    expect(who).to_have_attribute("aria-expanded", "true")
    panel = b.get_by_role("region", name="접속 중인 멤버")
    expect(panel.locator(".who__name")).to_have_text(["밥", "앨리스"])
    expect(panel.locator(".who__member", has_text="밥").locator(".msg__you")).to_have_text("나")

    # The message arrives and the indicator goes at once (else it would last 5 s).
    a.locator("#composer-body").press("Enter")
    expect(b.locator(".msg")).to_have_count(1)
    expect(b.locator("[data-typing]")).to_have_text("")

    b.set_viewport_size(PHONE)
    expect(panel).to_be_in_viewport(ratio=1)
    screenshot(b, "room-who-phone")
    b.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    # Someone leaves: the list, opened again, follows.
    a.context.close()
    expect(b.locator("[data-online]")).to_have_text("1")
    who.click()
    expect(panel.locator(".who__name")).to_have_text(["밥"])


def test_a_member_opens_at_the_new_messages_divider_and_reading_moves_the_marker(live, browsers):
    from chat.models import RoomMember
    from chat.services import room_join

    room = make_room()
    alice, bob, carol = make_user(), make_user(nickname="밥"), make_user()
    store_messages(room, alice, ["읽은 1", "읽은 2", "읽은 3"])
    room_join(room_id=room.pk, user=bob)  # bob has read those three
    store_messages(room, carol, [f"새 글 {i}" for i in range(30)])

    def marker() -> int:
        return RoomMember.objects.get(room=room, user=bob).last_read_seq

    page = open_room(browsers.page(bob), room)
    divider = page.locator(".divider")
    expect(divider).to_have_text("새 메시지")
    expect(divider).to_be_in_viewport()
    screenshot(page, "room-divider")
    # (Day dividers aside.)
    assert page.locator(".messages > li:not(.day)").evaluate_all(
        "items => items.map(i => i.className.split(' ')[0] + ':' + (i.dataset.seq || ''))"
    )[2:5] == ["msg:3", "divider:3.5", "msg:4"]
    expect(page.locator("[data-jump]")).to_be_visible()
    page.wait_for_timeout(2500)
    assert marker() == 3  # the newest messages are not on screen yet: nothing read

    page.locator("[data-jump]").click()
    deadline = page.evaluate("Date.now()") + 10_000
    while marker() != 33 and page.evaluate("Date.now()") < deadline:
        page.wait_for_timeout(200)
    assert marker() == 33

    page.reload()
    expect(page.locator("#room")).to_have_attribute("data-last-read-seq", "33")
    expect(page.locator(".msg")).to_have_count(33)
    expect(page.locator(".divider")).to_have_count(0)


def test_a_member_sees_an_unread_room_a_live_mention_and_who_is_typing(live, browsers):
    """Issue 14's walk: Bob comes back to a room Alice wrote in (an unread badge on the list, the
    room opens at the divider), Alice mentions him (the nav badge moves without a reload, the
    mention is a link, highlighted for him) and he sees her typing."""
    room = make_room(name="멘션방")
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    b = open_room(browsers.page(bob), room)  # opening a room joins it
    b.goto("/")
    card = b.locator(f'[data-room-id="{room.pk}"]')
    expect(card).to_be_visible()
    expect(card.locator(".unread-badge")).to_have_count(0)

    a = open_room(browsers.page(alice), room)
    send(a, "밥 어디 갔어요?")
    expect(a.locator(".msg")).to_have_count(1)  # on Alice's screen: stored and announced
    b.reload()  # the list also refreshes itself every 10 s
    badge = card.locator(".unread-badge")
    expect(badge).to_have_text("1")
    expect(badge).to_have_attribute("aria-label", "안 읽은 메시지 1개")
    screenshot(b, "rooms-unread")

    card.locator(".room-card__link").click()
    expect(b.locator("#room")).to_have_attribute("data-state", "open")
    items = b.locator(".messages > li:not(.day)")  # day dividers aside
    expect(items).to_have_count(2)
    expect(items.first).to_have_class("divider")
    expect(items.first).to_have_text("새 메시지")
    expect(items.nth(1).locator(".msg__body")).to_have_text("밥 어디 갔어요?")
    nav_badge = b.locator("[data-notify-badge]")
    expect(nav_badge).to_be_hidden()

    send(a, "@밥 여기 있었네요! @없는사람 안녕")
    expect(nav_badge).to_be_visible()  # live, from /ws/me/: no reload
    expect(nav_badge).to_have_text("1")
    expect(b.locator("[data-notify-label]")).to_have_text(" (안 읽은 알림 1개)")
    for page in (a, b):
        message = page.locator(".msg").last
        expect(message.locator(".msg__body")).to_have_text("@밥 여기 있었네요! @없는사람 안녕")
        link = message.locator(".msg__body a.mention")
        expect(link).to_have_count(1)  # not a member: no link
        expect(link).to_have_text("@밥")
        expect(link).to_have_attribute("href", f"/members/{bob.username}/")
    mine = b.locator(".msg").last
    expect(mine).to_have_class(re.compile("msg--mentions-me"))
    expect(mine.locator(".mention--me")).to_have_count(1)
    expect(a.locator(".mention--me")).to_have_count(0)  # Alice is not the one called

    # Typing reaches the room at most once per 2 s per socket, and filling the box for the
    # mention just used that: type for longer than that.
    a.locator("#composer-body").press_sequentially("곧 갈게요, 조금만 기다려 주세요", delay=150)
    expect(b.locator("[data-typing]")).to_have_text("앨리스 님이 입력 중…")
    screenshot(b, "room-mention")

    # The notification leads to the message; the mention leads to the member's page.
    b.locator("[data-notify]").click()
    expect(b.locator(".notification--unread")).to_have_count(1)
    b.locator(".notification__link").first.click()
    expect(b).to_have_url(re.compile(rf"/rooms/{room.pk}/#msg-2$"))
    expect(b.locator("#msg-2")).to_be_focused()
    expect(nav_badge).to_be_hidden()
    b.locator("#msg-2 a.mention").click()
    expect(b).to_have_url(re.compile(rf"/members/{bob.username}/$"))
