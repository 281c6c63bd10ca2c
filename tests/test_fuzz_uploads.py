"""Property-based fuzzing of ``uploads.images.image_process``: pure, no services, no database.

Hypothesis draws arbitrary bytes (alone, and behind each format's magic number so they reach
the format's own parser), and real GIF, PNG, JPEG and WebP files made by Pillow (still and
animated, palette, alpha, EXIF) with random byte flips, truncations, insertions, deletions and
appendages. For every input ``image_process`` either

- returns a Processed whose content re-opens in Pillow as the reported format, size and frame
  count, within the limits, with a still WebP thumbnail of at most 320 px; or
- raises UnsupportedMedia or TooLarge (with their codes);

never any other exception, and never takes longer than the per-example deadline. The limits are
drawn too (bytes, pixels, frames), at most 64 kB, 512 x 512 pixels and 16 frames: that keeps
every example a few milliseconds (a flipped header that claims a huge image is refused from
the header, before any pixel is decoded) and fuzzes each limit's check at its edges.

Marked ``postgres`` as the other fuzz tests are, so the fuzzing runs once per ``make test``.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from uploads.images import FORMATS, Limits, Processed, TooLarge, UnsupportedMedia, image_process

pytestmark = pytest.mark.postgres

LIMITS = Limits(max_bytes=64_000, max_pixels=512 * 512, max_frames=16)
ARBITRARY_EXAMPLES = 120
MUTATED_EXAMPLES = 200
DEADLINE = timedelta(seconds=5)  # an example that takes this long is a hang, not slowness

MAGIC = [
    b"GIF89a",
    b"GIF87a",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\x00\x00\x00\x00WEBPVP8L",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
    b"<svg",
    b"<html>",
    b"BM",  # a BMP: Pillow knows it, the app does not take it
    b"II*\x00",  # a TIFF
]


def fuzz_settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=DEADLINE,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- images ------------------------------------------------------------------------------------


def make_image(fmt: str, width: int, height: int, frames: int, mode: str, seed: int) -> bytes:
    """A real file of the format, drawn so that consecutive frames differ."""
    images = []
    for i in range(frames):
        colour = ((seed + 70 * i) % 256, (seed * 3 + 40 * i) % 256, (seed * 7) % 256)
        image = Image.new("RGBA", (width, height), (*colour, 255))
        draw = ImageDraw.Draw(image)
        alpha = 120 if mode == "RGBA" else 255
        xs = sorted([i % width, (i + seed) % width])
        ys = sorted([i % height, (2 * i + seed) % height])
        box = [xs[0], ys[0], xs[1], ys[1]]
        draw.rectangle(box, fill=(255 - colour[0], 255 - colour[1], 255 - colour[2], alpha))
        images.append(image)
    out = io.BytesIO()
    options: dict = {}
    if fmt == "JPEG":
        images = [image.convert("L" if mode == "L" else "RGB") for image in images[:1]]
        exif = Image.Exif()
        exif[0x0112] = 1 + seed % 8  # every orientation
        exif[0x010F] = "FuzzCam"
        options["exif"] = exif.tobytes()
    elif fmt == "GIF":
        images = [image.convert("P") if mode != "RGBA" else image for image in images]
        options["comment"] = b"fuzz"
    elif fmt == "PNG":
        images = [image.convert(mode if mode in ("P", "L", "RGBA") else "RGB") for image in images]
        images = images[:1]
    elif mode != "RGBA":
        images = [image.convert("RGB") for image in images]
    if len(images) > 1:
        options.update(save_all=True, append_images=images[1:], duration=40 + seed % 100, loop=0)
    images[0].save(out, fmt, **options)
    return out.getvalue()


images = st.builds(
    make_image,
    fmt=st.sampled_from(list(FORMATS)),
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    frames=st.integers(1, 4),
    mode=st.sampled_from(["RGB", "RGBA", "P", "L"]),
    seed=st.integers(0, 255),
)

# A mutation: where (a fraction of the length, as an integer per mille) and what.
flip = st.tuples(st.just("flip"), st.integers(0, 1000), st.integers(1, 255))
cut = st.tuples(st.just("cut"), st.integers(0, 1000), st.just(0))
insert = st.tuples(st.just("insert"), st.integers(0, 1000), st.binary(min_size=1, max_size=16))
delete = st.tuples(st.just("delete"), st.integers(0, 1000), st.integers(1, 64))
append = st.tuples(
    st.just("append"),
    st.just(1000),
    st.one_of(
        st.binary(min_size=1, max_size=64),
        st.sampled_from(
            [b"<script>alert(1)</script>", b"\xff\xd9", b";", b"\x00\x00\x00\x00IEND\xaeB`\x82"]
        ),
    ),
)
mutations = st.lists(st.one_of(flip, flip, flip, cut, insert, delete, append), max_size=4)


def mutate(data: bytes, steps) -> bytes:
    buffer = bytearray(data)
    for kind, where, what in steps:
        pos = min(len(buffer), where * len(buffer) // 1000)
        if kind == "flip" and buffer:
            pos = min(pos, len(buffer) - 1)
            buffer[pos] ^= what
        elif kind == "cut":
            del buffer[pos:]
        elif kind == "insert":
            buffer[pos:pos] = what
        elif kind == "delete":
            del buffer[pos : pos + what]
        elif kind == "append":
            buffer += what
    return bytes(buffer)


# --- the property ------------------------------------------------------------------------------

limits = st.builds(
    Limits,
    max_bytes=st.one_of(st.just(LIMITS.max_bytes), st.integers(16, LIMITS.max_bytes)),
    max_pixels=st.one_of(st.just(LIMITS.max_pixels), st.integers(1, 2000)),
    max_frames=st.one_of(st.just(LIMITS.max_frames), st.integers(1, 4)),
)


def check(data: bytes, limits: Limits, outcomes: Counter) -> None:
    try:
        processed = image_process(data, limits)
    except UnsupportedMedia as exc:
        assert exc.code == "unsupported_media"
        outcomes["unsupported_media"] += 1
    except TooLarge as exc:
        assert exc.code == "too_large"
        outcomes["too_large"] += 1
    else:
        check_processed(data, limits, processed)
        outcomes[f"stored {processed.format}"] += 1


def check_processed(data: bytes, limits: Limits, processed: Processed) -> None:
    assert isinstance(processed, Processed)
    assert len(data) <= limits.max_bytes
    assert processed.format in FORMATS
    assert processed.content_type == FORMATS[processed.format]
    assert processed.width * processed.height <= limits.max_pixels
    assert 1 <= processed.frames <= limits.max_frames
    with Image.open(io.BytesIO(processed.content)) as stored:
        assert stored.format == processed.format
        assert stored.size == (processed.width, processed.height)
        assert getattr(stored, "n_frames", 1) == processed.frames
        for index in range(processed.frames):  # every frame decodes
            stored.seek(index)
            stored.load()
    with Image.open(io.BytesIO(processed.thumb)) as thumb:
        assert thumb.format == "WEBP"
        assert getattr(thumb, "n_frames", 1) == 1
        assert max(thumb.size) <= 320
        thumb.load()


def test_arbitrary_bytes_are_refused_or_stored_cleanly():
    outcomes: Counter = Counter()

    @fuzz_settings(ARBITRARY_EXAMPLES)
    @given(
        head=st.one_of(st.just(b""), st.sampled_from(MAGIC)),
        tail=st.binary(max_size=512),
        limits=limits,
    )
    def fuzz(head, tail, limits):
        check(head + tail, limits, outcomes)

    started = time.monotonic()
    fuzz()
    print(f"fuzz uploads, arbitrary bytes: {dict(outcomes)} in {time.monotonic() - started:.1f}s")
    assert outcomes["unsupported_media"] >= ARBITRARY_EXAMPLES // 2, outcomes


def test_damaged_images_are_refused_or_stored_cleanly():
    outcomes: Counter = Counter()

    @fuzz_settings(MUTATED_EXAMPLES)
    @given(original=images, steps=mutations, limits=limits)
    @example(original=make_image("GIF", 20, 10, 3, "P", 1), steps=[], limits=LIMITS)
    @example(original=make_image("PNG", 20, 10, 1, "RGBA", 2), steps=[], limits=LIMITS)
    @example(original=make_image("JPEG", 20, 10, 1, "RGB", 5), steps=[], limits=LIMITS)
    @example(original=make_image("WEBP", 20, 10, 3, "RGBA", 3), steps=[], limits=LIMITS)
    def fuzz(original, steps, limits):
        check(mutate(original, steps), limits, outcomes)

    started = time.monotonic()
    fuzz()
    print(f"fuzz uploads, damaged images: {dict(outcomes)} in {time.monotonic() - started:.1f}s")
    # Every outcome was reached (each format stored: the explicit examples at least), so a
    # strategy that stopped producing valid images, or stopped damaging them, cannot pass quietly.
    assert outcomes["unsupported_media"] >= 10, outcomes
    assert outcomes["too_large"] >= 10, outcomes
    stored = {key for key in outcomes if key.startswith("stored ")}
    assert stored == {f"stored {fmt}" for fmt in FORMATS}, outcomes
