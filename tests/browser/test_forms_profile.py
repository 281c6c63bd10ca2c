"""Forms that forgive, in Chromium: errors next to their fields, every one at once, gone as soon
as the field is right (without sending the form); the page still works without JavaScript.
A profile worth opening: the member's rooms, captions with their likes, awards, the edit link.
Screenshots of both on a phone and a desktop in test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chat.models import RoomMember
from comments.models import AwardRecord
from tests.conftest import make_comment, make_hakwon, make_room, make_user

from .conftest import DESKTOP, PHONE, screenshot

pytestmark = pytest.mark.browser

GOOD_PASSWORD = "a-long-enough-pw-9"


def error_of(page, field_id: str):
    return page.locator(f"#{field_id}_error .field__error")


def test_sign_up_errors_show_all_at_once_and_clear_as_soon_as_each_field_is_right(live, browsers):
    page = browsers.page()
    page.goto("/accounts/signup/")
    page.get_by_label("아이디").fill("newbie")
    page.get_by_label("닉네임").fill("새내기")
    page.get_by_label("비밀번호", exact=True).fill("short")
    page.get_by_label("비밀번호 확인").fill("other")
    page.get_by_role("button", name="가입하기").click()

    # Both problems at once, each under its own field; nothing was sent.
    expect(error_of(page, "id_password1")).to_have_text(re.compile("너무 짧아요"))
    expect(error_of(page, "id_password2")).to_have_text("두 비밀번호가 달라요.")
    assert page.url.endswith("/accounts/signup/")
    expect(page.locator("#id_password1")).to_be_focused()
    expect(page.locator("#id_password1")).to_have_attribute("aria-invalid", "true")
    described = page.locator("#id_password1").get_attribute("aria-describedby").split()
    assert "id_password1_error" in described

    # Fixed while typing: the error goes at once, no blur, no submit.
    page.locator("#id_password1").press_sequentially("1")  # "short1": still too short
    expect(error_of(page, "id_password1")).to_have_text(re.compile("너무 짧아요"))
    page.locator("#id_password1").press_sequentially("23")  # "short123": long enough
    expect(error_of(page, "id_password1")).to_have_count(0)
    expect(page.locator("#id_password1")).not_to_have_attribute("aria-invalid", "true")
    expect(error_of(page, "id_password2")).to_have_count(1)  # still different
    page.locator("#id_password1").fill(GOOD_PASSWORD)
    page.locator("#id_password2").fill(GOOD_PASSWORD)
    expect(error_of(page, "id_password2")).to_have_count(0)
    page.get_by_role("button", name="가입하기").click()
    expect(page.locator(".site-account__me")).to_have_text("새내기")


def test_errors_only_the_server_can_find_are_next_to_their_fields_and_go_once_changed(
    live, browsers
):
    make_user(username="taken")
    shots = {}
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browsers.page(viewport=viewport)
        page.goto("/accounts/signup/")
        page.get_by_label("아이디").fill("taken")
        page.get_by_label("닉네임").fill("새내기")
        page.get_by_label("비밀번호", exact=True).fill("password123")  # a common one
        page.get_by_label("비밀번호 확인").fill("password123")
        page.get_by_role("button", name="가입하기").click()
        expect(error_of(page, "id_username")).to_have_text("이미 쓰이고 있는 아이디예요.")
        expect(error_of(page, "id_password1")).to_have_text(re.compile("흔한 비밀번호"))
        # Kept: the name and nickname; not kept: the passwords. Focus on the first to fix.
        expect(page.get_by_label("아이디")).to_have_value("taken")
        expect(page.get_by_label("닉네임")).to_have_value("새내기")
        expect(page.get_by_label("비밀번호", exact=True)).to_have_value("")
        expect(page.get_by_label("아이디")).to_be_focused()
        summary = page.locator("[data-form-errors]")
        expect(summary.get_by_role("link")).to_have_text(["아이디", "비밀번호"])
        shots[name] = screenshot(page, f"forms-signup-errors-{name}")

    # The page of the last pass (phone): the summary's links lead into the fields...
    summary.get_by_role("link", name="비밀번호").click()
    expect(page.get_by_label("비밀번호", exact=True)).to_be_focused()
    # ... and each error goes as its field changes.
    page.get_by_label("아이디").press("End")
    page.get_by_label("아이디").press_sequentially("2")
    expect(error_of(page, "id_username")).to_have_count(0)
    expect(summary.get_by_role("link")).to_have_text(["비밀번호"])
    page.get_by_label("비밀번호", exact=True).fill(GOOD_PASSWORD)
    expect(error_of(page, "id_password1")).to_have_count(0)
    expect(summary).to_have_count(0)  # nothing left to fix
    assert all(path.exists() for path in shots.values())


def test_without_javascript_the_server_shows_every_error_itself(live, browsers):
    context = browsers.browser.new_context(
        base_url=browsers.base, viewport=DESKTOP, java_script_enabled=False, locale="ko-KR"
    )
    page = browsers.watched.watch(context.new_page())
    page.goto("/accounts/signup/")
    page.get_by_label("아이디").fill("plain")
    # Nothing the browser's own checks stop: a common password, a different confirmation.
    page.get_by_label("비밀번호", exact=True).fill("password123")
    page.get_by_label("비밀번호 확인").fill("password124")
    page.get_by_role("button", name="가입하기").click()
    expect(error_of(page, "id_password1")).to_have_text(re.compile("흔한 비밀번호"))
    expect(error_of(page, "id_password2")).to_have_text("두 비밀번호가 달라요.")
    expect(page.get_by_label("아이디")).to_have_value("plain")
    context.close()


def test_profile_and_room_forms_clear_their_errors_while_typing(live, browsers):
    member = make_user()
    page = browsers.page(member)
    page.goto("/accounts/profile/")
    page.get_by_label("닉네임").fill("")
    page.get_by_label("프로필 이미지 주소").fill("not a link")
    page.get_by_role("button", name="저장").click()
    expect(error_of(page, "id_nickname")).to_have_text("꼭 입력해 주세요.")
    expect(error_of(page, "id_profile_path")).to_have_text("http(s) 주소만 쓸 수 있어요.")
    page.get_by_label("닉네임").press_sequentially("새 이름")
    expect(error_of(page, "id_nickname")).to_have_count(0)
    page.get_by_label("프로필 이미지 주소").fill("https://img.test/me.png")
    expect(error_of(page, "id_profile_path")).to_have_count(0)

    page.goto("/rooms/new/")
    page.get_by_role("button", name="만들기").click()
    expect(error_of(page, "id_name")).to_have_text("꼭 입력해 주세요.")
    expect(page.get_by_label("방 이름")).to_be_focused()
    page.get_by_label("방 이름").press_sequentially("고양이")
    expect(error_of(page, "id_name")).to_have_count(0)


def test_a_profile_shows_rooms_captions_with_likes_and_awards(live, browsers):
    member = make_user(nickname="짤장인", profile_message="웃긴 짤 모아요")
    make_room(owner=member, name="고양이 짤방")
    joined = make_room(name="강아지 짤방")
    RoomMember.objects.create(room=joined, user=member)
    yesterday, today = make_hakwon(state="DONE"), make_hakwon()
    best = make_comment(hakwon=yesterday, author=member, content="월요일 아침의 나", likes=12)
    make_comment(hakwon=today, author=member, content="퇴근 5분 전", likes=3)
    AwardRecord.objects.create(hakwon=yesterday, user=member, comment=best, rank=1, like_count=12)

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browsers.page(member, viewport=viewport)
        page.goto(f"/members/{member.username}/")
        for heading in ("만든 방", "참여한 방", "최근에 쓴 제목", "제목학원 수상 기록"):
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.get_by_role("link", name="고양이 짤방")).to_be_visible()
        expect(page.get_by_role("link", name="강아지 짤방")).to_be_visible()
        captions = page.locator(".caption-item")
        expect(captions).to_have_count(2)
        expect(captions.first).to_contain_text("퇴근 5분 전")
        expect(captions.first).to_contain_text("좋아요 3")
        expect(captions.nth(1)).to_contain_text("좋아요 12")
        expect(page.locator(".award")).to_contain_text("1위")
        expect(page.get_by_role("link", name="프로필 수정")).to_be_visible()
        screenshot(page, f"profile-{name}")

    # Someone else sees the same sections, without the edit link; the caption leads to its day.
    page = browsers.page(make_user())
    page.goto(f"/members/{member.username}/")
    expect(page.get_by_role("link", name="프로필 수정")).to_have_count(0)
    page.locator(".caption-item").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/hakwon/{today.pk}/$"))
