"""Hypothesis strategies the fuzz tests share: hostile text, wrong-typed JSON values, and a
JSON encoder that can write what ``json.dumps`` cannot send (lone surrogates as ``\\ud800``
escapes, ~1000-level nesting, numbers no float can hold, duplicate keys).

Values are plain Python data plus three markers, so a falsifying example prints short:
``Deep(depth, "[")`` is nesting written out only when encoded, ``Num("1e400")`` a number
literal as is, ``Obj(((key, value), ...))`` an object whose keys may repeat.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NamedTuple

from hypothesis import strategies as st

# The characters the text rule (issue 10) refuses in user text: C0 controls but \t and \n,
# DEL and C1 controls, and surrogates (a lone one cannot be stored or encoded as UTF-8).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")

NASTY_CHARS = [
    "\x00",
    "\x01",
    "\x08",
    "\x0b",
    "\r",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x80",
    "\x85",
    "\x9f",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\u200b",
    "\u202e",
    "\u2028",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\U0010ffff",
    "\U0001f600",
    "e\u0301",  # decomposed é: NFC makes it one character
    "\n",
    "\t",
    " ",
    "a",
    "짤",
    "<",
    '"',
    "\\",
]

NASTY_UTF8 = [c for c in NASTY_CHARS if not _SURROGATE.search(c)]


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each drawn with its weight."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


# Text that can travel as a WebSocket text frame or a form field (no surrogates).
sendable_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(NASTY_UTF8), max_size=12).map("".join),
)
# Any code point, surrogates included (about one text in six holds one), and text made mostly
# of the characters above.
any_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.lists(st.sampled_from(NASTY_UTF8), min_size=1, max_size=12).map("".join),
    st.builds(
        lambda a, nasty, b: a + nasty + b,
        st.text(max_size=10),
        st.sampled_from(NASTY_CHARS),
        st.text(max_size=10),
    ),
)


class Deep(NamedTuple):
    """``depth`` nested arrays (``[``) or objects (``{``)."""

    depth: int
    kind: str


class Num(NamedTuple):
    """A JSON number literal written as is (``1e400``, 5,000 digits)."""

    text: str


class Obj(NamedTuple):
    """A JSON object as (key, value) pairs; keys may repeat."""

    pairs: tuple


HUGE_INTS = [
    2**31,
    -(2**31) - 1,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
    10**400,
    -(10**400),
]
odd_numbers = st.one_of(
    st.sampled_from(HUGE_INTS),
    st.sampled_from([Num("1e400"), Num("-1e400"), Num("1" * 5000), Num("-0"), Num("1E-400")]),
    st.floats(allow_nan=True, allow_infinity=True),
)
deep = st.builds(
    Deep, st.sampled_from([64, 255, 256, 1000, 1023, 1024, 1025, 3000]), st.sampled_from("[{")
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), odd_numbers, any_text)
json_values = st.recursive(
    st.one_of(scalars, deep),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=10,
)


def wrong_types(good: st.SearchStrategy) -> st.SearchStrategy:
    """A field's value: a good one, hostile text, or any other JSON value."""
    return st.one_of(good, any_text, json_values)


def encode(value: Any) -> str:
    """JSON text for ``value``; lone surrogates become ``\\uXXXX`` escapes."""
    if isinstance(value, Deep):
        if value.kind == "[":
            return "[" * value.depth + "]" * value.depth
        return '{"a":' * value.depth + "0" + "}" * value.depth
    if isinstance(value, Num):
        return value.text
    if isinstance(value, Obj):
        return "{" + ",".join(f"{_string(str(k))}:{encode(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot encode {type(value).__name__}")


def _string(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def plain(value: Any) -> Any:
    """``value`` as Python data a JSON decoder would give (for forms and DRF clients);
    markers become what they stand for (deep nesting kept at a depth Python can repr)."""
    if isinstance(value, Deep):
        nested: Any = 0
        for _ in range(min(value.depth, 50)):
            nested = [nested] if value.kind == "[" else {"a": nested}
        return nested
    if isinstance(value, Num):
        return value.text
    if isinstance(value, Obj):
        return {str(k): plain(v) for k, v in value.pairs}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def has_forbidden(value: Any) -> bool:
    """Whether any text in ``value`` (keys included) holds a character the text rule refuses."""
    if isinstance(value, str):
        return bool(FORBIDDEN.search(value))
    if isinstance(value, dict):
        return any(has_forbidden(k) or has_forbidden(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_forbidden(v) for v in value)
    return False


# Reactions (issue 13): one emoji as the emoji package knows them, and what only looks like one.
REAL_EMOJI = [
    "👍",
    "❤️",  # with VS16
    "❤",  # without
    "😂",
    "🔥",
    "🙏",
    "🫠",
    "🪿",
    "©️",
    "™",
    "👍🏻",  # skin tones
    "👍🏿",
    "👋🏽",
    "🏽",  # a skin tone alone
    "🧑‍💻",  # ZWJ sequences
    "👨‍👩‍👧‍👦",
    "👩🏻‍❤️‍💋‍👨🏼",
    "🫱🏼‍🫲🏿",
    "🧑🏾‍🦯‍➡️",
    "🏳️‍🌈",
    "🏳️‍⚧️",
    "👁️‍🗨️",
    "🇰🇷",  # flags
    "🇯🇵",
    "🇺🇳",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # a tag sequence (Scotland)
    "1️⃣",  # keycaps
    "#️⃣",
    "*️⃣",
    "1⃣",  # unqualified
    "🔟",
    " 👍 ",  # trimmed like any single-line text
]
NOT_EMOJI = [
    "",
    " ",
    "a",
    "1",
    "#",
    "<b>",
    ":+1:",
    "👍👍",
    "👍 x",
    "👍️",  # a variation selector where none belongs
    "❤🏻",  # a skin tone on what takes none
    "🇦",  # half a flag
    "🇦🇧",  # no such country
    "\u200d",
    "👍\u200d",
    "\u200d👍",
    "👍\x00",
    "\x00",
    "👍\ud83d",
    "\ud83d\udc4d",  # escaped as a pair, which JSON reads back as 👍
    "\x1b[31m👍",
    "👍\u202e",
    "👍" * 17,
    "👨‍👩‍👧‍👦" * 5,  # 35 characters: over the column
]
emojis = st.one_of(
    st.sampled_from(REAL_EMOJI),
    st.sampled_from(REAL_EMOJI),
    st.sampled_from(NOT_EMOJI),
    st.builds(lambda e, t: e + t, st.sampled_from(REAL_EMOJI), st.sampled_from(NASTY_CHARS)),
    st.text(max_size=4),
)
