"""Small animated GIFs drawn in code, for the demo data (``manage.py demo_data``) and the shipped
default contest image: the demo shows real images with no network and no binary files to keep.

Each drawing is a few frames of shapes and short Latin text (Pillow's built-in font: no system
font needed, and it has no Hangul), a few tens of kilobytes once encoded. The shipped default
contest image, static/img/hakwon-default.gif, is ``demo_gif("frame", scale=2)``, drawn once.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont

SIZE = (240, 180)
FRAMES = 8
FRAME_MS = 120

SUPERSAMPLE = 3  # drawn this much larger, then scaled down: smooth edges


class Canvas:
    """ImageDraw in ``SIZE`` coordinates on an image ``k`` times larger."""

    def __init__(self, image: Image.Image, k: int):
        self.draw, self.k = ImageDraw.Draw(image), k

    def _scaled(self, value):
        if isinstance(value, (int, float)):
            return value * self.k
        return type(value)(self._scaled(v) for v in value)

    def rectangle(self, xy, **kw) -> None:
        self.draw.rectangle(self._scaled(xy), **kw)

    def ellipse(self, xy, **kw) -> None:
        self.draw.ellipse(self._scaled(xy), **kw)

    def polygon(self, xy, **kw) -> None:
        self.draw.polygon(self._scaled(xy), **kw)

    def line(self, xy, *, width: int = 1, **kw) -> None:
        self.draw.line(self._scaled(xy), width=width * self.k, **kw)

    def text(self, xy, text: str, *, size: int, fill, anchor: str = "mm") -> None:
        font = ImageFont.load_default(size=size * self.k)
        self.draw.text(self._scaled(xy), text, font=font, fill=fill, anchor=anchor)


Frame = Callable[[Canvas, int], None]  # draws frame i (0 <= i < FRAMES)


def _text(draw: Canvas, xy, text: str, *, size: int, fill, anchor="mm") -> None:
    draw.text(xy, text, size=size, fill=fill, anchor=anchor)


def _cat(draw: Canvas, i: int) -> None:
    draw.rectangle((0, 0, *SIZE), fill="#ffe7c2")
    sway = round(6 * math.sin(2 * math.pi * i / FRAMES))
    cx, cy = 120 + sway, 100
    for side in (-1, 1):  # ears
        draw.polygon(
            [(cx + side * 52, cy - 20), (cx + side * 44, cy - 78), (cx + side * 10, cy - 48)],
            fill="#f29a38",
        )
    draw.ellipse((cx - 62, cy - 56, cx + 62, cy + 60), fill="#f29a38")
    blink = i in (5, 6)
    for side in (-1, 1):  # eyes
        ex = cx + side * 24
        if blink:
            draw.line((ex - 10, cy - 4, ex + 10, cy - 4), fill="#3b2a1a", width=4)
        else:
            draw.ellipse((ex - 10, cy - 16, ex + 10, cy + 6), fill="#3b2a1a")
            draw.ellipse((ex - 3, cy - 12, ex + 3, cy - 6), fill="white")
    draw.polygon([(cx - 7, cy + 14), (cx + 7, cy + 14), (cx, cy + 22)], fill="#d9534f")
    for side in (-1, 1):  # whiskers
        for dy in (14, 24):
            draw.line((cx + side * 20, cy + dy, cx + side * 60, cy + dy - 6), fill="#3b2a1a")
    _text(draw, (120, 168), "meow", size=16, fill="#8a5a2b")


def _terminal(draw: Canvas, i: int) -> None:
    draw.rectangle((0, 0, *SIZE), fill="#1d2230")
    draw.rectangle((0, 0, SIZE[0], 18), fill="#323a4e")
    for n, colour in enumerate(("#ff5f56", "#ffbd2e", "#27c93f")):
        draw.ellipse((8 + n * 16, 4, 18 + n * 16, 14), fill=colour)
    command = "git push --force"
    typed = command[: min(len(command), 3 + i * 2)]
    _text(draw, (12, 40), f"$ {typed}", size=15, fill="#c8f7c5", anchor="lm")
    if i >= FRAMES - 3:
        _text(draw, (12, 70), "it works on", size=15, fill="#ffd479", anchor="lm")
        _text(draw, (12, 92), "my machine", size=15, fill="#ffd479", anchor="lm")
    if i % 2 == 0:  # the cursor blinks
        draw.rectangle((12, 140, 24, 158), fill="#c8f7c5")


def _star(draw: Canvas, centre, radius: float, fill) -> None:
    x, y = centre
    points = []
    for k in range(10):  # outer and inner corners in turn
        r = radius if k % 2 == 0 else radius / 2.4
        a = -math.pi / 2 + k * math.pi / 5
        points.append((x + r * math.cos(a), y + r * math.sin(a)))
    draw.polygon(points, fill=fill)


def _stars(draw: Canvas, i: int) -> None:
    draw.rectangle((0, 0, *SIZE), fill="#ffd400")
    for n in range(5):
        angle = 2 * math.pi * (n / 5 + i / FRAMES)
        _star(draw, (120 + 84 * math.cos(angle), 90 + 60 * math.sin(angle)), 12, "#ff3b6b")
    bounce = round(10 * abs(math.sin(math.pi * i / FRAMES)))
    _text(draw, (120, 92 - bounce), "LOL", size=48, fill="#1b1b1b")


def _blob(draw: Canvas, i: int) -> None:
    draw.rectangle((0, 0, *SIZE), fill="#cfe8ff")
    squash = round(6 * math.sin(2 * math.pi * i / FRAMES))
    draw.ellipse((60 - squash, 50 + squash, 180 + squash, 170), fill="#7bd389")
    for ex in (98, 142):  # wide eyes
        draw.ellipse((ex - 14, 80, ex + 14, 108), fill="white")
        draw.ellipse((ex - 6, 88, ex + 6, 100), fill="#1b1b1b")
    draw.ellipse((108, 122, 132, 150), fill="#1b1b1b")  # "o" mouth
    drop = (i * 6) % 36  # a sweat drop sliding down
    draw.polygon([(176, 60 + drop), (170, 74 + drop), (182, 74 + drop)], fill="#4aa3ff")
    draw.ellipse((169, 68 + drop, 183, 82 + drop), fill="#4aa3ff")
    _text(draw, (120, 26), "?!", size=28, fill="#1b1b1b")


def _heart(draw: Canvas, i: int) -> None:
    draw.rectangle((0, 0, *SIZE), fill="#ffe0ea")
    scale = 1 + 0.15 * math.sin(2 * math.pi * i / FRAMES)
    cx, cy, r = 120, 84, 30 * scale
    draw.ellipse((cx - 2 * r, cy - r, cx, cy + r), fill="#ff4f7b")
    draw.ellipse((cx, cy - r, cx + 2 * r, cy + r), fill="#ff4f7b")
    draw.polygon(
        [(cx - 2 * r + 2, cy + 8), (cx + 2 * r - 2, cy + 8), (cx, cy + 2.6 * r)], fill="#ff4f7b"
    )
    _text(draw, (120, 170), "thanks!", size=16, fill="#a0304f")


def _frame(draw: Canvas, i: int) -> None:
    """The shipped default contest image: a picture frame waiting for today's picture."""
    draw.rectangle((0, 0, *SIZE), fill="#f3efe6")
    draw.rectangle((40, 24, 200, 146), fill="#b98b54")
    draw.rectangle((52, 36, 188, 134), fill="#fffaf0")
    sun = 52 + (i % FRAMES) * 2
    draw.ellipse((150, sun - 8, 170, sun + 12), fill="#ffb703")
    draw.polygon([(56, 130), (100, 76), (140, 130)], fill="#8ecae6")
    draw.polygon([(110, 130), (146, 92), (184, 130)], fill="#219ebc")
    _text(draw, (120, 164), "zzalu", size=16, fill="#6b5a45")


DRAWINGS: dict[str, Frame] = {
    "cat": _cat,
    "terminal": _terminal,
    "stars": _stars,
    "blob": _blob,
    "heart": _heart,
    "frame": _frame,
}


def demo_gif(name: str, *, scale: int = 1) -> bytes:
    """An animated GIF (``FRAMES`` frames, looping) of one of ``DRAWINGS``, ``SIZE`` times
    ``scale`` (a contest image is shown large)."""
    draw_frame = DRAWINGS[name]
    k = scale * SUPERSAMPLE
    frames = []
    for i in range(FRAMES):
        image = Image.new("RGB", (SIZE[0] * k, SIZE[1] * k))
        draw_frame(Canvas(image, k), i)
        image = image.resize((SIZE[0] * scale, SIZE[1] * scale), Image.Resampling.LANCZOS)
        frames.append(image.quantize(colors=64, dither=Image.Dither.NONE))
    out = io.BytesIO()
    frames[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=FRAME_MS,
        loop=0,
        optimize=True,
    )
    return out.getvalue()
