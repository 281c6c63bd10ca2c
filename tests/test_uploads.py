"""Uploads (issue 16): ``POST /api/media/``, the files it serves, the sweep, and GIFs in chat.

Every image here is a real file drawn by Pillow in the test (never canned bytes where Pillow
can make them): each accepted format is stored as a clean copy of the reported size and frames
with a still WebP thumbnail; metadata (EXIF, PNG text, GIF comments) never reaches the stored
file; every refusal (HTML or SVG named .gif, polyglots, bombs, truncated files, each limit) is a
400 with its code and keeps nothing, neither a row nor a file. The served files carry their
type, nosniff, a year of caching and a sandboxing CSP. The sweep removes what nothing
references. On the running stack (Uvicorn, Kafka, relay, Redis): a member uploads over HTTP and
sends the GIF with ``gif_id``; every member's socket, the history, the room's GIF list and a
catch-up show it; a deleted message's GIF goes from all of them.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from PIL import Image, ImageDraw, PngImagePlugin
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from chat.models import ChatMessage, ChatRoom
from comments.models import TitleHakwon
from uploads.models import Upload
from uploads.services import upload_create
from zzalu.api import WriteThrottle

from .conftest import make_hakwon, make_room, make_user, store_messages

SECRETS = {
    "jpeg": b"SecretCam-Maker-9731",
    "png": b"SecretPngText-5521",
    "gif": b"SecretGifComment-8812",
    "webp": b"SecretWebpXmp-4410",
}

# --- images, drawn here ------------------------------------------------------------------------


def frames_of(count: int, size: tuple[int, int], mode: str = "RGB") -> list[Image.Image]:
    """``count`` pictures that differ from one another (a moving square on a shifting tint)."""
    pictures = []
    for i in range(count):
        picture = Image.new(mode, size, (30 + 50 * i % 200, 120, 200, 255)[: len(mode)])
        side = max(1, min(size) // 3)
        x = i * max(1, (size[0] - side) // max(1, count)) % max(1, size[0] - side + 1)
        ImageDraw.Draw(picture).rectangle((x, 0, x + side - 1, side - 1), fill="yellow")
        pictures.append(picture)
    return pictures


def animated_gif(
    frames: int = 3, size: tuple[int, int] = (40, 30), comment: bytes | None = None
) -> bytes:
    pictures = [p.convert("P") for p in frames_of(frames, size)]
    out = io.BytesIO()
    options = {"comment": comment} if comment else {}
    if frames > 1:
        options.update(save_all=True, append_images=pictures[1:], duration=80, loop=0)
    pictures[0].save(out, "GIF", **options)
    return out.getvalue()


def transparent_png(size=(50, 40), text: bytes | None = None) -> bytes:
    picture = Image.new("RGBA", size, (255, 0, 0, 0))  # see-through red
    ImageDraw.Draw(picture).ellipse((5, 5, size[0] - 5, size[1] - 5), fill=(0, 160, 0, 255))
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", text.decode())  # a tEXt chunk
    out = io.BytesIO()
    picture.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def oriented_jpeg(orientation: int = 6, maker: bytes | None = None, size=(64, 32)) -> bytes:
    """A JPEG stored sideways: white in the top-left corner of its stored pixels, and EXIF
    saying "turn me 90 degrees clockwise" (6)."""
    picture = Image.new("RGB", size, (10, 20, 30))
    ImageDraw.Draw(picture).rectangle((0, 0, 9, 9), fill="white")
    exif = Image.Exif()
    exif[0x0112] = orientation
    if maker:
        exif[0x010F] = maker.decode()  # Make
        exif[0x0110] = maker.decode()  # Model
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def still_webp(size=(30, 20), xmp: bytes | None = None) -> bytes:
    out = io.BytesIO()
    options = {"xmp": b"<x:xmpmeta>" + xmp + b"</x:xmpmeta>"} if xmp else {}
    frames_of(1, size)[0].save(out, "WEBP", quality=90, **options)
    return out.getvalue()


def animated_webp(frames: int = 3, size=(30, 20)) -> bytes:
    pictures = frames_of(frames, size, "RGBA")
    out = io.BytesIO()
    pictures[0].save(
        out, "WEBP", save_all=True, append_images=pictures[1:], duration=100, loop=0, lossless=True
    )
    return out.getvalue()


def gif_blocks(data: bytes) -> tuple[bytes, list[bytes]]:
    """A GIF as its header (with the global colour table) and its blocks, trailer left out."""
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    head, blocks = data[:pos], []

    def sub_blocks(at: int) -> int:
        while data[at]:
            at += 1 + data[at]
        return at + 1

    while data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x21:
            pos = sub_blocks(pos + 2)
        else:
            local = data[pos + 9]
            pos = sub_blocks(pos + 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0) + 1)
        blocks.append(data[start:pos])
    return head, blocks


def gif_with_repeated_frames() -> bytes:
    """Three frames, the same picture each time (written by hand: Pillow merges repeats)."""
    head, blocks = gif_blocks(animated_gif(2))
    loop, control, picture = blocks[0], blocks[1], blocks[2]
    assert loop.startswith(b"\x21\xff") and control.startswith(b"\x21\xf9")
    return head + loop + (control + picture) * 3 + b";"


def webp_with_repeated_frames() -> bytes:
    """An animated WebP with its first frame (ANMF chunk) three times."""
    data = animated_webp(2)
    pos, chunks = 12, []
    while pos < len(data):
        (size,) = struct.unpack_from("<I", data, pos + 4)
        end = pos + 8 + size + (size & 1)
        chunks.append(data[pos:end])
        pos = end
    frames = [c for c in chunks if c.startswith(b"ANMF")]
    body = b"WEBP" + b"".join(c for c in chunks if not c.startswith(b"ANMF")) + frames[0] * 3
    return b"RIFF" + struct.pack("<I", len(body)) + body


def gif_cut_mid_frame() -> bytes:
    """An animated GIF cut in the middle of its second frame's picture data."""
    data = animated_gif(3, (60, 40))
    head, blocks = gif_blocks(data)
    pictures = [i for i, block in enumerate(blocks) if block[0] == 0x2C]
    second = pictures[1]
    start = len(head) + sum(len(b) for b in blocks[:second])
    return data[: start + len(blocks[second]) // 2]


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<script>alert(document.cookie)</script>")
    return out.getvalue()


@functools.cache  # two seconds to draw
def huge_bilevel_png() -> bytes:
    """20,000 x 20,000 pixels (400 M, ten times the limit) in about 50 kB: mode "1"."""
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")
    return out.getvalue()


def noise_png_over_10_mb() -> bytes:
    """A real PNG of random pixels, stored uncompressed: just over the default 10 MB."""
    import random

    side = 1850
    pixels = random.Random(16).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, "PNG", compress_level=0)
    return out.getvalue()


