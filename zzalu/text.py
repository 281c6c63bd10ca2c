"""The one rule for user text, used by every entry point: sockets, services, serializers, forms,
admin and the relay.

A user text field has a ``Kind``: its maximum length and whether it may span lines. Text of any
kind is trimmed, must not contain control characters (C0, DEL, C1; a multi-line kind allows
``\\n`` and ``\\t``, and its ``\\r\\n`` or ``\\r`` line endings become ``\\n``) or surrogate code
points (a Python string holds one only when it was unpaired, e.g. from ``json.loads``), is
normalized to NFC, and is then measured. PostgreSQL cannot store NUL at all; the other control
characters would reach every other member's screen.

``clean_text`` is the rule. The rest only presents it: ``clean_input`` for services (an
``InvalidInput`` naming the field, i.e. an ``invalid_payload`` frame or a 400), and field classes
for serializers, forms and admin forms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import emoji
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from rest_framework import serializers

from .errors import InvalidInput


@dataclass(frozen=True)
class Kind:
    name: str
    max_length: int
    multiline: bool = False
    url: bool = False  # an http(s) URL (it is shown as an image or a link)
    # An identifier the client matches answers against: checked, but never trimmed or
    # normalized, so it comes back exactly as it was sent.
    opaque: bool = False
    emoji: bool = False  # exactly one emoji grapheme (a reaction), as the emoji package knows them


# The length limits, in one place; tests/test_text.py checks they match the models' columns.
BODY = Kind("body", 2000, multiline=True)  # chat message
COMMENT = Kind("comment", 500, multiline=True)  # title-hakwon caption or reply
DESCRIPTION = Kind("description", 500, multiline=True)  # room description
ROOM_NAME = Kind("room_name", 50)
TAG = Kind("tag", 30)
USERNAME = Kind("username", 150)
NICKNAME = Kind("nickname", 30)
PROFILE_MESSAGE = Kind("profile_message", 200)  # "한 줄 소개": one line
URL = Kind("url", 500, url=True)  # gif_url, image_url, profile_path
CLIENT_MSG_ID = Kind("client_msg_id", 64, opaque=True)
SEARCH = Kind("search", 100)  # a search term (rooms by name or tag)
REASON = Kind("reason", 200)  # why a message was reported or a member banned
EMOJI = Kind("emoji", 32, emoji=True)  # a reaction: one emoji, ZWJ sequences and flags included

KINDS = (
    BODY,
    COMMENT,
    DESCRIPTION,
    ROOM_NAME,
    TAG,
    USERNAME,
    NICKNAME,
    PROFILE_MESSAGE,
    URL,
    CLIENT_MSG_ID,
    SEARCH,
    REASON,
    EMOJI,
)

MESSAGES = {
    "not_text": "Must be text.",
    "control_character": "Control characters such as %(char)s are not allowed.",
    "line_break": "Must be a single line: no line breaks or tabs.",
    "surrogate": "%(char)s is not a character (an unpaired surrogate).",
    "too_long": "At most %(max_length)d characters (this has %(length)d).",
    "url": "Must be an http(s) URL.",
    "emoji": "Must be one emoji.",
}

_LINE_ENDINGS = re.compile(r"\r\n?")
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # \t and \n allowed
_NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_URL = URLValidator(schemes=["http", "https"])


class TextError(ValueError):
    """Text that breaks the rule; ``code`` is one of ``MESSAGES``."""

    def __init__(self, code: str, **params: Any):
        self.code = code
        self.params = params
        self.message = MESSAGES[code] % params
        super().__init__(self.message)


def clean_text(value: Any, kind: Kind) -> str:
    """The text as it may be stored, or TextError. Empty text passes (required is the
    caller's rule)."""
    if not isinstance(value, str):
        raise TextError("not_text")
    if kind.multiline:
        value = _LINE_ENDINGS.sub("\n", value)
    if not kind.opaque:
        value = value.strip()
    bad = (_NOT_IN_TEXT if kind.multiline else _NOT_IN_A_LINE).search(value)
    if bad:
        char = bad.group()
        if "\ud800" <= char <= "\udfff":
            raise TextError("surrogate", char=f"U+{ord(char):04X}")
        if char in "\t\n\r":
            raise TextError("line_break")
        raise TextError("control_character", char=f"U+{ord(char):04X}")
    if not kind.opaque:
        value = unicodedata.normalize("NFC", value)
    if len(value) > kind.max_length:
        raise TextError("too_long", max_length=kind.max_length, length=len(value))
    if kind.url and value:
        try:
            _URL(value)
        except ValidationError:
            raise TextError("url") from None
    if kind.emoji and value and not emoji.is_emoji(value):
        raise TextError("emoji")
    return value


def clean_input(value: Any, kind: Kind, *, field: str) -> str:
    """``clean_text`` for services: the error is an ``InvalidInput`` naming the field."""
    try:
        return clean_text(value, kind)
    except TextError as exc:
        raise InvalidInput(f"{field}: {exc.message}", field=field) from exc


# --- the same rule as fields -----------------------------------------------------------------


class TextSerializerField(serializers.CharField):
    """A DRF field for user text of one ``Kind`` (a 400 naming the field)."""

    def __init__(self, *, kind: Kind, **kwargs):
        self.kind = kind
        kwargs.setdefault("max_length", kind.max_length)
        kwargs.setdefault("trim_whitespace", not kind.opaque)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return clean_text(value, self.kind)
        except TextError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from exc


class TextFormField(forms.CharField):
    """A form field (pages and admin) for user text of one ``Kind``, with Korean messages."""

    default_error_messages = {
        "not_text": "글자로 써 주세요.",
        "control_character": "보이지 않는 제어 문자(%(char)s)는 쓸 수 없어요.",
        "line_break": "줄바꿈이나 탭 없이 한 줄로 써 주세요.",
        "surrogate": "쓸 수 없는 문자(%(char)s)가 있어요.",
        "too_long": "최대 %(max_length)d자까지 쓸 수 있어요 (지금 %(length)d자).",
        "url": "http(s) 주소만 쓸 수 있어요.",
        "emoji": "이모지 하나만 쓸 수 있어요.",
    }

    def __init__(self, *, kind: Kind, **kwargs):
        self.kind = kind
        kwargs.setdefault("max_length", kind.max_length)
        kwargs.setdefault("strip", not kind.opaque)
        if kind.url:
            kwargs.setdefault("widget", forms.URLInput)
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            return clean_text(value, self.kind)
        except TextError as exc:
            raise ValidationError(
                self.error_messages[exc.code], code=exc.code, params=exc.params
            ) from exc


class TextFieldsAdmin:
    """A ModelAdmin mixin: the model fields named in ``text_fields`` get the rule of their kind
    in the admin's forms, keeping the admin's widget, label and help text."""

    text_fields: dict[str, Kind] = {}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        kind = self.text_fields.get(db_field.name)
        if kind is not None:
            kwargs = {**kwargs, "form_class": TextFormField, "kind": kind}
        return super().formfield_for_dbfield(db_field, request, **kwargs)
