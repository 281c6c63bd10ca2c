"""Signing up, logging in and out, the profile; the page-wide safety rules (CSP, CSRF)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.conftest import make_hakwon, make_room, make_user

from .conftest import login

pytestmark = pytest.mark.browser


def test_sign_up_edit_the_profile_log_out_and_in(live, browsers):
    page = browsers.page()
    page.goto("/")
    page.get_by_role("link", name="회원가입").click()
    page.get_by_label("아이디").fill("newbie")
    page.get_by_label("닉네임").fill("새내기")
    page.get_by_label("비밀번호", exact=True).fill("short")
    page.get_by_label("비밀번호 확인").fill("short")
    page.get_by_role("button", name="가입하기").click()
    expect(page.locator(".field__error").first).to_be_visible()  # too short: stays, says why
    page.get_by_label("비밀번호", exact=True).fill("a-long-enough-pw-9")
    page.get_by_label("비밀번호 확인").fill("a-long-enough-pw-9")
    page.get_by_role("button", name="가입하기").click()
    expect(page.locator(".site-account__me")).to_have_text("새내기")
    assert User.objects.get(username="newbie").nickname == "새내기"

    page.locator(".site-account__me").click()
    expect(page.locator(".profile__name")).to_have_text("새내기")
    expect(page.get_by_text("아직 수상 기록이 없어요.")).to_be_visible()
    page.get_by_role("link", name="프로필 수정").click()
    page.get_by_label("닉네임").fill("헌내기")
    page.get_by_label("프로필 이미지 주소").fill(f"{live.web.http}/static/img/sample-zzal.svg")
    page.get_by_label("한 줄 소개").fill("짤 수집가")
    page.get_by_role("button", name="저장").click()
    expect(page.locator(".profile__name")).to_have_text("헌내기")
    expect(page.locator(".profile__message")).to_have_text("짤 수집가")
    expect(page.locator("img.avatar")).to_be_visible()

    page.get_by_role("button", name="로그아웃").click()
    expect(page.get_by_role("link", name="로그인", exact=True)).to_be_visible()
    login(page, "newbie", "a-long-enough-pw-9")
    expect(page.locator(".site-account__me")).to_have_text("헌내기")


def test_pages_send_a_strict_csp_and_every_post_form_carries_a_csrf_token(live, browsers):
    member = make_user(staff=True, is_superuser=True)
    room = make_room(owner=member)
    hakwon = make_hakwon(image_url=f"{live.web.http}/static/img/sample-zzal.svg")
    page = browsers.page(member)
    paths = [
        "/",
        "/rooms/new/",
        f"/rooms/{room.pk}/",
        f"/hakwon/{hakwon.pk}/",
        f"/members/{member.username}/",
        "/accounts/profile/",
        "/admin/chat/chatroom/",
        "/api/docs/",
    ]
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp, csp
        assert "frame-ancestors 'none'" in csp
        for form in page.locator("form[method=post]").all():
            assert form.locator("input[name=csrfmiddlewaretoken]").count() == 1, path
        # Inline code would be refused by the CSP; there must be none to refuse.
        inline = page.locator("script:not([src]):not([type='application/json'])").count()
        assert inline == 0, path
    # A forged form post (no token) is refused.
    forged = page.request.post(f"{live.web.http}/rooms/new/", form={"name": "가짜"})
    assert forged.status == 403
    # The page's own like button is a form post with the token: it works.
    page.goto("/")
    page.get_by_role("button", name=re.compile("좋아요")).click()
    expect(page.locator("[data-like-count]")).to_have_text("1")
