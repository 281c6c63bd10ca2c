"""Room moderation in Chromium against the real stack (issue 15): roles in the room, a member's
menu, the owner's settings panel, mute, slow mode, kick, ban and reports, as members see them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from chat.models import ChatMessage, MessageReport, ModerationAction, RoomMember
from tests.conftest import make_room, make_user

from .conftest import PHONE, screenshot
from .test_chat_pages import open_room, send

pytestmark = pytest.mark.browser

UNTIL = r"(내일 )?(오전|오후) \d{1,2}시( \d{1,2}분)?"
COUNTDOWN = re.compile(r"^\d{1,2}초 후에 보낼 수 있어요$")


def member_menu(page: Page, nickname: str):
    """Open a member's menu from their newest message's name; returns the menu."""
    page.locator(".msg__author--menu", has_text=nickname).last.click()
    menu = page.get_by_role("menu", name=f"{nickname}님 메뉴")
    expect(menu).to_be_visible()
    return menu


def last_line(page: Page):
    return page.locator(".notice--action").last.locator(".notice__text")


def test_owner_appoints_a_moderator_who_mutes_a_member_then_slow_mode_and_a_kick(live, browsers):
    """Issue 15's walk: every step through the page, as the three of them see it (the member on
    a phone)."""
    owner = make_user(nickname="방장님")
    room = make_room(owner=owner, name="관리되는 방")
    mod, member = make_user(nickname="모더"), make_user(nickname="회원")
    o = open_room(browsers.page(owner), room)
    m = open_room(browsers.page(mod), room)
    u = open_room(browsers.page(member, viewport=PHONE), room)
    pages = (o, m, u)
    for page, body in ((o, "어서 오세요"), (m, "안녕하세요"), (u, "반가워요")):
        send(page, body)
        expect(page.locator("#composer-body")).to_have_value("")
    for page in pages:
        expect(page.locator(".msg")).to_have_count(3)
        # The owner's crown, with a name for screen readers.
        owner_message = page.locator(".msg").first
        expect(owner_message.get_by_role("img", name="방장")).to_be_visible()
        expect(page.locator(".role--moderator")).to_have_count(0)
    expect(o.get_by_role("button", name="방 관리")).to_be_visible()
    expect(o.get_by_role("link", name="신고함")).to_have_attribute(
        "href", f"/rooms/{room.pk}/reports/"
    )
    for page in (m, u):
        expect(page.get_by_role("button", name="방 관리")).to_be_hidden()
        expect(page.get_by_role("link", name="신고함")).to_be_hidden()
    # A plain member's menu: the profile and a mention, nothing to moderate with.
    menu = member_menu(u, "모더")
    expect(menu.get_by_role("menuitem")).to_have_text(["프로필 보기", "@모더 부르기"])
    menu.get_by_role("menuitem", name="@모더 부르기").click()
    expect(u.locator("#composer-body")).to_have_value("@모더 ")
    expect(u.locator("#composer-body")).to_be_focused()
    u.locator("#composer-body").fill("")

    # The owner makes 모더 a moderator from the name on 모더's message.
    menu = member_menu(o, "모더")
    menu.get_by_role("menuitem", name="매니저로 지정").click()
    for page in pages:
        expect(last_line(page)).to_have_text("모더님이 매니저가 되었어요")
        expect(page.locator(".notice--action").last.locator(".notice__by")).to_have_text(
            "방장 방장님"
        )
        mark = page.locator(".msg", has_text="안녕하세요").locator(".role--moderator")
        expect(mark).to_have_text("매니저")
    expect(m.get_by_role("link", name="신고함")).to_be_visible()  # the moderator's page follows
    expect(m.get_by_role("button", name="방 관리")).to_be_hidden()  # the panel is the owner's

    # The moderator mutes the member for 10 minutes from the member's name.
    menu = member_menu(m, "회원")
    expect(menu.get_by_role("menuitem", name="매니저로 지정")).to_have_count(0)  # owner only
    menu.get_by_role("menuitem", name="10분 동안 조용히").click()
    for page in pages:
        expect(last_line(page)).to_have_text(
            re.compile(f"^회원님이 {UNTIL}까지 말할 수 없게 되었어요$")
        )
    body, note = u.locator("#composer-body"), u.locator("[data-composer-note]")
    expect(body).to_be_disabled()
    expect(note).to_have_text(re.compile(f"^{UNTIL}까지 말할 수 없어요\\.$"))
    expect(u.locator("[data-send]")).to_be_disabled()
    screenshot(u, "moderation-muted-phone")
    u.reload()  # still muted after a reload (the page is told, the socket keeps it)
    expect(u.locator("#room")).to_have_attribute("data-state", "open")
    expect(body).to_be_disabled()
    expect(note).to_have_text(re.compile(f"^{UNTIL}까지 말할 수 없어요\\.$"))
    muted = RoomMember.objects.get(room=room, user=member).muted_until
    assert muted is not None

    # The owner opens the panel: slow mode 30 s, and lifts the mute from the muted list.
    o.get_by_role("button", name="방 관리").click()
    panel = o.get_by_role("dialog", name="방 관리")
    expect(panel).to_be_visible()
    expect(panel.locator('[data-mod-list="moderators"] .mod-panel__name')).to_have_text(["모더"])
    expect(panel.locator('[data-mod-list="muted"] .mod-panel__name')).to_have_text(["회원"])
    panel.get_by_label("슬로 모드 간격").select_option("30")
    panel.get_by_role("button", name="적용").click()
    expect(panel.locator("[data-mod-status]")).to_have_text("슬로 모드를 30초로 정했어요.")
    expect(panel.locator("[data-mod-slow-now]")).to_have_text(
        "지금: 한 사람이 30초에 한 번 보낼 수 있어요."
    )
    screenshot(o, "moderation-panel")
    panel.get_by_role("button", name="회원님 조용히 해제").click()
    expect(panel.locator('[data-mod-list="muted"] li')).to_have_count(0)
    panel.get_by_role("button", name="닫기").click()
    expect(panel).to_be_hidden()
    for page in pages:
        lines = page.locator(".notice--action .notice__text")
        expect(lines.nth(-2)).to_have_text("슬로 모드: 30초에 한 번")
        expect(lines.last).to_have_text("회원님이 다시 말할 수 있게 되었어요")

    # The member may talk again: one message, then the send button counts down.
    expect(body).to_be_enabled()
    expect(note).to_be_hidden()
    send(u, "이제 말할 수 있어요")
    expect(u.locator(".msg")).to_have_count(4)
    send_button = u.locator("[data-send]")
    expect(send_button).to_have_text(COUNTDOWN)
    expect(send_button).to_be_disabled()
    first = int(send_button.inner_text().split("초")[0])
    assert 2 <= first <= 30
    u.wait_for_timeout(1500)
    assert int(send_button.inner_text().split("초")[0]) < first
    send(u, "기다리기 싫어요")  # Enter while counting down sends nothing
    u.wait_for_timeout(500)
    expect(u.locator(".msg")).to_have_count(4)
    expect(body).to_have_value("기다리기 싫어요")
    screenshot(u, "moderation-slow-mode-phone")
    # After a reload the page does not know it sent: the server's slow_mode says how long.
    u.reload()
    expect(u.locator("#room")).to_have_attribute("data-state", "open")
    send(u, "또 보내요")
    expect(u.locator("[data-send-status]")).to_have_text(
        re.compile(r"^슬로 모드예요\. \d{1,2}초 후에 다시 보내 주세요\.$")
    )
    expect(send_button).to_have_text(COUNTDOWN)
    expect(body).to_have_value("또 보내요")  # kept for when the time comes
    # The owner and moderators are exempt.
    send(o, "방장은 바로")
    expect(o.locator("#composer-body")).to_have_value("")
    send(o, "또 바로")
    expect(o.locator("#composer-body")).to_have_value("")
    expect(o.locator("[data-send]")).to_have_text("보내기")
    expect(u.locator(".msg")).to_have_count(6)

    # The moderator kicks the member from the "접속 중" list.
    m.get_by_role("button", name=re.compile("접속 중")).click()
    who = m.get_by_role("region", name="접속 중인 멤버")
    expect(
        who.locator(".who__member", has_text="방장님").get_by_role("img", name="방장")
    ).to_be_visible()
    who.get_by_role("button", name="회원").click()
    who.get_by_role("menu", name="회원님 메뉴").get_by_role("menuitem", name="강퇴").click()
    removed = u.locator("[data-removed]")
    expect(removed).to_be_visible()
    expect(u.locator("[data-removed-text]")).to_have_text("이 방에서 강퇴되었어요")
    expect(u.locator("#room")).to_have_attribute("data-state", "closed")
    expect(body).to_be_disabled()
    expect(u.locator("[data-conn-status]")).to_be_hidden()
    for page in (o, m):
        expect(last_line(page)).to_have_text("회원님이 강퇴되었어요")
    screenshot(u, "moderation-kicked-phone")
    u.wait_for_timeout(3000)  # no reconnecting by itself
    expect(u.locator("#room")).to_have_attribute("data-state", "closed")
    u.get_by_role("button", name="다시 들어가기").click()  # a kick is not a ban
    expect(u.locator("#room")).to_have_attribute("data-state", "open")
    expect(removed).to_be_hidden()
    kinds = list(ModerationAction.objects.filter(room=room).values_list("kind", flat=True))
    assert kinds == ["moderator_added", "muted", "slow_mode", "unmuted", "kicked"]


def test_a_ban_with_a_reason_keeps_the_member_out_until_the_owner_lifts_it(live, browsers):
    owner = make_user(nickname="방장님")
    room = make_room(owner=owner)
    member = make_user(nickname="도배꾼")
    o = open_room(browsers.page(owner), room)
    u = open_room(browsers.page(member), room)
    send(u, "도배 1")
    expect(o.locator(".msg")).to_have_count(1)

    # The owner deletes the message (the room sees who did) and bans its author with a reason.
    message = o.locator(".msg").first
    message.hover()
    message.get_by_role("button", name="삭제", exact=True).click()
    o.get_by_role("dialog", name="이 메시지를 삭제할까요?").get_by_role(
        "button", name="삭제", exact=True
    ).click()
    for page in (o, u):
        expect(page.locator(".msg__body").first).to_have_text("방장이 삭제한 메시지예요.")
    menu = member_menu(o, "도배꾼")
    menu.get_by_role("menuitem", name="차단…").click()
    ask = o.get_by_role("dialog", name="도배꾼님을 이 방에서 차단할까요?")
    expect(ask).to_be_visible()
    ask.get_by_label("차단 이유 (선택)").fill("도배")
    ask.get_by_role("button", name="차단").click()
    expect(ask).to_be_hidden()
    expect(last_line(o)).to_have_text("도배꾼님이 차단되었어요: 도배")
    expect(u.locator("[data-removed-text]")).to_have_text("이 방에서 차단되었어요: 도배")
    expect(u.get_by_role("button", name="다시 들어가기")).to_be_hidden()
    expect(u.locator("#composer-body")).to_be_disabled()
    u.reload()  # refused when it opens, with the reason
    expect(u.locator("[data-removed-text]")).to_have_text("이 방에서 차단되었어요: 도배")
    expect(u.locator("#room")).to_have_attribute("data-state", "closed")
    assert ChatMessage.objects.get(room=room).deleted_by == "owner"

    o.get_by_role("button", name="방 관리").click()
    panel = o.get_by_role("dialog", name="방 관리")
    banned = panel.locator('[data-mod-list="banned"] li')
    expect(banned).to_have_count(1)
    expect(banned).to_contain_text("도배꾼")
    expect(banned).to_contain_text("사유: 도배")
    panel.get_by_role("button", name="도배꾼님 차단 해제").click()
    expect(banned).to_have_count(0)
    expect(last_line(o)).to_have_text("도배꾼님의 차단이 풀렸어요")
    o.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    u.reload()
    expect(u.locator("#room")).to_have_attribute("data-state", "open")
    send(u, "다시 왔어요")
    expect(o.locator(".msg")).to_have_count(2)


def test_a_member_reports_a_message_once_from_its_action_bar(live, browsers):
    room = make_room()
    author, reader = make_user(nickname="글쓴이"), make_user(nickname="신고자")
    a = open_room(browsers.page(author), room)
    r = open_room(browsers.page(reader), room)
    send(a, "신고당할 말")
    message = r.locator(".msg").first
    expect(message).to_be_visible()
    expect(a.locator(".msg").first.get_by_role("button", name="이 메시지 신고")).to_have_count(0)

    message.hover()
    message.get_by_role("button", name="이 메시지 신고").click()
    ask = r.get_by_role("dialog", name="이 메시지를 신고할까요?")
    expect(ask).to_be_visible()
    expect(ask.locator("[data-reason-quote]")).to_have_text("글쓴이: 신고당할 말")
    ask.get_by_role("button", name="신고").click()  # a reason is required
    expect(ask.get_by_role("alert")).to_have_text("이유를 적어 주세요.")
    ask.get_by_label("신고 이유").fill("욕설")
    ask.get_by_label("신고 이유").press("Enter")
    expect(ask).to_be_hidden()
    expect(r.locator("[data-toast]")).to_have_text("신고했어요. 알려 줘서 고마워요.")
    report = MessageReport.objects.get()
    assert (report.reason, report.reporter_id) == ("욕설", reader.pk)

    message.hover()
    message.get_by_role("button", name="이 메시지 신고").click()
    ask.get_by_label("신고 이유").fill("한 번 더")
    ask.get_by_role("button", name="신고").click()
    expect(r.locator("[data-toast]")).to_have_text("이미 신고한 메시지예요.")
    message.hover()
    message.get_by_role("button", name="이 메시지 신고").click()
    ask.get_by_role("button", name="취소").click()
    expect(ask).to_be_hidden()
    assert MessageReport.objects.count() == 1
