"""Open sockets answer to their member's account (issue 11, item 3).

Every heartbeat (2 s in the test stack) a socket re-checks its member: deactivated, password
changed, logged out of the socket's session -> closed with 4401. A token socket ends when its
token expires unless the client sent a fresh one (``auth.refresh``). Both sockets (chat and
hakwon) share this in ``zzalu/sockets.py``.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

from .conftest import make_hakwon, make_room, make_user
from .ws import Socket

HEARTBEAT = 2.0  # tests/procs.py child_env: SOCKET_HEARTBEAT_SECONDS
WITHIN_A_HEARTBEAT = HEARTBEAT + 1.5  # the beat, plus a busy machine's slack


def token_for(user: User, seconds: float | None = None) -> str:
    token = AccessToken.for_user(user)
    if seconds is not None:
        token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


def session_cookie(user: User) -> tuple[dict[str, str], Client]:
    """A real login session (as the pages make), as a Cookie header for a socket."""
    client = Client()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"}, client


def is_open(sock: Socket) -> bool:
    """The socket still answers a frame."""
    sock.send(type="no.such.type")
    return sock.recv_type("error", timeout=10)["code"] == "unknown_type"


def closed_after(sock: Socket, change) -> float:
    """Apply ``change``; return how many seconds the server took to close with 4401."""
    changed = time.monotonic()
    change()
    assert sock.close_code(timeout=WITHIN_A_HEARTBEAT + 5) == 4401
    return time.monotonic() - changed


def chat(live, room, **kw) -> Socket:
    sock = Socket(live.socket_url(f"/ws/rooms/{room.pk}/", **kw.pop("q", {})), **kw)
    sock.recv_type("room.presence")  # open and joined
    return sock


def deactivate(user: User):
    return lambda: User.objects.filter(pk=user.pk).update(is_active=False)


def change_password(user: User):
    def change():
        user.set_password("a-new-password-5678")
        user.save(update_fields=["password"])

    return change


# --- token sockets ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["chat", "hakwon"])
def test_a_deactivated_member_is_closed_within_one_heartbeat(live, kind):
    member = make_user()
    if kind == "chat":
        sock = chat(live, make_room(), q={"token": token_for(member)})
    else:
        sock = live.hakwon_socket(make_hakwon().pk, member)
        assert is_open(sock)
    took = closed_after(sock, deactivate(member))
    assert sock.close_reason == "account deactivated"
    assert took < WITHIN_A_HEARTBEAT, f"closed after {took:.1f}s"


def test_a_deleted_member_is_closed(live):
    member = make_user()
    sock = chat(live, make_room(), q={"token": token_for(member)})
    closed_after(sock, lambda: get_user_model().objects.filter(pk=member.pk).delete())


def test_a_password_change_closes_the_members_token_socket(live):
    member = make_user()
    sock = live.hakwon_socket(make_hakwon().pk, member)
    assert is_open(sock)
    took = closed_after(sock, change_password(member))
    assert sock.close_reason == "password changed"
    assert took < WITHIN_A_HEARTBEAT


def test_an_unchanged_member_stays_connected(live):
    member = make_user()
    with chat(live, make_room(), q={"token": token_for(member)}) as sock:
        time.sleep(2.5 * HEARTBEAT)
        assert is_open(sock)


def test_a_token_socket_closes_when_its_token_expires(live):
    member = make_user()
    started = time.monotonic()
    sock = chat(live, make_room(), q={"token": token_for(member, seconds=3)})
    assert sock.close_code(timeout=15) == 4401
    assert sock.close_reason == "token expired"
    assert 2 <= time.monotonic() - started < 3 + 1.5


def test_auth_refresh_keeps_a_token_socket_open_past_the_first_token(live):
    member = make_user()
    started = time.monotonic()
    with chat(live, make_room(), q={"token": token_for(member, seconds=3)}) as sock:
        sock.send(type="auth.refresh", token=token_for(member, seconds=60))
        ack = sock.recv_type("auth.ack")
        assert ack["expires_at"].endswith("Z")
        time.sleep(max(0, 5 - (time.monotonic() - started)))  # the first token is gone
        assert is_open(sock)
        sock.send(type="chat.send", client_msg_id="after-refresh", body="still me")
        assert sock.recv_type("chat.ack")["client_msg_id"] == "after-refresh"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        None,
        "expired",
        "someone else's",
    ],
)
def test_a_bad_refresh_is_an_error_frame_and_the_socket_goes_on(live, token):
    member, other = make_user(), make_user()
    raw = {
        "expired": lambda: token_for(member, seconds=-1),
        "someone else's": lambda: token_for(other),
    }.get(token, lambda: token)()
    with chat(live, make_room(), q={"token": token_for(member)}) as sock:
        sock.send(type="auth.refresh", token=raw)
        error = sock.recv_type("error")
        assert error["code"] == "invalid_token" and error["detail"]
        assert is_open(sock)


def test_a_refresh_does_not_outlive_a_password_change(live):
    member = make_user()
    sock = chat(live, make_room(), q={"token": token_for(member)})
    change_password(member)()
    sock.send(type="auth.refresh", token=token_for(member))  # a token from before, say
    assert sock.close_code(timeout=WITHIN_A_HEARTBEAT + 5) == 4401


# --- session sockets (the pages) ---------------------------------------------------------------


def test_logging_out_closes_the_sockets_of_that_session(live):
    member = make_user()
    cookie, client = session_cookie(member)
    other_cookie, _ = session_cookie(member)  # the same member logged in elsewhere
    room = make_room()
    sock = chat(live, room, headers=cookie)
    with chat(live, room, headers=other_cookie) as elsewhere:
        sock.send(type="chat.send", client_msg_id="s-1", body="as a member")
        assert sock.recv_type("chat.ack")["client_msg_id"] == "s-1"
        took = closed_after(sock, client.logout)
        assert sock.close_reason == "logged out"
        assert took < WITHIN_A_HEARTBEAT
        time.sleep(HEARTBEAT)
        assert is_open(elsewhere)


@pytest.mark.parametrize("change", [deactivate, change_password])
def test_deactivation_or_a_password_change_closes_session_sockets(live, change):
    member = make_user()
    cookie, _ = session_cookie(member)
    sock = chat(live, make_room(), headers=cookie)
    assert closed_after(sock, change(member)) < WITHIN_A_HEARTBEAT


def test_a_session_socket_cannot_take_a_token(live):
    member = make_user()
    cookie, _ = session_cookie(member)
    with chat(live, make_room(), headers=cookie) as sock:
        sock.send(type="auth.refresh", token=token_for(member))
        assert sock.recv_type("error")["code"] == "invalid_token"


def test_anonymous_sockets_are_not_closed(live):
    with chat(live, make_room()) as sock:
        time.sleep(2.5 * HEARTBEAT)
        assert is_open(sock)
