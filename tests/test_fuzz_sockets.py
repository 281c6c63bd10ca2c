"""Property-based fuzzing of both sockets against the running stack (Daphne, relay, sweeper).

Hypothesis draws frames: any Unicode (NUL, C0/C1 controls, lone surrogates sent as ``\\ud800``
escapes inside otherwise valid JSON), wrong types for every field, huge numbers, ~1000-level
nesting, unknown fields and types, duplicate keys, text that is not JSON, binary and oversize
frames, and frames built from the real types. Each test keeps one socket per role open across
its examples. After every frame:

- it got an ``error`` frame with a documented code, or an ack — never silence, never a close;
- after an error the same socket still answers;
- ``/healthz`` answers 200;
- an acknowledged chat message is stored exactly once (by ``event_id``) and reaches another
  socket in the room, once; an acknowledged comment or like reaches a watcher;
- nothing stored holds a character the text rule refuses.

After every run a fresh message in a fresh room arrives within 5 s. Each test prints one
``fuzz:`` line with its volume (examples, frames, acks, error codes).

PostgreSQL only (``postgres`` marker): SQLite stores NUL, so it could not see issue 10's stall.
"""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.models import ChatMessage
from comments.models import Comment, CommentLike

from .conftest import make_comment, make_hakwon, make_room, make_user
from .fuzz import (
    HUGE_INTS,
    Obj,
    any_text,
    encode,
    has_forbidden,
    json_values,
    sendable_text,
    weighted,
    wrong_types,
)
from .ws import Socket

pytestmark = pytest.mark.postgres

EXAMPLES = {"member": 1000, "anonymous": 250, "paths": 100}
REPLY_TIMEOUT = 10
DELIVERY_TIMEOUT = 5
MAX_FRAME = 16 * 1024

# docs/protocol.md: the chat codes, then the hakwon socket's own.
CHAT_CODES = {
    "invalid_json",
    "unknown_type",
    "invalid_payload",
    "too_large",
    "rate_limited",
    "auth_required",
    "unavailable",
    "invalid_token",  # auth.refresh, which both sockets take
}
HAKWON_CODES = CHAT_CODES | {"hakwon_closed", "already_liked", "not_liked", "not_found"}
HAKWON_CODES |= {"nested_reply"}
CHAT_TYPES = ["chat.send"]
HAKWON_TYPES = ["comment.create", "comment.like", "comment.unlike"]
OTHER_TYPES = [
    "auth.refresh",
    "chat.ack",
    "chat.message",
    "error",
    "comment.ack",
    "comment.created",
    "",
]


def fuzz_settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- frames ------------------------------------------------------------------------------------


class Text(NamedTuple):
    """A text frame sent as is (not necessarily JSON)."""

    text: str


class Big(NamedTuple):
    """A ``chat.send``-looking frame of ``size`` bytes, as text or as a binary frame."""

    size: int
    binary: bool

    def wire(self) -> str | bytes:
        head, tail = '{"type":"chat.send","client_msg_id":"big","body":"', '"}'
        text = head + "x" * max(0, self.size - len(head) - len(tail)) + tail
        return text.encode() if self.binary else text


def wire(frame: Any) -> str | bytes:
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, Text):
        return frame.text
    if isinstance(frame, Big):
        return frame.wire()
    return encode(frame)


JUNK_TEXT = [
    "",
    " ",
    "{",
    "}",
    "null",
    "[]",
    '"chat.send"',
    "{'type': 'chat.send'}",
    '{"type": "chat.send",}',
    '{"type": "chat.send"} trailing',
    "\x00",
    '{"type":"chat.send","body":"\x00"}',  # a raw NUL inside a JSON string is invalid JSON
    "\ufeff{}",
    "NaN",
]
client_msg_ids = st.one_of(
    st.uuids().map(lambda u: u.hex),
    st.text(min_size=1, max_size=64),
    st.text(min_size=65, max_size=80),
    any_text,
)
gif_urls = st.one_of(
    st.sampled_from(
        [
            "https://media.test/a.gif",
            "http://media.test/b.gif",
            "HTTPS://MEDIA.TEST/C.GIF",
            "javascript:alert(1)",
            "https://media.test/a b.gif",
            "https://media.test/" + "a" * 600,
            "",
        ]
    ),
    any_text.map(lambda t: "https://media.test/" + t),
)
clean_text = st.text(st.characters(exclude_categories=["C"]), min_size=1, max_size=60)
bodies = st.one_of(
    clean_text, clean_text, any_text, sendable_text, st.text(min_size=1990, max_size=2010)
)
real_bodies = weighted((4, clean_text), (1, bodies))  # well-formed frames: mostly acked


