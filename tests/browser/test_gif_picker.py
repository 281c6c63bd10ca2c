"""The room's GIF picker, in Chromium against the real stack: an upload sent at once, the room's
GIFs sent again in one click, a drop and a paste, what is refused, and who sees the picker."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from chat.models import ChatMessage
from tests.conftest import make_room, make_user
from uploads.models import Upload

from .conftest import PHONE, screenshot

pytestmark = pytest.mark.browser

UNSUPPORTED = "GIF, PNG, JPEG, WebP 이미지만 올릴 수 있어요."
# The img is there and its pixels arrived (a broken image has naturalWidth 0).
LOADED = "img => img.complete && img.naturalWidth > 0"


def animated_gif(path: Path, *, frames: int = 4, size=(160, 90)) -> Path:
    """A real animated GIF: a ball crossing a coloured background, one position per frame."""
    images = []
    for i in range(frames):
        image = Image.new("RGB", size, (40 + 50 * i, 120, 200 - 40 * i))
        x = 10 + i * (size[0] - 40) // max(1, frames - 1)
        ImageDraw.Draw(image).ellipse((x, 30, x + 30, 60), fill=(255, 220, 0))
        images.append(image)
    images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0)
    return path


def png_bytes(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 160, 90)).save(out, "PNG")
    return out.getvalue()


def open_room(page: Page, room) -> Page:
    page.goto(f"/rooms/{room.pk}/")
    expect(page.locator("#room")).to_have_attribute("data-state", "open")
    return page


def open_picker(page: Page) -> None:
    page.locator("[data-gif-toggle]").click()
    expect(page.locator("[data-gif-panel]")).to_be_visible()
    expect(page.locator("[data-gif-toggle]")).to_have_attribute("aria-expanded", "true")


def gif_images(page: Page):
    return page.locator(".msg img.msg__gif")


def gif_sources(page: Page) -> list[str]:
    return gif_images(page).evaluate_all("imgs => imgs.map((img) => img.getAttribute('src'))")


def test_an_uploaded_gif_is_sent_at_once_and_the_room_can_send_it_again(live, browsers, tmp_path):
    room = make_room(name="움짤방")
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    a = open_room(browsers.page(alice), room)
    b = open_room(browsers.page(bob), room)

    # The send box is one line by default; the address field lives in the closed picker.
    expect(a.locator("#composer-gif")).to_be_hidden()
    open_picker(a)
    expect(a.get_by_text("아직 올린 GIF가 없어요.")).to_be_visible()
    a.locator("[data-gif-file]").set_input_files(animated_gif(tmp_path / "dance.gif"))

    # Picking the file is the whole action: it is uploaded and sent, the panel closes.
    for page in (a, b):
        expect(gif_images(page)).to_have_count(1)
    expect(a.locator("[data-gif-panel]")).to_be_hidden()
    upload = Upload.objects.get(owner=alice)
    assert (upload.width, upload.height, upload.frames) == (160, 90, 4)
    shown = gif_images(b).first
    expect(shown).to_have_attribute("src", upload.url)
    assert upload.url.startswith("/media/")
    # Its size is known before it loads (fit in 240 px: already smaller), the ratio kept.
    expect(shown).to_have_attribute("width", "160")
    expect(shown).to_have_attribute("height", "90")
    expect(shown).to_have_attribute("alt", "GIF")
    shown.scroll_into_view_if_needed()
    b.wait_for_function(LOADED, arg=shown.element_handle())
    box = shown.bounding_box()
    assert box and abs(box["width"] / box["height"] - 160 / 90) < 0.05
    expect(b.locator(".msg").first.locator(".msg__author")).to_have_text("앨리스")

    # What the page shows is the animated GIF itself, served with its type.
    served = b.request.get(shown.get_attribute("src"))
    assert served.ok and served.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(served.body())) as image:
        assert image.format == "GIF" and image.n_frames > 1

    # Bob: "이 방의 GIF" lists it (a still thumbnail, a button with a name); one click sends it.
    open_picker(b)
    expect(b.get_by_text("아직 올린 GIF가 없어요.")).to_be_visible()  # his own list
    b.get_by_role("tab", name="이 방의 GIF").click()
    room_list = b.locator("#gif-list-room")
    expect(room_list).to_be_visible()
    items = room_list.get_by_role("button", name="GIF 보내기")
    expect(items).to_have_count(1)
    expect(items.first).to_have_accessible_name("GIF 보내기 (1번째, 160\u00d790)")
    thumb = items.first.locator("img")
    expect(thumb).to_have_attribute("src", upload.thumb_url)
    b.wait_for_function(LOADED, arg=thumb.element_handle())
    b.set_viewport_size(PHONE)
    screenshot(b, "room-gif-picker-phone")
    items.first.click()

    for page in (a, b):
        expect(gif_images(page)).to_have_count(2)
        assert gif_sources(page) == [upload.url, upload.url]
    expect(a.locator(".msg").nth(1).locator(".msg__author")).to_have_text("밥")
    expect(b.locator("[data-gif-panel]")).to_be_hidden()
    sent = ChatMessage.objects.filter(room=room).order_by("seq")
    assert [(m.sender_id, m.gif_upload_id, m.body) for m in sent] == [
        (alice.pk, upload.pk, ""),
        (bob.pk, upload.pk, ""),
    ]
    screenshot(a, "room-gifs")

    # The keyboard: the picker opens on its tab, the arrow keys switch lists, Escape closes it
    # and gives the focus back to its button.
    toggle = a.locator("[data-gif-toggle]")
    toggle.focus()
    a.keyboard.press("Enter")
    expect(a.get_by_role("tab", name="내 GIF")).to_be_focused()
    a.keyboard.press("ArrowRight")
    expect(a.get_by_role("tab", name="이 방의 GIF")).to_have_attribute("aria-selected", "true")
    expect(a.locator("#gif-list-room").get_by_role("button", name="GIF 보내기")).to_have_count(1)
    a.keyboard.press("Escape")
    expect(a.locator("[data-gif-panel]")).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    # Both reload: the history draws the same GIFs, at their size.
    b.reload()
    expect(gif_images(b)).to_have_count(2)
    expect(gif_images(b).first).to_have_attribute("width", "160")


def test_a_text_file_named_gif_is_refused_and_nothing_is_sent(live, browsers, tmp_path):
    room, member = make_room(), make_user()
    page = open_room(browsers.page(member), room)
    fake = tmp_path / "not-really.gif"
    fake.write_text("이건 GIF가 아니에요\n" * 20, encoding="utf-8")

    open_picker(page)
    page.locator("[data-gif-file]").set_input_files(fake)
    status = page.locator("[data-send-status]")
    expect(status).to_have_text(UNSUPPORTED)
    expect(status).to_have_class("composer__status composer__status--error")
    screenshot(page, "room-gif-unsupported")
    # Chromium logs the refused upload's 400 to the console: the one error this test expects.
    refused = [
        e for e in browsers.watched.errors if "400 (Bad Request)" in e and "/api/media/" in e
    ]
    assert len(refused) == 1, browsers.watched.errors
    browsers.watched.errors.remove(refused[0])

    # A file over the server's limit is refused before it is sent anywhere.
    huge = tmp_path / "huge.gif"
    huge.write_bytes(b"GIF89a" + bytes(10_000_000))
    page.locator("[data-gif-file]").set_input_files(huge)
    expect(status).to_have_text("파일이 너무 커요 (최대 10MB).")

    # Nothing went out: the next message is the room's first.
    page.locator("#composer-body").fill("텍스트는 보내져요")
    page.locator("#composer-body").press("Enter")
    expect(page.locator(".msg__body")).to_have_text(["텍스트는 보내져요"])
    expect(status).to_be_hidden()
    assert not Upload.objects.exists()
    assert ChatMessage.objects.filter(room=room).count() == 1
    assert ChatMessage.objects.get(room=room).gif_upload_id is None

    # The old address field is the picker's "주소로 보내기": it goes with the box's text, as
    # before. Typed and left in the closed panel, the GIF button shows it waits; a wrong one
    # opens the panel again to fix it.
    gif = f"{live.web.http}/static/img/sample-zzal.svg"
    open_picker(page)
    address = page.get_by_label("주소로 보내기")
    address.fill("ftp://example.com/a.gif")
    address.press("Escape")
    expect(page.locator("[data-gif-panel]")).to_be_hidden()
    expect(page.locator("[data-gif-toggle]")).to_have_class(re.compile(r"\bgif-toggle--armed\b"))
    page.locator("#composer-body").fill("주소도 같이")
    page.locator("#composer-body").press("Enter")
    expect(status).to_contain_text("http:// 또는 https://")
    expect(address).to_be_focused()
    address.fill(gif)
    page.locator("[data-gif-url-send]").click()
    expect(gif_images(page)).to_have_count(1)
    expect(gif_images(page)).to_have_attribute("src", gif)
    expect(page.locator(".msg__body")).to_have_text(["텍스트는 보내져요", "주소도 같이"])
    expect(page.locator("[data-gif-panel]")).to_be_hidden()
    expect(page.locator("#composer-gif")).to_have_value("")
    expect(page.locator("[data-gif-toggle]")).not_to_have_class(
        re.compile(r"\bgif-toggle--armed\b")
    )


def test_a_dropped_file_and_a_pasted_image_are_sent_at_once(live, browsers, tmp_path):
    room, alice, bob = make_room(), make_user(), make_user()
    a = open_room(browsers.page(alice), room)
    b = open_room(browsers.page(bob), room)
    gif = base64.b64encode(animated_gif(tmp_path / "drop.gif", frames=3).read_bytes()).decode()

    # A file dragged from the desktop onto the send box (the picker closed).
    dragged = a.evaluate_handle(
        """([data, name, type]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            return transfer;
        }""",
        [gif, "drop.gif", "image/gif"],
    )
    a.locator("#composer-body").dispatch_event("dragover", {"dataTransfer": dragged})
    expect(a.locator("[data-composer]")).to_have_class(re.compile(r"\bcomposer--drop\b"))
    a.locator("#composer-body").dispatch_event("drop", {"dataTransfer": dragged})
    expect(a.locator("[data-composer]")).not_to_have_class(re.compile(r"\bcomposer--drop\b"))
    expect(gif_images(b)).to_have_count(1)

    # An image pasted into the box while typing: sent alone, the text stays for later.
    a.locator("#composer-body").fill("아직 안 보낸 글")
    a.locator("#composer-body").evaluate(
        """(box, data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "image.png", { type: "image/png" }));
            box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true,
                                                            cancelable: true }));
        }""",
        base64.b64encode(png_bytes()).decode(),
    )
    expect(gif_images(b)).to_have_count(2)
    expect(gif_images(b).nth(1)).to_have_attribute("alt", "이미지")
    expect(a.locator("#composer-body")).to_have_value("아직 안 보낸 글")
    uploads = list(Upload.objects.filter(owner=alice).order_by("created_at"))
    assert [u.content_type for u in uploads] == ["image/gif", "image/png"]
    assert gif_sources(b) == [u.url for u in uploads]

    # Both are in Alice's "내 GIF", newest first.
    open_picker(a)
    mine = a.locator("#gif-list-mine [data-gif-id]")
    expect(mine).to_have_count(2)
    assert [el.get_attribute("data-gif-id") for el in mine.all()] == [
        str(u.id) for u in reversed(uploads)
    ]


def test_the_picker_is_not_there_for_a_reader_who_is_not_logged_in(live, browsers):
    room = make_room()
    page = open_room(browsers.page(), room)
    expect(page.locator(".composer--guest")).to_contain_text("로그인")
    for absent in ("[data-gif-toggle]", "[data-gif-panel]", "#composer-gif", "[data-gif-file]"):
        expect(page.locator(absent)).to_have_count(0)