# --- helpers -----------------------------------------------------------------------------------


def upload(client, data: bytes, name: str = "image.bin", content_type: str = "image/gif"):
    return client.post(
        "/api/media/",
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def media_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def served(client, url: str):
    """GET a media URL through Django; the response and its body."""
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.status_code == 200 else b""
    return response, body


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def stored_bytes(upload_row: Upload) -> bytes:
    with default_storage.open(upload_row.file.name, "rb") as handle:
        return handle.read()


# --- each accepted type ------------------------------------------------------------------------

ACCEPTED = {
    # name: (bytes, file name, declared type, content_type, width, height, frames)
    "animated_gif": (lambda: animated_gif(4), "a.gif", "image/gif", "image/gif", 40, 30, 4),
    "transparent_png": (transparent_png, "a.png", "image/png", "image/png", 50, 40, 1),
    "jpeg_orientation_6": (oriented_jpeg, "a.jpg", "image/jpeg", "image/jpeg", 32, 64, 1),
    "still_webp": (still_webp, "a.webp", "image/webp", "image/webp", 30, 20, 1),
    "animated_webp": (animated_webp, "b.webp", "image/webp", "image/webp", 30, 20, 3),
    # The name and the declared type count for nothing: the content decides.
    "png_named_gif": (transparent_png, "x.gif", "image/gif", "image/png", 50, 40, 1),
}
FORMATS = {"image/gif": "GIF", "image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


@pytest.mark.parametrize("kind", ACCEPTED)
def test_each_type_is_stored_as_a_clean_copy_of_its_size_with_a_still_thumbnail(
    db, member_api, client, kind
):
    make, name, declared, content_type, width, height, frames = ACCEPTED[kind]
    original = make()
    before = media_files()
    response = upload(member_api, original, name, declared)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "id", "url", "thumb_url", "content_type", "width", "height", "frames", "bytes"
    }  # fmt: skip
    assert (body["content_type"], body["width"], body["height"], body["frames"]) == (
        content_type,
        width,
        height,
        frames,
    )
    row = Upload.objects.get(pk=body["id"])
    assert row.owner == member_api.user
    assert body["url"] == f"{settings.MEDIA_URL}{row.file.name}"
    assert body["thumb_url"] == f"{settings.MEDIA_URL}{row.thumb.name}"
    assert media_files() - before == {row.file.name, row.thumb.name}

    response, content = served(client, body["url"])
    assert response.status_code == 200
    assert len(content) == body["bytes"] and content == stored_bytes(row)
    image = opened(content)
    assert image.format == FORMATS[content_type]
    assert image.size == (width, height)
    assert getattr(image, "n_frames", 1) == frames
    if frames > 1:  # still an animation: the frames differ and keep their timing
        durations, pictures = [], []
        for index in range(frames):
            image.seek(index)
            image.load()
            durations.append(image.info.get("duration"))
            pictures.append(image.convert("RGBA").tobytes())
        assert durations == [80 if image.format == "GIF" else 100] * frames
        assert len(set(pictures)) == frames
        image.seek(0)
    if kind == "transparent_png":
        rgba = image.convert("RGBA")
        assert rgba.getpixel((0, 0))[3] == 0  # still see-through
        assert rgba.getpixel((width // 2, height // 2)) == (0, 160, 0, 255)
    if kind == "jpeg_orientation_6":
        # Turned upright: the white corner, top-left as stored, is now top-right.
        upright = image.convert("L")
        assert upright.getpixel((width - 3, 3)) > 200
        assert upright.getpixel((3, 3)) < 60 and upright.getpixel((3, height - 3)) < 60
        assert image.getexif().get(0x0112, 1) == 1

    response, thumb = served(client, body["thumb_url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    thumbnail = opened(thumb)
    assert thumbnail.format == "WEBP"
    assert getattr(thumbnail, "n_frames", 1) == 1 and not getattr(thumbnail, "is_animated", False)
    assert max(thumbnail.size) <= 320
    assert thumbnail.size == (width, height)  # small ones are not blown up
    if kind == "jpeg_orientation_6":
        assert thumbnail.convert("L").getpixel((width - 3, 3)) > 200  # upright too


def test_the_thumbnail_of_a_big_animation_is_its_first_frame_within_320_px(db, member_api, client):
    response = upload(member_api, animated_gif(3, (400, 700)))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"], body["frames"]) == (400, 700, 3)
    thumb = opened(served(client, body["thumb_url"])[1])
    assert thumb.format == "WEBP" and getattr(thumb, "n_frames", 1) == 1
    assert thumb.size == (183, 320)
    # The first frame: its yellow square is top-left (the later frames' squares moved right).
    r, g, b = thumb.convert("RGB").getpixel((20, 20))
    assert r > 200 and g > 200 and b < 80, (r, g, b)

    wide = io.BytesIO()
    frames_of(1, (1000, 500))[0].save(wide, "PNG")
    response = upload(member_api, wide.getvalue())
    assert response.status_code == 201
    assert opened(served(client, response.json()["thumb_url"])[1]).size == (320, 160)


@pytest.mark.parametrize(
    "make", [gif_with_repeated_frames, webp_with_repeated_frames], ids=["gif", "webp"]
)
def test_an_animation_whose_frames_repeat_is_served_with_the_frames_it_reports(
    db, member_api, client, make
):
    """Three frames showing one picture: the encoders merge repeated frames when the copy is
    written, so the stored file must report the frames it has (or keep them all)."""
    original = make()
    assert Image.open(io.BytesIO(original)).n_frames == 3
    response = upload(member_api, original)
    assert response.status_code == 201, response.content
    body = response.json()
    image = opened(served(client, body["url"])[1])
    assert getattr(image, "n_frames", 1) == body["frames"], (
        f"reported {body['frames']} frames, the served file has {getattr(image, 'n_frames', 1)}"
    )


def test_my_uploads_lists_mine_newest_first(db, member_api):
    first = upload(member_api, animated_gif(2)).json()
    second = upload(member_api, transparent_png()).json()
    other = member_client(make_user())
    upload(other, still_webp())
    listed = member_api.get("/api/media/")
    assert listed.status_code == 200
    assert listed.json()["results"] == [second, first]


def member_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- metadata ----------------------------------------------------------------------------------

WITH_METADATA = {
    "jpeg_exif_maker": (lambda: oriented_jpeg(1, SECRETS["jpeg"]), SECRETS["jpeg"]),
    "png_text_chunk": (lambda: transparent_png(text=SECRETS["png"]), SECRETS["png"]),
    "animated_gif_comment": (lambda: animated_gif(3, comment=SECRETS["gif"]), SECRETS["gif"]),
    "still_gif_comment": (lambda: animated_gif(1, comment=SECRETS["gif"]), SECRETS["gif"]),
    "webp_xmp": (lambda: still_webp(xmp=SECRETS["webp"]), SECRETS["webp"]),
}


@pytest.mark.parametrize("kind", WITH_METADATA)
def test_metadata_never_reaches_the_stored_file(db, member_api, client, kind):
    make, secret = WITH_METADATA[kind]
    original = make()
    assert secret in original  # the test's own file does carry it
    response = upload(member_api, original)
    assert response.status_code == 201, response.content
    row = Upload.objects.get(pk=response.json()["id"])
    stored = stored_bytes(row)
    with default_storage.open(row.thumb.name, "rb") as handle:
        thumb = handle.read()
    assert secret not in stored and secret not in thumb
    assert secret not in served(client, row.url)[1]
    image = opened(stored)
    assert not {"comment", "exif", "xmp", "XML:com.adobe.xmp", "Comment", "icc_profile"} & set(
        image.info
    ), image.info
    if image.format == "JPEG":
        assert dict(image.getexif()) == {}


# --- refusals ----------------------------------------------------------------------------------

GIF = animated_gif(3)
PNG = transparent_png()
JPEG = oriented_jpeg(1)
HTML = b"<!DOCTYPE html><html><body><script>fetch('/api/me/').then(alert)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.domain)</script><rect width='10' height='10'/></svg>"
)

REFUSED = {
    # name: (make bytes, file name, declared type, code, settings)
    "html_named_gif": (lambda: HTML, "evil.gif", "image/gif", "unsupported_media", {}),
    "svg_with_script": (lambda: SVG, "cat.svg", "image/svg+xml", "unsupported_media", {}),
    "svg_named_png": (lambda: SVG, "cat.png", "image/png", "unsupported_media", {}),
    "gif_with_javascript_after_its_trailer": (
        lambda: GIF + b"\n*/=1;alert(document.cookie)//",
        "a.gif", "image/gif", "unsupported_media", {},
    ),
    "png_with_data_after_iend": (
        lambda: PNG + b"<script>alert(1)</script>", "a.png", "image/png", "unsupported_media", {}
    ),
    "png_with_a_second_png_after_iend": (
        lambda: PNG + PNG, "a.png", "image/png", "unsupported_media", {}
    ),
    "jpeg_with_a_zip_appended": (
        lambda: JPEG + zip_archive(), "a.jpg", "image/jpeg", "unsupported_media", {}
    ),
    # A payload that happens to end in FF D9 (the EOI marker) is still after the image's EOI.
    "jpeg_with_a_script_appended_ending_in_ff_d9": (
        lambda: JPEG + b"<script>alert(1)</script>\xff\xd9",
        "a.jpg", "image/jpeg", "unsupported_media", {},
    ),
    "webp_with_data_after_its_riff_size": (
        lambda: still_webp() + b"<script>alert(1)</script>",
        "a.webp", "image/webp", "unsupported_media", {},
    ),
    "png_20000x20000": (huge_bilevel_png, "bomb.png", "image/png", "too_large", {}),
    "gif_cut_mid_frame": (gif_cut_mid_frame, "a.gif", "image/gif", "unsupported_media", {}),
    "gif_cut_before_its_trailer": (lambda: GIF[:-1], "a.gif", "image/gif", "unsupported_media", {}),
    "jpeg_cut_before_its_eoi": (lambda: JPEG[:-2], "a.jpg", "image/jpeg", "unsupported_media", {}),
    "empty_file": (lambda: b"", "a.gif", "image/gif", "unsupported_media", {}),
    "over_10_mb_png": (noise_png_over_10_mb, "big.png", "image/png", "too_large", {}),
    "one_byte_over_max_bytes": (
        lambda: GIF, "a.gif", "image/gif", "too_large", {"MEDIA_MAX_BYTES": len(GIF) - 1}
    ),
    "one_frame_over_max_frames": (
        lambda: GIF, "a.gif", "image/gif", "too_large", {"MEDIA_MAX_FRAMES": 2}
    ),
    "one_pixel_over_max_pixels": (
        lambda: GIF, "a.gif", "image/gif", "too_large", {"MEDIA_MAX_PIXELS": 40 * 30 - 1}
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", REFUSED)
def test_a_refused_file_is_a_400_with_its_code_and_nothing_is_kept(db, member_api, kind):
    make, name, declared, code, limits = REFUSED[kind]
    data = make()
    before = media_files()
    with override_settings(**limits):
        response = upload(member_api, data, name, declared)
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response.json().get("code") == code, response.json()
    assert not Upload.objects.exists()
    assert media_files() == before


def test_each_limit_takes_a_file_right_at_it(db, member_api):
    """The limits refuse what is over them, not what is at them (the refusals above are one
    over each)."""
    limits = {"MEDIA_MAX_BYTES": len(GIF), "MEDIA_MAX_FRAMES": 3, "MEDIA_MAX_PIXELS": 40 * 30}
    with override_settings(**limits):
        response = upload(member_api, GIF)
    assert response.status_code == 201, response.content
    assert (response.json()["frames"], response.json()["width"]) == (3, 40)


def test_anonymous_cannot_upload_or_list(db, api):
    before = media_files()
    response = upload(api, GIF)
    assert response.status_code == 401
    assert api.get("/api/media/").status_code == 401
    assert not Upload.objects.exists() and media_files() == before


# --- over HTTP, against the running web server -------------------------------------------------


def http(url: str, *, method: str = "GET", data: bytes | None = None, headers=None):
    """(status, headers, body) of a request to the running stack."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def http_upload(web, user, data: bytes, name: str = "a.gif", content_type: str = "image/gif"):
    """POST /api/media/ as a browser would: multipart, the member's bearer token."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, headers, content = http(
        f"{web.http}/api/media/",
        method="POST",
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Bearer {AccessToken.for_user(user)}",
        },
    )
    return status, headers, json.loads(content) if content else None


@pytest.mark.services  # its own clients, and the throttle's buckets in Redis
def test_the_upload_throttle_answers_429_past_its_rate(db, monkeypatch):
    """With the "uploads" rate (API_UPLOAD_THROTTLE) at 2/min, a member's third upload in a
    minute is a 429 and keeps nothing; another member is not held up by it. The buckets are
    the real ones, in Redis."""
    monkeypatch.setattr(
        WriteThrottle, "THROTTLE_RATES", {**WriteThrottle.THROTTLE_RATES, "uploads": "2/min"}
    )
    member, other = make_user(), make_user()
    for user in (member, other):  # the ids of an earlier test's members may come back (SQLite)
        cache.delete(f"throttle_uploads_{user.pk}")
    client = member_client(member)
    statuses = [upload(client, GIF).status_code for _ in range(2)]
    before = media_files()
    response = upload(client, GIF)
    assert statuses == [201, 201] and response.status_code == 429, (statuses, response.content)
    assert 0 < int(response["Retry-After"]) <= 60
    assert Upload.objects.filter(owner=member).count() == 2 and media_files() == before
    assert member_client(member).get("/api/media/").status_code == 200  # reads are not counted
    assert upload(member_client(other), GIF).status_code == 201
    assert cache.get(f"throttle_uploads_{member.pk}"), "the bucket is not in the shared cache"


def metric(web, result: str) -> float:
    status, _, text = http(f"{web.http}/metrics")
    assert status == 200
    wanted = f'zzalu_uploads_total{{result="{result}"}} '
    for line in text.decode().splitlines():
        if line.startswith(wanted):
            return float(line[len(wanted) :])
    return 0.0


def test_the_uploads_counter_on_metrics_counts_each_result(live):
    member = make_user()
    results = ("stored", "unsupported_media", "too_large")
    before = {result: metric(live.web, result) for result in results}
    assert http_upload(live.web, member, GIF)[0] == 201
    assert http_upload(live.web, member, transparent_png(), "a.png", "image/png")[0] == 201
    status, _, body = http_upload(live.web, member, HTML, "evil.gif")
    assert (status, body["code"]) == (400, "unsupported_media")
    status, _, body = http_upload(live.web, member, huge_bilevel_png(), "bomb.png")
    assert (status, body["code"]) == (400, "too_large")
    after = {result: metric(live.web, result) for result in results}
    assert after == {
        "stored": before["stored"] + 2,
        "unsupported_media": before["unsupported_media"] + 1,
        "too_large": before["too_large"] + 1,
    }


# --- storage -----------------------------------------------------------------------------------

IN_MEMORY = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def test_uploads_go_through_the_configured_storage_not_the_disk(db, member_api, client):
    before = media_files()
    with override_settings(STORAGES=IN_MEMORY):
        response = upload(member_api, GIF)
        assert response.status_code == 201, response.content
        row = Upload.objects.get(pk=response.json()["id"])
        assert isinstance(default_storage._wrapped, InMemoryStorage)
        assert default_storage.exists(row.file.name) and default_storage.exists(row.thumb.name)
        served_response, content = served(client, row.url)
        assert served_response.status_code == 200
        assert opened(content).n_frames == 3 and content == stored_bytes(row)
    assert media_files() == before  # nothing on disk
    assert not default_storage.exists(row.file.name)  # the filesystem storage is back
    assert client.get(row.url).status_code == 404


# --- serving -----------------------------------------------------------------------------------

SERVED_TYPES = {
    "gif": (GIF, "image/gif"),
    "png": (PNG, "image/png"),
    "jpeg": (JPEG, "image/jpeg"),
    "webp": (still_webp(), "image/webp"),
}


@pytest.mark.parametrize("kind", SERVED_TYPES)
def test_served_files_carry_their_type_nosniff_a_year_of_cache_and_a_sandbox(
    db, member_api, client, kind
):
    data, content_type = SERVED_TYPES[kind]
    body = upload(member_api, data).json()
    for url, expected in ((body["url"], content_type), (body["thumb_url"], "image/webp")):
        response, content = served(client, url)
        assert response.status_code == 200 and content
        assert response["Content-Type"] == expected
        assert response["X-Content-Type-Options"] == "nosniff"
        cache_control = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"public", "max-age=31536000", "immutable"} <= cache_control
        csp = response["Content-Security-Policy"]
        assert "sandbox" in {d.strip().split(" ")[0] for d in csp.split(";")}
        assert "default-src 'none'" in csp
    assert client.head(body["url"]).status_code == 200
    assert client.post(body["url"]).status_code == 405


def test_a_name_outside_the_uploads_pattern_is_a_404(db, member_api, client):
    body = upload(member_api, GIF).json()
    name = body["url"].removeprefix(settings.MEDIA_URL)
    stem = name.removesuffix(".gif")
    assert (Path(settings.MEDIA_ROOT) / name).is_file()
    (Path(settings.MEDIA_ROOT) / "uploads" / "x.html").write_text("<script>alert(1)</script>")
    try:
        for path in [
            "/media/../settings.py",
            "/media/..%2f..%2fzzalu%2fsettings%2fbase.py",
            "/media/%2e%2e/manage.py",
            "/media/uploads/x.html",  # there, but not a name the app writes
            f"/media/{stem}.html",
            f"/media/{stem}.png",  # the right stem, another type: no such file
            f"/media/{stem}.gif.html",
            f"/media/{stem.upper()}.gif",
            f"/media/{name}/",
            f"/media/uploads/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.gif",  # never written
            "/media/",
            "/media/manage.py",
        ]:
            assert client.get(path).status_code == 404, path
    finally:
        (Path(settings.MEDIA_ROOT) / "uploads" / "x.html").unlink()
    assert client.get(body["url"]).status_code == 200


# --- the sweep ---------------------------------------------------------------------------------


def stored_gif(owner=None, age: timedelta = timedelta(0)) -> Upload:
    row = upload_create(owner=owner, file=io.BytesIO(animated_gif(2)))
    Upload.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def files_there(row: Upload) -> bool:
    there = [default_storage.exists(row.file.name), default_storage.exists(row.thumb.name)]
    assert there[0] == there[1], there
    return there[0]


def test_the_sweep_removes_old_unreferenced_uploads_and_keeps_the_rest(db):
    owner, old = make_user(), timedelta(hours=25)
    room = make_room(owner=owner)
    unused = stored_gif(owner, old)
    orphan = stored_gif(None, old)  # its owner's account is gone
    young = stored_gif(owner, timedelta(hours=23))
    in_message = stored_gif(owner, old)
    room_image = stored_gif(owner, old)
    contest_image = stored_gif(owner, old)
    avatar = stored_gif(owner, old)
    (message,) = store_messages(room, owner, ["짤"])
    ChatMessage.objects.filter(pk=message.pk).update(gif_upload=in_message)
    ChatRoom.objects.filter(pk=room.pk).update(image=room_image)
    TitleHakwon.objects.filter(pk=make_hakwon().pk).update(image=contest_image)
    User.objects.filter(pk=owner.pk).update(avatar=avatar)
    kept = [young, in_message, room_image, contest_image, avatar]

    out = io.StringIO()
    call_command("uploads_sweep", stdout=out)  # MEDIA_SWEEP_GRACE_HOURS: 24
    assert "removed 2 " in out.getvalue(), out.getvalue()
    assert set(Upload.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert not files_there(unused) and not files_there(orphan)
    assert all(files_there(row) for row in kept)

    out = io.StringIO()
    call_command("uploads_sweep", "--grace-hours", "0", stdout=out)
    assert "removed 1 " in out.getvalue(), out.getvalue()
    assert not Upload.objects.filter(pk=young.pk).exists() and not files_there(young)
    assert Upload.objects.count() == 4 and all(files_there(row) for row in kept[1:])

    # A deleted message still points at its GIF (a moderator may need it): kept.
    ChatMessage.objects.filter(pk=message.pk).update(is_deleted=True)
    call_command("uploads_sweep", "--grace-hours", "0", stdout=io.StringIO())
    assert Upload.objects.filter(pk=in_message.pk).exists()
    # Unreferenced once the room drops its image: removed on the next sweep.
    ChatRoom.objects.filter(pk=room.pk).update(image=None)
    call_command("uploads_sweep", "--grace-hours", "0", stdout=io.StringIO())
    assert not Upload.objects.filter(pk=room_image.pk).exists() and not files_there(room_image)


# --- GIFs in chat, on the running stack --------------------------------------------------------


def send(sock, **fields) -> str:
    client_msg_id = fields.pop("client_msg_id", None) or uuid.uuid4().hex
    sock.send(type="chat.send", client_msg_id=client_msg_id, **fields)
    return client_msg_id


def message_with(sock, client_msg_id: str) -> dict:
    while (message := sock.recv_type("chat.message"))["client_msg_id"] != client_msg_id:
        pass
    return message


def api_get(api, user, path: str) -> dict:
    api.force_authenticate(user)
    response = api.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_member_sends_an_uploaded_gif_and_every_view_of_the_room_shows_it(live, api):
    room, alice, bob = make_room(), make_user(nickname="앨리스"), make_user(nickname="밥")
    status, _, gif = http_upload(live.web, alice, animated_gif(4, (48, 36)))
    assert status == 201, gif
    assert (gif["width"], gif["height"], gif["frames"]) == (48, 36, 4)
    status, headers, content = http(f"{live.web.http}{gif['url']}")  # served by Uvicorn too
    assert status == 200 and headers["Content-Type"] == "image/gif"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert opened(content).n_frames == 4 and opened(content).size == (48, 36)

    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        cid = send(a, body="", gif_id=gif["id"])
        ack = a.answer(cid)
        assert ack["type"] == "chat.ack", ack
        sent = message_with(a, cid)
        assert message_with(b, cid) == sent
        cid_text = send(a, body="그리고 글", gif_id=gif["id"].upper())  # any UUID spelling
        assert a.answer(cid_text)["type"] == "chat.ack"
        again = message_with(b, cid_text)
    assert sent["gif"] == gif and again["gif"] == gif
    assert sent["gif_url"] == gif["url"] and sent["body"] == ""
    assert again["body"] == "그리고 글" and again["gif_url"] == gif["url"]
    stored = ChatMessage.objects.get(event_id=sent["event_id"])
    assert stored.gif_upload_id == uuid.UUID(gif["id"]) and stored.gif_url == ""

    history = api_get(api, bob, f"/api/rooms/{room.pk}/messages/")["results"]
    assert [(m["event_id"], m["gif"], m["gif_url"]) for m in history] == [
        (sent["event_id"], gif, gif["url"]),
        (again["event_id"], gif, gif["url"]),
    ]
    assert api_get(api, bob, f"/api/rooms/{room.pk}/gifs/")["results"] == [gif]  # once
    api.force_authenticate(None)
    assert api.get(f"/api/rooms/{room.pk}/gifs/").json()["results"] == [gif]  # anyone reads it

    with live.room_socket(room, bob, after_seq=sent["seq"] - 1) as back:
        replayed = back.collect("chat.message", 2)
    assert [f["event_id"] for f in replayed] == [sent["event_id"], again["event_id"]]
    assert replayed[0]["gif"] == gif and replayed[0]["gif_url"] == gif["url"]


def test_a_deleted_gif_message_leaves_a_tombstone_without_it_and_the_room_list(live, api):
    room, alice, bob = make_room(), make_user(), make_user()
    kept_gif = upload_create(owner=alice, file=io.BytesIO(animated_gif(2))).as_dict()
    gone_gif = upload_create(owner=alice, file=io.BytesIO(animated_gif(3))).as_dict()
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        kept = message_with(b, send(a, body="남는 짤", gif_id=kept_gif["id"]))
        doomed = message_with(b, send(a, body="지울 짤", gif_id=gone_gif["id"]))
        assert doomed["gif"] == gone_gif
        assert api_get(api, bob, f"/api/rooms/{room.pk}/gifs/")["results"] == [gone_gif, kept_gif]
        a.send(type="chat.delete", client_msg_id="del", event_id=doomed["event_id"])
        assert a.answer("del")["type"] == "chat.ack"
        deleted = b.recv_type("chat.deleted")
        assert deleted["event_id"] == doomed["event_id"]
    history = {
        m["event_id"]: m for m in api_get(api, bob, f"/api/rooms/{room.pk}/messages/")["results"]
    }
    tombstone = history[doomed["event_id"]]
    assert tombstone["deleted"] and tombstone["gif"] is None and tombstone["gif_url"] is None
    assert tombstone["body"] == ""
    assert history[kept["event_id"]]["gif"] == kept_gif
    assert api_get(api, bob, f"/api/rooms/{room.pk}/gifs/")["results"] == [kept_gif]
    with live.room_socket(room, bob, after_seq=0) as back:
        replayed = {f["event_id"]: f for f in back.collect("chat.message", 2)}
    assert replayed[doomed["event_id"]]["gif"] is None
    assert replayed[doomed["event_id"]]["gif_url"] is None
    assert replayed[kept["event_id"]]["gif"] == kept_gif


def test_a_bad_gif_id_is_an_error_frame_and_nothing_is_sent(live):
    room, alice, bob = make_room(), make_user(), make_user()
    gif = upload_create(owner=alice, file=io.BytesIO(animated_gif(2))).as_dict()
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        refusals = {
            "unknown": ({"gif_id": str(uuid.uuid4())}, "not_found"),
            "with_gif_url": (
                {"gif_id": gif["id"], "gif_url": "https://img.test/a.gif"},
                "invalid_payload",
            ),
            "an_int": ({"gif_id": 123}, "invalid_payload"),
            "not_a_uuid": ({"gif_id": "x"}, "invalid_payload"),
            "a_list": ({"gif_id": [gif["id"]]}, "invalid_payload"),
            "an_object": ({"gif_id": {"id": gif["id"]}}, "invalid_payload"),
            "empty": ({"gif_id": ""}, "invalid_payload"),
            "nul": ({"gif_id": gif["id"][:-1] + "\x00"}, "invalid_payload"),
            "true": ({"gif_id": True}, "invalid_payload"),
        }
        for name, (fields, code) in refusals.items():
            cid = send(a, body="짤", **fields)
            error = a.answer(cid)
            assert (error["type"], error["code"]) == ("error", code), (name, error)
        # The socket still sends; only this reaches the room.
        cid = send(a, body="정상", gif_id=gif["id"])
        assert a.answer(cid)["type"] == "chat.ack"
        arrived = b.recv_type("chat.message")
        assert arrived["client_msg_id"] == cid and arrived["gif"] == gif
        assert b.quiet_for(0.5, "chat.message") == []
    assert ChatMessage.objects.filter(room=room).count() == 1


def test_a_gif_whose_upload_is_swept_between_send_and_store_leaves_the_message(live):
    """The upload is checked when sent; should it go before the relay stores the message (a
    sweep), the message is stored and shown without it rather than refused by the relay."""
    room, alice = make_room(), make_user()
    gif = upload_create(owner=alice, file=io.BytesIO(animated_gif(2)))
    with live.room_socket(room, alice) as a:
        with transaction.atomic():  # the relay waits on the room while the upload goes
            ChatRoom.objects.select_for_update().get(pk=room.pk)
            cid = send(a, body="사라질 짤", gif_id=str(gif.pk))
            assert a.answer(cid)["type"] == "chat.ack"
            time.sleep(0.5)
            gif.delete()
        message = message_with(a, cid)
    assert message["gif"] is None and message["gif_url"] is None
    assert message["body"] == "사라질 짤"