@st.composite
def envelopes(draw, types: list[str], fields: dict[str, st.SearchStrategy]) -> Obj:
    """An object with a type and the type's fields, each present or not, right or wrong,
    plus unknown fields, sometimes a second ``type``."""
    pairs: list[tuple[str, Any]] = []
    if draw(st.integers(0, 9)):  # mostly with a type
        pairs.append(
            (
                "type",
                draw(
                    st.one_of(
                        st.sampled_from(types),
                        st.sampled_from(types),
                        st.sampled_from(CHAT_TYPES + HAKWON_TYPES + OTHER_TYPES),
                        any_text,
                        json_values,
                    )
                ),
            )
        )
    for name, good in fields.items():
        if draw(st.integers(0, 3)):
            pairs.append((name, draw(wrong_types(good))))
    pairs += draw(st.lists(st.tuples(sendable_text | any_text, json_values), max_size=3))
    if draw(st.integers(0, 9)) == 0:
        pairs.append(("type", draw(st.sampled_from(types) | json_values)))
    return Obj(tuple(draw(st.permutations(pairs))))


def frames(real: st.SearchStrategy, types: list[str], fields: dict) -> st.SearchStrategy:
    """Everything a client could send on a socket; ``real`` are well-formed frames."""
    return weighted(
        (6, real),
        (5, envelopes(types, fields)),
        (2, json_values),
        (1, st.builds(Text, st.one_of(sendable_text, st.sampled_from(JUNK_TEXT)))),
        (1, st.binary(max_size=64)),
        (
            1,
            st.builds(
                Big,
                st.sampled_from([MAX_FRAME - 10, MAX_FRAME + 1, 64 * 1024, 1024 * 1024]),
                st.booleans(),
            ),
        ),
    )


CHAT_FIELDS = {"client_msg_id": client_msg_ids, "body": bodies, "gif_url": gif_urls}
real_chat_sends = st.builds(
    lambda cid, body, gif: {
        "type": "chat.send",
        "client_msg_id": cid,
        "body": body,
        **({"gif_url": gif} if gif is not None else {}),
    },
    st.uuids().map(lambda u: u.hex),
    real_bodies,
    st.none() | gif_urls,
)


def hakwon_frames(comment_ids: list[int]) -> st.SearchStrategy:
    ids = st.one_of(
        st.sampled_from(comment_ids),
        st.sampled_from(comment_ids),
        st.integers(),
        st.sampled_from([0, -1, *HUGE_INTS]),
    )
    real = st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("comment.create"), "content": real_bodies},
            optional={"client_msg_id": client_msg_ids},
        ),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["comment.like", "comment.unlike"]), "comment_id": ids},
            optional={"client_msg_id": client_msg_ids},
        ),
    )
    fields = {"content": bodies, "comment_id": ids, "client_msg_id": client_msg_ids}
    return frames(real, HAKWON_TYPES, fields)


# --- sockets -----------------------------------------------------------------------------------


class Peer:
    """One socket kept across examples; reopened after an example that lost it."""

    def __init__(self, name: str, open_socket: Callable[[], Socket]):
        self.name, self.open_socket = name, open_socket
        self.sock: Socket | None = None

    def get(self) -> Socket:
        if self.sock is None:
            self.sock = self.open_socket()
        return self.sock

    def drop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except Exception:
                pass
            self.sock = None

    def reply(self, replies: set[str], sent: Any, timeout: float = REPLY_TIMEOUT) -> dict:
        """The next frame of one of ``replies``; other frames are set aside."""
        sock = self.get()
        deadline = time.monotonic() + timeout
        try:
            while True:
                frame = sock._read(deadline - time.monotonic())
                if frame.get("type") in replies:
                    return frame
        except TimeoutError:
            self.drop()
            raise AssertionError(
                f"{self.name}: no reply in {timeout}s (silence) to {short(sent)}"
            ) from None
        except ConnectionClosed as exc:
            self.drop()
            code = exc.rcvd.code if exc.rcvd else None
            reason = exc.rcvd.reason if exc.rcvd else ""
            raise AssertionError(
                f"{self.name}: the server closed the socket ({code} {reason!r}) on {short(sent)}"
            ) from None

    def exchange(self, frame: Any, replies: set[str], codes: set[str], stats: Counter) -> dict:
        """Send one frame and check its answer; after an error, check the socket answers."""
        raw = wire(frame)
        self.get().send_raw(raw)
        stats["frames"] += 1
        reply = self.reply(replies, frame)
        if reply["type"] == "error":
            stats[f"error:{reply.get('code')}"] += 1
            assert reply.get("code") in codes, f"undocumented error {reply} for {short(frame)}"
            assert isinstance(reply.get("detail"), str) and reply["detail"], reply
            size = len(raw) if isinstance(raw, bytes) else len(raw.encode())
            if size > MAX_FRAME:
                assert reply["code"] == "too_large", (reply, size)
            elif isinstance(raw, bytes):
                assert reply["code"] == "invalid_json", reply
            self.get().send_raw('{"type": "fuzz.probe"}')
            probe = self.reply({"error"}, "the probe after an error")
            assert probe["code"] == "unknown_type", probe
        else:
            stats[reply["type"]] += 1
        return reply


