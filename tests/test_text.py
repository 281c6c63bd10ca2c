"""The one text rule (zzalu/text.py), and the page and admin forms that apply it.

The sockets and the API apply the same rule; their tests are with the other tests of each
(test_chat_bad_input, test_hakwon_live, test_accounts_api, test_rooms_api, test_hakwon_api).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.models import User
from chat import events
from chat.models import ChatMessage, ChatRoom, MessageReport, Reaction, Tag
from chat.services import IncomingMessage, chat_event_id, chat_payload_clean
from comments.models import Comment, TitleHakwon
from zzalu import text
from zzalu.errors import InvalidInput
from zzalu.sockets import client_msg_id_of
from zzalu.text import TextError, clean_text

from .conftest import make_room, make_user

BAD_EVERYWHERE = {
    "NUL": "a\x00b",
    "C0 (ESC)": "a\x1bb",
    "C0 (BEL)": "\x07",
    "DEL": "a\x7fb",
    "C1 (NEL)": "a\x85b",
    "C1 (APC)": "a\x9fb",
    "vertical tab": "a\x0bb",
    "form feed": "a\x0cb",
}


# --- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", text.KINDS, ids=lambda k: k.name)
@pytest.mark.parametrize("value", BAD_EVERYWHERE.values(), ids=BAD_EVERYWHERE.keys())
def test_control_characters_are_rejected_in_every_kind(kind, value):
    with pytest.raises(TextError) as caught:
        clean_text(value, kind)
    assert caught.value.code == "control_character"
    assert "U+" in str(caught.value)


@pytest.mark.parametrize("kind", text.KINDS, ids=lambda k: k.name)
def test_an_unpaired_surrogate_is_rejected_in_every_kind(kind):
    with pytest.raises(TextError) as caught:
        clean_text("a\ud800b", kind)
    assert caught.value.code == "surrogate"
    assert clean_text("a\U0001f600b", text.BODY) == "a\U0001f600b"  # a real astral character


@pytest.mark.parametrize("kind", [k for k in text.KINDS if not k.multiline], ids=lambda k: k.name)
@pytest.mark.parametrize("value", ["a\nb", "a\tb", "a\rb", "a\r\nb"])
def test_single_line_kinds_reject_line_breaks_and_tabs(kind, value):
    with pytest.raises(TextError) as caught:
        clean_text(value, kind)
    assert caught.value.code == "line_break"


@pytest.mark.parametrize("kind", [text.BODY, text.COMMENT, text.DESCRIPTION], ids=lambda k: k.name)
def test_multi_line_kinds_keep_newlines_and_tabs_and_unify_line_endings(kind):
    assert clean_text("첫 줄\n\t둘째 줄", kind) == "첫 줄\n\t둘째 줄"
    assert clean_text("a\r\nb\rc", kind) == "a\nb\nc"


def test_text_is_trimmed_and_normalized_to_nfc():
    assert clean_text("  e\u0301  ", text.NICKNAME) == "\u00e9"
    # Conjoining Hangul jamo (ᄒ ᅡ ᆫ) compose into one syllable.
    assert clean_text("\u1112\u1161\u11ab\u1100\u1173\u11af", text.BODY) == "한글"


def test_length_is_counted_after_nfc():
    decomposed = "\u1112\u1161\u11ab" * 30  # 90 code points, 30 syllables after NFC
    assert clean_text(decomposed, text.NICKNAME) == "한" * 30
    with pytest.raises(TextError) as caught:
        clean_text("한" * 31, text.NICKNAME)
    assert caught.value.code == "too_long"
    assert caught.value.params == {"max_length": 30, "length": 31}


def test_empty_text_passes_and_non_text_does_not():
    assert clean_text("   ", text.BODY) == ""
    for value in (None, 42, ["a"], {"a": 1}):
        with pytest.raises(TextError) as caught:
            clean_text(value, text.BODY)
        assert caught.value.code == "not_text"


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://x.test/a.gif", "https://x.test/a b.gif", "not a url", "x.test"],
)
def test_urls_are_http_or_https(url):
    with pytest.raises(TextError) as caught:
        clean_text(url, text.URL)
    assert caught.value.code == "url"
    assert clean_text(" https://x.test/a.gif ", text.URL) == "https://x.test/a.gif"
    assert clean_text("http://127.0.0.1:8000/static/a.svg", text.URL)


def test_client_msg_id_is_checked_but_never_rewritten():
    assert clean_text(" e\u0301 ", text.CLIENT_MSG_ID) == " e\u0301 "
    with pytest.raises(TextError):
        clean_text("x" * 65, text.CLIENT_MSG_ID)
    assert client_msg_id_of({"client_msg_id": "c-1"}) == "c-1"
    assert client_msg_id_of({"client_msg_id": "c\x00"}) is None
    assert client_msg_id_of({"client_msg_id": 7}) is None


def test_limits_match_the_models():
    column = {
        text.COMMENT: Comment._meta.get_field("content"),
        text.DESCRIPTION: ChatRoom._meta.get_field("description"),
        text.ROOM_NAME: ChatRoom._meta.get_field("name"),
        text.TAG: Tag._meta.get_field("name"),
        text.USERNAME: User._meta.get_field("username"),
        text.NICKNAME: User._meta.get_field("nickname"),
        text.PROFILE_MESSAGE: User._meta.get_field("profile_message"),
        text.CLIENT_MSG_ID: ChatMessage._meta.get_field("client_msg_id"),
        text.EMOJI: Reaction._meta.get_field("emoji"),
        text.REASON: MessageReport._meta.get_field("reason"),
    }
    for kind, field in column.items():
        assert kind.max_length == field.max_length, kind
    for field in (
        ChatMessage._meta.get_field("gif_url"),
        ChatRoom._meta.get_field("image_url"),
        TitleHakwon._meta.get_field("image_url"),
        User._meta.get_field("profile_path"),
    ):
        assert text.URL.max_length == field.max_length, field
    assert text.BODY.max_length == 2000  # a TextField; the limit is the protocol's


def test_services_name_the_field():
    with pytest.raises(InvalidInput) as caught:
        chat_payload_clean({"client_msg_id": "c", "body": "a\x00b"})
    assert caught.value.field == "body" and caught.value.detail.startswith("body: ")
    with pytest.raises(InvalidInput) as caught:
        chat_payload_clean({"client_msg_id": "c", "body": "x", "gif_url": "https://x.test/\x00"})
    assert caught.value.field == "gif_url"
    with pytest.raises(InvalidInput) as caught:
        chat_payload_clean({"client_msg_id": "c\n", "body": "x"})
    assert caught.value.field == "client_msg_id"


@pytest.mark.django_db
def test_the_relay_checks_what_the_socket_checks():
    """A chat.message record with text the socket would refuse (a foreign producer, an old
    record) is malformed: the relay skips it instead of failing on the insert."""
    room, member = make_room(), make_user()
    record = events.message_record(
        event_id=chat_event_id(sender_id=member.pk, room_id=room.pk, client_msg_id="r1"),
        room_id=room.pk,
        sender=member.public_profile,
        body="a\x00b",
        gif_url=None,
        client_msg_id="r1",
        sent_at=datetime.now(UTC),
    )
    with pytest.raises(ValueError, match="body"):
        IncomingMessage(record)
    fine = IncomingMessage({**record, "body": "  e\u0301  "})
    assert fine.message.body == "\u00e9"


# --- page and admin forms --------------------------------------------------------------------

# No lone surrogate here: a form post is UTF-8 bytes, which cannot carry one.
SINGLE_LINE_BAD = {**BAD_EVERYWHERE, "newline": "a\nb"}


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize("value", SINGLE_LINE_BAD.values(), ids=SINGLE_LINE_BAD.keys())
@pytest.mark.parametrize("field", ["username", "nickname"])
def test_the_signup_page_refuses_control_characters(field, value):
    data = {
        "username": "newbie",
        "nickname": "새내기",
        "password1": "meme-lover-2026",
        "password2": "meme-lover-2026",
        field: value,
    }
    response = Client().post("/accounts/signup/", data)
    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["form"].errors
    assert not User.objects.exists()


@pytest.mark.services
@pytest.mark.django_db
def test_the_signup_page_stores_nfc():
    data = {"username": "newbie", "nickname": "e\u0301", "password1": "meme-lover-2026"}
    response = Client().post("/accounts/signup/", {**data, "password2": data["password1"]})
    assert response.status_code == 302
    assert User.objects.get(username="newbie").nickname == "\u00e9"


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize("value", SINGLE_LINE_BAD.values(), ids=SINGLE_LINE_BAD.keys())
def test_the_room_page_form_refuses_control_characters(value):
    browser = Client()
    browser.force_login(make_user())
    response = browser.post("/rooms/new/", {"name": value, "tags": f"ok {value}"})
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert not ChatRoom.objects.exists()


def _room_change(browser, room, **fields):
    data = {
        "name": room.name,
        "description": room.description,
        "image_url": room.image_url,
        "owner": room.owner_id,
        "tags": [],
        **fields,
    }
    return browser.post(f"/admin/chat/chatroom/{room.pk}/change/", data)


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "a\x00b"),
        ("name", "a\x85b"),
        ("name", "a\nb"),
        ("description", "a\x00b"),
        ("description", "a\x1bb"),
        ("image_url", "https://x.test/\x00.gif"),
        ("image_url", "javascript:alert(1)"),
    ],
)
def test_the_room_admin_change_form_refuses_bad_text(field, value):
    room = make_room(name="원래 이름")
    browser = Client()
    browser.force_login(make_user(staff=True, is_superuser=True))
    response = _room_change(browser, room, **{field: value})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    room.refresh_from_db()
    assert room.name == "원래 이름" and room.description == "" and room.image_url == ""


@pytest.mark.services
@pytest.mark.django_db
def test_the_room_admin_change_form_stores_clean_text():
    room = make_room(name="원래 이름")
    browser = Client()
    browser.force_login(make_user(staff=True, is_superuser=True))
    response = _room_change(browser, room, name=" e\u0301 ", description="한 줄\r\n두 줄")
    assert response.status_code == 302, response.context["adminform"].form.errors
    room.refresh_from_db()
    assert room.name == "\u00e9" and room.description == "한 줄\n두 줄"
