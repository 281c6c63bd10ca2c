"""What an uploaded file is, decided from its bytes alone, and a clean copy of it.

Pillow recognises the format (never the name or the declared type); the header's size and
frame count are checked before any pixel is decoded, so a decompression bomb costs nothing.
Each format's own structure must end where the file ends: bytes after a GIF's trailer, a
PNG's IEND, a JPEG's EOI or a WebP's RIFF size (an appended script, a second file: a polyglot)
are refused. What is kept is re-encoded from the decoded frames, so no metadata (EXIF, XMP,
comments, colour profiles) and nothing the decoder skipped survives; the thumbnail is the
first frame, still.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from zzalu.errors import ServiceError

FORMATS = {"GIF": "image/gif", "PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"GIF": "gif", "PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
THUMB_SIZE = (320, 320)


class UnsupportedMedia(ServiceError):
    status = 400
    code = "unsupported_media"


class TooLarge(ServiceError):
    status = 400
    code = "too_large"


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int  # width x height of one frame
    max_frames: int
    # All frames together: what decoding and re-encoding cost (4 bytes a pixel held at once).
    max_total_pixels: int = 50_000_000


@dataclass(frozen=True)
class Processed:
    content: bytes  # the clean re-encoded file
    thumb: bytes  # first frame, still, WebP
    format: str  # GIF, PNG, JPEG or WEBP
    width: int
    height: int
    frames: int

    @property
    def content_type(self) -> str:
        return FORMATS[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def image_process(data: bytes, limits: Limits) -> Processed:
    """A clean copy and a thumbnail of an image, or UnsupportedMedia / TooLarge."""
    if len(data) > limits.max_bytes:
        raise TooLarge(f"The file is larger than {megabytes(limits.max_bytes)}.")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard warns, then refuses, far above our limit: both are ours.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                return _process(image, data, limits)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise TooLarge(f"The image is larger than {limits.max_pixels:,} pixels.") from None
    except UnidentifiedImageError:
        raise UnsupportedMedia("Upload a GIF, PNG, JPEG or WebP image.") from None
    except (OSError, EOFError, ValueError, SyntaxError, IndexError, struct.error) as exc:
        # Truncated or corrupt data, found while decoding.
        raise UnsupportedMedia("The image is damaged or incomplete.") from exc


def _process(image: Image.Image, data: bytes, limits: Limits) -> Processed:
    width, height = image.size
    if width < 1 or height < 1:
        raise UnsupportedMedia("The image is empty.")
    if width * height > limits.max_pixels:
        raise TooLarge(f"The image is larger than {limits.max_pixels:,} pixels.")
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_frames:
        raise TooLarge(f"The image has more than {limits.max_frames} frames.")
    if width * height * frames > limits.max_total_pixels:
        raise TooLarge(f"The animation is larger than {limits.max_total_pixels:,} pixels in all.")
    if _end_of_image(image.format, data) != len(data):
        raise UnsupportedMedia("The file holds more than one image.")
    content = _reencode(image, frames)
    if frames > 1:  # the encoders merge repeated frames: say what is stored
        with Image.open(io.BytesIO(content)) as stored:
            frames = stored.n_frames
    image.seek(0)
    first = ImageOps.exif_transpose(image.convert("RGBA"))
    first.thumbnail(THUMB_SIZE)
    thumb = io.BytesIO()
    first.save(thumb, "WEBP", quality=80)
    if image.format == "JPEG":  # the stored copy is turned upright
        width, height = _upright_size(image)
    return Processed(content, thumb.getvalue(), image.format, width, height, frames)


def _upright_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(0x0112, 1)
    w, h = image.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _reencode(image: Image.Image, frames: int) -> bytes:
    out = io.BytesIO()
    fmt = image.format
    if fmt == "JPEG":
        upright = ImageOps.exif_transpose(image.convert("RGB"))
        upright.save(out, "JPEG", quality=90, optimize=True)
    elif frames == 1:
        still = image.copy()
        still.info = {k: v for k, v in image.info.items() if k in ("transparency",)}
        if fmt == "WEBP":
            still.save(out, "WEBP", quality=90)
        else:
            still.save(out, fmt)
    else:
        # Animated GIF or WebP: every frame decoded, then written again.
        durations, copies = [], []
        for frame in ImageSequence.Iterator(image):
            durations.append(max(int(frame.info.get("duration") or 100), 20))
            copy = frame.convert("RGBA")
            copy.info = {}  # comments, XMP, ICC: nothing but pixels and timing
            copies.append(copy)
        options = {"save_all": True, "append_images": copies[1:], "duration": durations}
        options["loop"] = int(image.info.get("loop", 0))
        if fmt == "GIF":
            options["disposal"] = 2
        else:
            options["quality"] = 85
        copies[0].save(out, fmt, **options)
    return out.getvalue()


def _end_of_image(fmt: str, data: bytes) -> int:
    """Where the format's own structure says the file ends (struct.error/ValueError when the
    structure is broken)."""
    if fmt == "GIF":
        return _gif_end(data)
    if fmt == "PNG":
        pos = 8
        while True:
            (length,) = struct.unpack_from(">I", data, pos)
            kind = data[pos + 4 : pos + 8]
            pos += 12 + length
            if pos > len(data):
                raise ValueError("truncated PNG chunk")
            if kind == b"IEND":
                return pos
    if fmt == "JPEG":
        return _jpeg_end(data)
    if fmt == "WEBP":
        (size,) = struct.unpack_from("<I", data, 4)
        return 8 + size + (size & 1)
    raise ValueError(fmt)


def _gif_end(data: bytes) -> int:
    """The offset just past a GIF's trailer, walking its blocks."""
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while True:
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            return pos + 1
        if introducer == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif introducer == 0x2C:  # image descriptor, local colour table, LZW code size
            flags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            pos = _skip_sub_blocks(data, pos)
        else:
            raise ValueError(f"GIF block {introducer:#x}")


def _jpeg_end(data: bytes) -> int:
    """The offset just past a JPEG's EOI, walking its segments and entropy-coded scans (an
    FF D9 inside a thumbnail or after the image is not the end)."""
    pos = 2  # after SOI
    while True:
        if data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        while data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return pos
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn, TEM: no length
            continue
        (length,) = struct.unpack_from(">H", data, pos)
        pos += length
        if marker == 0xDA:  # SOS: scan data up to the next marker that is not FF 00 or RSTn
            while True:
                pos = data.index(b"\xff", pos)
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2
                else:
                    break


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while (size := data[pos]) != 0:
        pos += 1 + size
    return pos + 1