class Watcher:
    """A socket that only reads: counts each event it receives by ``event_id``."""

    def __init__(self, sock: Socket):
        self.sock = sock
        self.seen: Counter = Counter()
        self.frames: list[dict] = []

    def _read(self, timeout: float) -> dict:
        frame = self.sock._read(timeout)
        if "event_id" in frame:
            self.seen[(frame["type"], frame["event_id"])] += 1
            self.frames.append(frame)
        return frame

    def wait_for(self, match: Callable[[dict], bool], what: str, timeout: float) -> dict:
        for frame in self.frames:
            if match(frame):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            try:
                frame = self._read(deadline - time.monotonic())
            except TimeoutError:
                raise AssertionError(f"{what} did not arrive within {timeout}s") from None
            if match(frame):
                return frame

    def assert_each_once(self) -> None:
        try:
            while True:
                self._read(0.5)
        except TimeoutError:
            pass
        twice = {k: n for k, n in self.seen.items() if n > 1}
        assert not twice, f"delivered more than once: {twice}"


def short(frame: Any, limit: int = 300) -> str:
    text = repr(frame)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def assert_up(live) -> None:
    with urllib.request.urlopen(f"{live.web.http}/healthz", timeout=5) as response:
        assert response.status == 200


def report(capsys, name: str, examples: int, stats: Counter, started: float) -> None:
    acks = sum(n for k, n in stats.items() if k.endswith("ack"))
    codes = ", ".join(f"{k[6:]}={n}" for k, n in sorted(stats.items()) if k.startswith("error:"))
    with capsys.disabled():
        print(
            f"\nfuzz: {name}: {examples} examples/run, {stats['frames']} frames sent,"
            f" {acks} acks, errors: {codes or 'none'} ({time.monotonic() - started:.1f}s)"
        )


def assert_fresh_room_delivers(live) -> None:
    """A fresh message in a fresh room arrives within 5 s: nothing fuzzed stalled the relay."""
    room, member = make_room(), make_user()
    with live.room_socket(room) as reader, live.room_socket(room, member) as sender:
        sender.send(type="chat.send", client_msg_id="after-fuzz", body="still flowing")
        started = time.monotonic()
        message = reader.recv_type("chat.message", timeout=DELIVERY_TIMEOUT)
        assert message["body"] == "still flowing", message
        assert time.monotonic() - started < DELIVERY_TIMEOUT


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_hakwon_socket_survives_arbitrary_frames(live, capsys, who):
    hakwon = make_hakwon()
    member = make_user()
    others = [make_comment(hakwon=hakwon) for _ in range(3)]
    a_reply = make_comment(hakwon=hakwon, parent=others[0])
    closed = make_hakwon(state="DONE")
    elsewhere = make_comment(hakwon=closed)
    comment_ids = [c.pk for c in (*others, a_reply, elsewhere)]
    user = member if who == "member" else None
    peer = Peer(who, lambda: live.hakwon_socket(hakwon.pk, user))
    stats: Counter = Counter()
    started = time.monotonic()
    examples = EXAMPLES[who]
    with live.hakwon_socket(hakwon.pk) as watching:
        watcher = Watcher(watching)

        @fuzz_settings(examples)
        @given(frame=hakwon_frames(comment_ids))
        def exchange(frame):
            reply = peer.exchange(frame, {"error", "comment.ack"}, HAKWON_CODES, stats)
            if reply["type"] == "comment.ack":
                assert who == "member", f"an anonymous socket was acknowledged: {reply}"
                check_hakwon_ack(reply, watcher, member)
            assert_up(live)

        try:
            exchange()
        finally:
            peer.drop()
            report(capsys, f"hakwon socket, {who}", examples, stats, started)
        watcher.assert_each_once()
    assert_fresh_room_delivers(live)


