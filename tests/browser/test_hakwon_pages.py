"""The title-hakwon page in Chromium: live comments, likes and replies between two readers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from comments.models import Comment
from comments.selectors import hakwon_today
from comments.services import hakwon_close
from tests.conftest import make_comment, make_hakwon, make_user

from .conftest import PHONE, screenshot

pytestmark = pytest.mark.browser


def open_hakwon(page: Page, hakwon=None) -> Page:
    page.goto(f"/hakwon/{hakwon.pk}/" if hakwon else "/hakwon/")
    expect(page.locator("#hakwon")).to_have_attribute("data-state", "open")
    expect(page.locator("[data-comments]")).to_have_attribute("aria-busy", "false")
    return page


def post(page: Page, text: str) -> None:
    page.get_by_label("이 짤의 제목은?").fill(text)
    page.get_by_label("이 짤의 제목은?").press("Enter")


def comment(page: Page, text: str):
    content = page.locator(".comment__content", has_text=text)
    return page.locator(".comments > .comment", has=content)


def test_a_comment_and_a_like_reach_the_other_reader_live(live, browsers):
    image = f"{live.web.http}/static/img/sample-zzal.svg"
    hakwon = make_hakwon(image_url=image, open_date=hakwon_today())
    yesterday = make_hakwon(image_url=image, open_date=hakwon_today() - timedelta(days=1))
    for likes, text in [(12, "월요병 말기"), (7, "나만 고양이 없어"), (3, "알람 끈 사람")]:
        make_comment(hakwon=yesterday, content=text, likes=likes)
    hakwon_close(hakwon=yesterday)
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    a = open_hakwon(browsers.page(alice))
    b = open_hakwon(browsers.page(bob))
    expect(a.locator(".hakwon__image")).to_have_attribute("src", image)
    expect(a.locator(".winners .award__content")).to_have_text(
        ["“월요병 말기”", "“나만 고양이 없어”", "“알람 끈 사람”"]
    )

    post(a, "출근길 내 표정")
    expect(a.get_by_label("이 짤의 제목은?")).to_have_value("")
    for page in (a, b):  # bob is at the top of the list: it goes straight in
        expect(page.locator(".comments > .comment .comment__content")).to_have_text(
            ["출근길 내 표정"]
        )
    mine = Comment.objects.get(hakwon=hakwon)

    comment(b, "출근길 내 표정").get_by_role("button", name=re.compile("좋아요")).click()
    expect(comment(b, "출근길 내 표정").locator("[data-like]")).to_have_attribute(
        "aria-pressed", "true"
    )
    for page in (a, b):
        expect(comment(page, "출근길 내 표정").locator("[data-like-count]")).to_have_text("1")
    # Alice has not liked it herself; only the count changed on her screen.
    expect(comment(a, "출근길 내 표정").locator("[data-like]")).to_have_attribute(
        "aria-pressed", "false"
    )

    # Replies: bob answers, alice's reply count follows live, and she can read it.
    box = comment(b, "출근길 내 표정")
    box.get_by_role("button", name=re.compile("답글")).click()
    box.get_by_label("답글 쓰기").fill("월요일이라 그래")
    box.get_by_label("답글 쓰기").press("Enter")
    expect(box.locator(".comment--reply .comment__content")).to_have_text(["월요일이라 그래"])
    expect(comment(a, "출근길 내 표정").locator("[data-reply-count]")).to_have_text("1")
    comment(a, "출근길 내 표정").get_by_role("button", name=re.compile("답글")).click()
    expect(comment(a, "출근길 내 표정").locator(".comment--reply")).to_have_text(
        re.compile("월요일이라 그래")
    )

    comment(b, "출근길 내 표정").get_by_role("button", name=re.compile("좋아요")).first.click()
    for page in (a, b):  # an unlike travels the same way
        expect(comment(page, "출근길 내 표정").locator("[data-like-count]").first).to_have_text("0")
    assert Comment.objects.get(pk=mine.pk).like_count == 0
    screenshot(a, "hakwon")
    b.set_viewport_size(PHONE)
    screenshot(b, "hakwon-phone")


def test_new_comments_wait_behind_a_button_while_the_reader_is_further_down(live, browsers):
    hakwon = make_hakwon(image_url=f"{live.web.http}/static/img/sample-zzal.svg")
    for i in range(25):
        make_comment(hakwon=hakwon, content=f"기존 캡션 {i}", likes=i % 4)
    writer, reader = make_user(), make_user()
    w = open_hakwon(browsers.page(writer))
    r = open_hakwon(browsers.page(reader))
    expect(r.locator(".comments > .comment")).to_have_count(20)
    r.get_by_role("button", name="댓글 더 보기").click()
    expect(r.locator(".comments > .comment")).to_have_count(25)
    r.locator(".comments > .comment").last.scroll_into_view_if_needed()
    first_before = r.locator(".comments > .comment").first.inner_text()

    post(w, "스크롤 아래에서는 버튼으로")
    button = r.locator("[data-new-comments]")
    expect(button).to_have_text("새 댓글 1개 보기")
    assert r.locator(".comments > .comment").first.inner_text() == first_before  # nothing moved
    post(w, "두 번째 새 댓글")
    expect(button).to_have_text("새 댓글 2개 보기")
    button.click()
    expect(button).to_be_hidden()
    expect(r.locator(".comments > .comment .comment__content").nth(0)).to_have_text(
        "두 번째 새 댓글"
    )
    expect(r.locator(".comments > .comment .comment__content").nth(1)).to_have_text(
        "스크롤 아래에서는 버튼으로"
    )

    # The popular tab orders by likes.
    r.get_by_role("button", name="인기순").click()
    expect(r.get_by_role("button", name="인기순")).to_have_attribute("aria-pressed", "true")
    counts = r.locator(".comments > .comment > .comment__actions [data-like-count]")
    expect(counts.first).to_have_text("3")
    values = [int(c) for c in counts.all_inner_texts()]
    assert values == sorted(values, reverse=True)


def test_past_winners_and_a_closed_hakwon(live, browsers):
    past = make_hakwon(image_url=f"{live.web.http}/static/img/sample-zzal.svg")
    champion = make_user(nickname="캡션장인")
    make_comment(hakwon=past, author=champion, content="금요일 퇴근 5분 전", likes=9)
    make_comment(hakwon=past, content="<b>월요일</b> 아침", likes=4)
    hakwon_close(hakwon=past)
    today = make_hakwon(image_url=f"{live.web.http}/static/img/sample-zzal.svg")

    page = open_hakwon(browsers.page(), today)
    winners = page.locator(".winners")
    expect(winners.locator(".award")).to_have_count(2)
    expect(winners.locator(".award").first).to_contain_text("1위")
    expect(winners.locator(".award").first).to_contain_text("금요일 퇴근 5분 전")
    expect(winners.locator(".award").nth(1)).to_contain_text("<b>월요일</b> 아침")
    # Anonymous: the header's login link and the prompt instead of the comment box.
    expect(page.get_by_role("link", name="로그인", exact=True)).to_have_count(2)

    winners.locator("h3 a").first.click()
    expect(page.locator("[data-closed-banner]")).to_contain_text("마감된 제목학원")
    expect(page.locator("[data-hakwon-state]")).to_have_text("마감")
    expect(page.locator("[data-comment-form]")).to_have_count(0)

    page.goto(f"/members/{champion.username}/")
    expect(page.locator(".profile__name")).to_have_text("캡션장인")
    expect(page.locator(".award")).to_contain_text("금요일 퇴근 5분 전")
