"""Every rejected chat input gets its error code; the socket stays usable; nothing is stored.

These run against a web server of their own with the default rate limit (5/s, burst 10).
"""

from __future__ import annotations

import json
import time
import uuid
from unittest.mock import ANY

import pytest
from websockets.exceptions import InvalidStatus

from chat.models import ChatMessage

from .conftest import make_room, make_user
from .ws import Socket


@pytest.fixture(scope="module")
def strict_web(stack):
    web = stack.start_web("web-default-limits", CHAT_RATE_PER_SEC="5", CHAT_RATE_BURST="10")
    yield web
    web.stop()


@pytest.fixture
def room_socket(live, strict_web):
    def open_socket(room, user=None, **q):
        return Socket(live.socket_url(f"/ws/rooms/{room.pk}/", user, web=strict_web, **q))

    return open_socket


def assert_still_usable(sock, body="still here"):
    cid = uuid.uuid4().hex
    sock.send(type="chat.send", client_msg_id=cid, body=body)
    assert sock.recv_type("chat.ack", timeout=10)["client_msg_id"] == cid
    while (message := sock.recv_type("chat.message", timeout=10))["client_msg_id"] != cid:
        pass
    return message


BAD_FRAMES = [
    ("{not json", "invalid_json"),
    ("[1, 2]", "invalid_json"),
    (json.dumps({"body": "no type"}), "unknown_type"),
    (json.dumps({"type": "chat.shout", "body": "x"}), "unknown_type"),
    (json.dumps({"type": "chat.send", "body": "no id"}), "invalid_payload"),
    (json.dumps({"type": "chat.send", "client_msg_id": "x" * 65, "body": "x"}), "invalid_payload"),
    (json.dumps({"type": "chat.send", "client_msg_id": "a", "body": "   "}), "invalid_payload"),
    (
        json.dumps({"type": "chat.send", "client_msg_id": "b", "body": "x" * 2001}),
        "invalid_payload",
    ),
    (json.dumps({"type": "chat.send", "client_msg_id": "c", "body": 42}), "invalid_payload"),
    (
        json.dumps({"type": "chat.send", "client_msg_id": "d", "gif_url": "javascript:alert(1)"}),
        "invalid_payload",
    ),
    (
        json.dumps(
            {"type": "chat.send", "client_msg_id": "e", "gif_url": "https://x.test/" + "a" * 500}
        ),
        "invalid_payload",
    ),
    (json.dumps({"type": "chat.send", "client_msg_id": "f", "body": "x" * 17000}), "too_large"),
    # The text rule (zzalu/text.py): control characters, line breaks where one line is due.
    (json.dumps({"type": "chat.send", "client_msg_id": "g", "body": "a\x00b"}), "invalid_payload"),
    (json.dumps({"type": "chat.send", "client_msg_id": "h", "body": "a\x1bb"}), "invalid_payload"),
    (json.dumps({"type": "chat.send", "client_msg_id": "i", "body": "a\x85b"}), "invalid_payload"),
    (json.dumps({"type": "chat.send", "client_msg_id": "j\x00", "body": "x"}), "invalid_payload"),
    (json.dumps({"type": "chat.send", "client_msg_id": "k\n", "body": "x"}), "invalid_payload"),
    (
        json.dumps(
            {"type": "chat.send", "client_msg_id": "l", "gif_url": "https://x.test/a\nb.gif"}
        ),
        "invalid_payload",
    ),
    # orjson refuses a lone surrogate escape: the frame is not valid JSON to it.
    ('{"type": "chat.send", "client_msg_id": "m", "body": "a\\ud800b"}', "invalid_json"),
]


@pytest.mark.parametrize(
    ("raw", "code"), BAD_FRAMES, ids=[c + str(i) for i, (_, c) in enumerate(BAD_FRAMES)]
)
def test_bad_frames_get_their_error_code_and_nothing_is_stored(room_socket, raw, code):
    room, member = make_room(), make_user()
    with room_socket(room, member) as sock:
        sock.send_raw(raw)
        error = sock.recv_type("error")
        assert error["code"] == code, error
        assert error["detail"]
        echoed = assert_still_usable(sock)
    assert echoed["seq"] == 1  # the rejected frame took no number
    assert list(ChatMessage.objects.filter(room=room).values_list("body", flat=True)) == [
        "still here"
    ]


def test_a_nul_in_the_body_is_refused_by_name_and_the_room_goes_on(room_socket):
    """The NUL probe of issue 10: PostgreSQL cannot store it, so it must never be acknowledged
    (the relay would fail on it); the same socket and another room keep working."""
    room, other, member = make_room(), make_room(), make_user()
    with room_socket(room, member) as sock:
        sock.send(type="chat.send", client_msg_id="nul", body="a\u0000b")
        error = sock.recv_type("error")
        assert error["code"] == "invalid_payload" and error["client_msg_id"] == "nul"
        assert error["detail"].startswith("body: ")
        echoed = assert_still_usable(sock, "after the NUL")
        assert [f for f in sock.received if f["type"] == "chat.ack"] == [
            {"type": "chat.ack", "client_msg_id": echoed["client_msg_id"], "event_id": ANY}
        ]
    with room_socket(other, member) as sock:
        assert_still_usable(sock, "in another room")
    assert echoed["seq"] == 1
    assert list(ChatMessage.objects.filter(room=room).values_list("body", flat=True)) == [
        "after the NUL"
    ]