def check_hakwon_ack(reply: dict, watcher: Watcher, member) -> None:
    comment_id = reply["comment_id"]
    if reply["action"] == "create":
        stored = Comment.objects.get(pk=comment_id)
        assert stored.author_id == member.pk
        assert not has_forbidden(stored.content), f"stored content {stored.content!r}"
        watcher.wait_for(
            lambda f: f["type"] == "comment.created" and f["comment"]["id"] == comment_id,
            f"comment.created for {comment_id}",
            DELIVERY_TIMEOUT,
        )
        return
    liked = CommentLike.objects.filter(comment_id=comment_id, user=member).exists()
    assert liked == (reply["action"] == "like"), reply
    count = reply["like_count"]
    watcher.wait_for(
        lambda f: (
            f["type"] == "comment.liked"
            and f["comment_id"] == comment_id
            and f["like_count"] == count
        ),
        f"comment.liked for {comment_id} with {count}",
        DELIVERY_TIMEOUT,
    )


@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_chat_socket_survives_arbitrary_frames(live, capsys, who):
    room = make_room()
    member = make_user()
    user = member if who == "member" else None
    peer = Peer(who, lambda: live.room_socket(room, user))
    stats: Counter = Counter()
    started = time.monotonic()
    examples = EXAMPLES[who]
    acked: dict[str, Any] = {}
    with live.room_socket(room) as reading:
        watcher = Watcher(reading)

        @fuzz_settings(examples)
        @given(frame=frames(real_chat_sends, CHAT_TYPES, CHAT_FIELDS))
        @example(frame={"type": "chat.send", "client_msg_id": "x", "body": "a\x00b"})  # issue 10
        @example(frame={"type": "chat.send", "client_msg_id": "s", "body": "a\ud800b"})
        def exchange(frame):
            reply = peer.exchange(frame, {"error", "chat.ack"}, CHAT_CODES, stats)
            if reply["type"] == "chat.ack":
                assert who == "member", f"an anonymous socket was acknowledged: {reply}"
                event_id = reply["event_id"]
                acked[event_id] = frame
                sent = orjson.loads(wire(frame))  # the server parsed it, so can we
                fields = [sent.get(k) for k in ("client_msg_id", "body", "gif_url")]
                try:
                    watcher.wait_for(
                        lambda f: f["type"] == "chat.message" and f["event_id"] == event_id,
                        f"chat.message {event_id}",
                        DELIVERY_TIMEOUT,
                    )
                except AssertionError as exc:
                    refused = " (it holds text the rule refuses)" if has_forbidden(fields) else ""
                    raise AssertionError(f"acknowledged {short(frame)}{refused}: {exc}") from None
                rows = list(ChatMessage.objects.filter(event_id=event_id))
                assert len(rows) == 1, f"{len(rows)} rows for acknowledged {event_id}"
                row = rows[0]
                assert not has_forbidden([row.body, row.client_msg_id, row.gif_url or ""]), row
            assert_up(live)

        try:
            exchange()
        finally:
            peer.drop()
            report(capsys, f"chat socket, {who}", examples, stats, started)
        watcher.assert_each_once()
    stored = Counter(
        str(e) for e in ChatMessage.objects.filter(room=room).values_list("event_id", flat=True)
    )
    assert set(acked) <= set(stored), "acknowledged but not stored"
    assert all(n == 1 for n in stored.values())
    assert_fresh_room_delivers(live)


SOCKET_PATHS = st.one_of(
    st.builds(
        lambda kind, n: f"/ws/{kind}/{n}/",
        st.sampled_from(["rooms", "hakwons"]),
        st.one_of(st.sampled_from([0, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]), st.integers(0)),
    ),
    st.builds(
        lambda kind, tail: f"/ws/{kind}/{tail}",
        st.sampled_from(["rooms", "hakwons", "direct", "nope", "rooms/1/extra"]),
        st.text("abc-1/.", max_size=12),
    ),
    st.sampled_from(["/ws/", "/", "/ws", "/api/rooms/", "/healthz", "/ws/rooms/-1/", "/admin/"]),
)


def test_any_socket_path_is_refused_or_served_cleanly(live, capsys):
    """An unknown path or id: HTTP 403/404 at the handshake or a documented close (4404),
    never an HTTP 500 or a 1011 close."""
    stats: Counter = Counter()
    started = time.monotonic()

    @fuzz_settings(EXAMPLES["paths"])
    @given(path=SOCKET_PATHS)
    def connect(path):
        stats["frames"] += 1
        try:
            sock = Socket(live.socket_url(path))
        except InvalidStatus as exc:
            status = exc.response.status_code
            stats[f"error:http {status}"] += 1
            assert status in (403, 404), f"{path}: HTTP {status}"
            return
        with sock:
            code = sock.close_code(timeout=2)
        stats[f"error:close {code}"] += 1
        assert code in (4404, None), f"{path}: closed with {code}"
        assert_up(live)

    try:
        connect()
    finally:
        report(capsys, "socket paths", EXAMPLES["paths"], stats, started)
