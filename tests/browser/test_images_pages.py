"""Every image on every page loads, offline: the demo data (images drawn in code) on the pages
a visitor and the demo member see; an image that cannot load (an old http address) becomes a
placeholder that says so, never a broken frame."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from accounts.models import User
from chat.models import ChatRoom
from chat.services import room_create
from comments.models import TitleHakwon
from comments.selectors import hakwon_today
from tests.conftest import make_user

from .conftest import PHONE, login, screenshot

pytestmark = pytest.mark.browser

FAILED = "이미지를 불러오지 못했어요"
GONE = "https://img.test/gone.gif"  # a host this machine cannot resolve: it fails to load
SETTLED = "() => [...document.images].every(i => i.complete)"
BROKEN = """() => [...document.images]
    .filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.getAttribute('src'))"""


def images_of(page: Page, path: str) -> dict:
    """Open a page, let every image load or fail (lazy ones scrolled to), and say which loaded,
    which are broken, and which were replaced by a placeholder."""
    page.goto(path)
    page.wait_for_load_state("load")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    try:
        page.wait_for_function(SETTLED, timeout=10_000)
    except PlaywrightTimeout:
        pass  # reported below as broken
    return {
        "loaded": page.evaluate("() => [...document.images].map(i => i.getAttribute('src'))"),
        "broken": page.evaluate(BROKEN),
        "placeholders": page.locator("[data-img-fallback]").evaluate_all(
            "els => els.map(e => e.dataset.imgFallback)"
        ),
    }


def demo_pages() -> list[str]:
    room = ChatRoom.objects.get(name="고독한 고양이방")
    return [
        "/",
        f"/rooms/{room.pk}/",
        "/hakwon/",
        "/members/demo/",
        "/accounts/login/",
        "/accounts/signup/",
    ]


def test_the_demo_pages_show_every_image_logged_out_and_in(live, browsers, settings):
    settings.HAKWON_DEFAULT_IMAGE_URL = ""
    call_command("demo_data", stdout=StringIO())
    room = ChatRoom.objects.get(name="고독한 고양이방")
    member_pages = ["/notifications/", f"/rooms/{room.pk}/edit/", "/accounts/profile/"]

    visitor = browsers.page()
    for path in demo_pages():
        seen = images_of(visitor, path)
        assert seen["broken"] == [] and seen["placeholders"] == [], (path, seen)
    demo = browsers.page()
    login(demo, "demo", "zzalu-demo-1234")
    for path in demo_pages() + member_pages:
        seen = images_of(demo, path)
        assert seen["broken"] == [] and seen["placeholders"] == [], (path, seen)

    # The demo's images are there to be seen: three room cards, the contest, the avatar.
    rooms = images_of(visitor, "/")["loaded"]
    assert len(rooms) == 3 and all(src.startswith("/media/uploads/") for src in rooms)
    today = TitleHakwon.objects.get(open_date=hakwon_today())
    assert images_of(visitor, "/hakwon/")["loaded"] == [today.image.url]
    avatar = User.objects.get(username="demo").avatar
    assert images_of(visitor, "/members/demo/")["loaded"] == [avatar.url]
    visitor.goto("/")
    screenshot(visitor, "demo-room-list")
    visitor.goto("/hakwon/")
    screenshot(visitor, "demo-hakwon")


def test_an_image_that_cannot_load_becomes_a_placeholder(live, browsers, settings):
    settings.HAKWON_DEFAULT_IMAGE_URL = ""
    owner = make_user(profile_path=GONE)
    broken_room = room_create(owner=owner, name="옛날 방", image_url=GONE)
    TitleHakwon.objects.create(open_date=hakwon_today(), state="PROCEED", image_url=GONE)
    page = browsers.page(owner, viewport=PHONE)

    for path in ("/", "/hakwon/", f"/members/{owner.username}/", f"/rooms/{broken_room.pk}/edit/"):
        seen = images_of(page, path)
        assert seen["broken"] == [] and seen["placeholders"] == [GONE], (path, seen)
        holder = page.locator("[data-img-fallback]")
        expect(holder).to_be_visible()
        expect(holder).to_contain_text(FAILED)
        box = holder.bounding_box()
        assert box["width"] > 20 and box["height"] > 20, (path, box)  # keeps the image's place
    page.goto("/hakwon/")
    expect(page.locator(".hakwon__image[data-img-fallback]")).to_have_attribute(
        "aria-label", f"오늘의 짤. 이 짤에 어울리는 제목을 붙여 주세요. ({FAILED})"
    )
    screenshot(page, "image-placeholder-hakwon")
    page.goto("/")
    card = page.locator(f'[data-room-id="{broken_room.pk}"] .room-card__image')
    expect(card).to_have_attribute("title", FAILED)
    screenshot(page, "image-placeholder-rooms")


def test_a_day_made_without_an_image_shows_the_shipped_one(live, browsers, settings):
    settings.HAKWON_DEFAULT_IMAGE_URL = ""
    call_command("hakwon_tick", stdout=StringIO())
    page = browsers.page()
    seen = images_of(page, "/hakwon/")
    assert seen["broken"] == [] and seen["placeholders"] == []
    assert seen["loaded"] == ["/static/img/hakwon-default.gif"]