def test_bodies_are_stored_in_nfc_and_keep_their_line_breaks(room_socket):
    room, member = make_room(), make_user()
    with room_socket(room, member) as sock:
        echoed = assert_still_usable(sock, "  첫 줄\r\n\te\u0301  ")
    assert echoed["body"] == "첫 줄\n\t\u00e9"
    assert ChatMessage.objects.get(room=room).body == "첫 줄\n\t\u00e9"


def test_binary_frames_are_rejected(room_socket):
    room, member = make_room(), make_user()
    with room_socket(room, member) as sock:
        sock.send_raw(b"\x00\x01")
        assert sock.recv_type("error")["code"] == "invalid_json"
        assert_still_usable(sock)


def test_the_error_names_the_client_msg_id_when_known(room_socket):
    room, member = make_room(), make_user()
    with room_socket(room, member) as sock:
        sock.send(type="chat.send", client_msg_id="known", body="")
        assert sock.recv_type("error")["client_msg_id"] == "known"


def test_anonymous_readers_cannot_send(room_socket):
    room = make_room()
    with room_socket(room) as sock:
        sock.send(type="chat.send", client_msg_id="anon", body="hello")
        error = sock.recv_type("error")
        assert error == {
            "type": "error",
            "code": "auth_required",
            "detail": error["detail"],
            "client_msg_id": "anon",
        }
    time.sleep(0.5)
    assert not ChatMessage.objects.filter(room=room).exists()


def test_rate_limit_is_five_per_second_with_a_burst_of_ten(room_socket):
    room, member = make_room(), make_user()
    with room_socket(room, member) as sock:
        for i in range(15):
            sock.send(type="chat.send", client_msg_id=f"burst-{i}", body=f"{i}")
        acks = sock.collect("chat.ack", 10, timeout=10)
        errors = sock.collect("error", 5, timeout=10)
        assert {e["code"] for e in errors} == {"rate_limited"}
        time.sleep(1.0)  # about five tokens come back
        assert_still_usable(sock, "after the pause")
    stored = ChatMessage.objects.filter(room=room).count()
    assert len(acks) == 10 and stored == 11


def test_the_limit_is_shared_by_every_server_process(live, room_socket):
    """The bucket lives in Redis: the member's socket on another server process shares it."""
    room, member = make_room(), make_user()
    other = live.start_web("web-default-limits-2", CHAT_RATE_PER_SEC="5", CHAT_RATE_BURST="10")
    try:
        # Both open first; then fourteen sends in a burst, ten on one server and four on the
        # other: apart, each server would take them all; the shared bucket (10, +5/s) cannot.
        with (
            room_socket(room, member) as a,
            Socket(live.socket_url(f"/ws/rooms/{room.pk}/", member, web=other)) as b,
        ):
            for i in range(10):
                a.send(type="chat.send", client_msg_id=f"a-{i}", body="x")
            for i in range(4):
                b.send(type="chat.send", client_msg_id=f"b-{i}", body="x")
            answers = [a.answer(f"a-{i}") for i in range(10)] + [
                b.answer(f"b-{i}") for i in range(4)
            ]
        refused = [f["code"] for f in answers if f["type"] == "error"]
        assert refused and set(refused) == {"rate_limited"}, answers
    finally:
        other.stop()


def test_invalid_token_closes_4401(room_socket, live):
    room = make_room()
    sock = Socket(live.socket_url(f"/ws/rooms/{room.pk}/", token="not-a-jwt"))
    assert sock.close_code() == 4401


def test_expired_token_closes_4401(room_socket, live):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    room, member = make_room(), make_user()
    token = AccessToken.for_user(member)
    token.set_exp(lifetime=-timedelta(seconds=1))
    sock = Socket(live.socket_url(f"/ws/rooms/{room.pk}/", token=str(token)))
    assert sock.close_code() == 4401


def test_unknown_room_closes_4404(live):
    sock = Socket(live.socket_url("/ws/rooms/987654321/"))
    assert sock.close_code() == 4404


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/rooms/abc/", "/ws/hakwons/", "/nope"])
def test_unknown_socket_paths_close_4404(live, path):
    """Not an HTTP 500 from the router: accepted, then closed with the documented code."""
    assert Socket(live.socket_url(path)).close_code() == 4404


def test_cross_site_browser_origin_is_refused(live):
    room = make_room()
    with pytest.raises(InvalidStatus):
        Socket(live.socket_url(f"/ws/rooms/{room.pk}/"), origin="https://evil.test")
    with Socket(live.socket_url(f"/ws/rooms/{room.pk}/"), origin=live.web.http) as ok:
        ok.recv_type("room.presence")
