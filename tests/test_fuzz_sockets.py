"""Property-based fuzzing of both sockets against the running stack (Uvicorn, relay, sweeper).

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
- a change to a message (issue 13: edit, delete, react, unreact, and ``reply_to`` on a send)
  aimed at a message the test knows — the member's own, someone else's, a deleted one, one
  past the edit window, one in another room, none — gets the answer its target's state calls
  for; an acknowledged change is in the database and reaches the watcher with its own ``seq``
  (a reaction that changes nothing is acknowledged and numbered for no one);
- the watcher ends with the room's whole log, each ``seq`` once and in order, each one
  accounted for by an acknowledged message or change;
- nothing stored holds a character the text rule refuses;
- a valid ``chat.read`` or ``typing`` of a member (issue 14) is answered by silence: a probe
  sent right behind it gets the next answer (``unknown_type``), never one for them; an invalid
  one gets ``invalid_payload``, an anonymous one ``auth_required``; the member's read marker
  ends between what the reads asked for and the room's newest ``seq``, and the watcher sees
  ``room.typing`` at most once per 2 s per socket, never from an anonymous one;
- a member's ``room.moderate`` (issue 15), in a room they neither own nor moderate, is never
  acknowledged: ``forbidden``, or ``invalid_payload`` / ``not_found`` as its fields and the
  member it names call for (checked in that order), and nothing is moderated; a ``chat.report``
  is acknowledged once per message and stored with its reason, then ``already_reported``;
  ``not_found`` for no message of the room, ``invalid_payload`` for a missing or hostile reason;
- the personal socket ``/ws/me/`` answers every frame of a member (``unknown_type``,
  ``invalid_json``, ``too_large``, ``invalid_token`` or ``auth.ack``) and never closes, still
  delivers the member's next notification after the fuzz and changes nothing stored; anonymous
  ones, whatever they send or pass as a token, are closed with 4401.

After every run a fresh message in a fresh room arrives within 5 s. Each test prints one
``fuzz:`` line with its volume (examples, frames, acks, error codes).

PostgreSQL only (``postgres`` marker): SQLite stores NUL, so it could not see issue 10's stall.
"""

from __future__ import annotations

import io
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

import orjson
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import AccessToken
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.changes import change_id_for
from chat.models import (
    ChatMessage,
    ChatRoom,
    MessageChange,
    MessageReport,
    ModerationAction,
    Reaction,
    RoomMember,
)
from comments import services as hakwon_services
from comments.models import Comment, CommentLike
from notifications.models import Notification
from uploads.services import upload_create
from zzalu import text as text_rule

from .conftest import make_comment, make_hakwon, make_room, make_user, small_gif
from .fuzz import (
    HUGE_INTS,
    Obj,
    any_text,
    emojis,
    encode,
    has_forbidden,
    json_values,
    sendable_text,
    weighted,
    wrong_types,
)
from .ws import Socket

pytestmark = pytest.mark.postgres

# The chat member draws changes as well as sends (issue 13): twice the examples.
EXAMPLES = {
    "member": 1000,
    "anonymous": 250,
    "chat member": 1800,  # changes, moderation, reports, gif_id: ~75 s on this machine
    "paths": 100,
    "me member": 400,
    "me anonymous": 60,
}
REPLY_TIMEOUT = 10
DELIVERY_TIMEOUT = 5
MAX_FRAME = 16 * 1024

# docs/protocol.md: the codes of every socket, then the chat socket's and the hakwon socket's own.
SOCKET_CODES = {
    "invalid_json",
    "unknown_type",
    "invalid_payload",
    "too_large",
    "rate_limited",
    "auth_required",
    "unavailable",
    "invalid_token",  # auth.refresh, which both sockets take
}
CHAT_CODES = SOCKET_CODES | {"not_found", "forbidden", "edit_window_closed", "deleted"}
# Issue 15: a member's standing (never the fuzzed member's: nobody moderates them) and reports.
CHAT_CODES |= {"muted", "banned", "slow_mode", "already_reported"}
HAKWON_CODES = SOCKET_CODES | {"hakwon_closed", "already_liked", "not_liked", "not_found"}
HAKWON_CODES |= {"nested_reply"}
CHANGE_TYPES = ["chat.edit", "chat.delete", "chat.react", "chat.unreact"]
CHAT_TYPES = ["chat.send", *CHANGE_TYPES]
# Issue 15: a room's own moderation and reports (docs/protocol.md).
MODERATION_TYPES = ["room.moderate", "chat.report"]
MODERATION_ACTIONS = [
    "mute",
    "unmute",
    "kick",
    "ban",
    "unban",
    "slow_mode",
    "appoint",
    "dismiss",
]
MAX_MUTE_SECONDS = 30 * 24 * 3600
MAX_SLOW_MODE_SECONDS = 600
# Issue 14: frames a valid one of which gets no answer at all (docs/protocol.md).
SILENT_TYPES = ["chat.read", "typing"]
# The personal socket takes no frame of its own: every type is unknown but auth.refresh.
ME_CODES = {"invalid_json", "unknown_type", "too_large", "invalid_token", "unavailable"}
PROBE = '{"type": "fuzz.probe"}'
TYPING_SECONDS = 2.0  # docs/protocol.md: typing reaches the room at most this often per socket
HAKWON_TYPES = ["comment.create", "comment.like", "comment.unlike"]
OTHER_TYPES = [
    "auth.refresh",
    "chat.ack",
    "chat.message",
    "chat.edited",
    "chat.deleted",
    "chat.reaction",
    "error",
    "comment.ack",
    "comment.created",
    "chat.read",
    "typing",
    "room.typing",
    "notification.created",
    "notification.read",
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
# chat.read's seq: around the room's log mostly, and everything a seq is not.
read_seqs = weighted(
    (6, st.integers(0, 60)),
    (1, st.sampled_from([-1, 0, 2**63 - 1, 2**64 - 1, *HUGE_INTS])),
    (1, st.integers()),
    (1, st.floats() | st.sampled_from([3.0, -0.0, 1e20])),
    (1, st.booleans() | st.none() | st.sampled_from(["1", "0x10", "\uff11", "", "-1", "1e3"])),
    (1, any_text | json_values),
)


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


def frames(
    real: st.SearchStrategy, types: list[str], fields: dict, real_weight: int = 6
) -> st.SearchStrategy:
    """Everything a client could send on a socket; ``real`` are well-formed frames, drawn with
    ``real_weight`` against 10 for all the rest."""
    return weighted(
        (real_weight, real),
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


class Target(NamedTuple):
    """A message's ``event_id``, chosen when the frame goes out (the room changes as the fuzz
    goes): ``kind`` says whose and in what state (see ChatRoomState.event_id), ``pick`` which
    of them, ``form`` how the UUID is written."""

    kind: str
    pick: int
    form: str


UUID_FORMS = {
    "canonical": str,
    "upper": lambda u: str(u).upper(),
    "hex": lambda u: u.hex,
    "braces": lambda u: "{" + str(u) + "}",
    "urn": lambda u: u.urn,
}
targets = st.builds(
    Target,
    st.sampled_from(["own", "own", "own", "old", "theirs", "theirs", "deleted", "elsewhere"]),
    st.integers(0, 2) | st.integers(0, 999),  # the first few often: changes meet
    st.sampled_from(["canonical", "canonical", "canonical", *UUID_FORMS]),
)
NOT_EVENT_IDS = [
    "",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "0" * 31,
    "0" * 33,
    "\uff10" * 32,  # fullwidth digits: Python's int() reads them, so this is the nil UUID
    " " + "1" * 32,
    "1" * 32 + "\x00",
]
event_ids = weighted(
    (8, targets),
    (1, st.uuids().map(str)),
    (1, st.sampled_from(NOT_EVENT_IDS)),
    (1, any_text),
)
# A send is mostly not a reply.
reply_tos = weighted((6, st.none()), (3, targets), (1, event_ids))
# Issue 16: an upload's id (Target kind "gif": the state's upload, in any UUID form), a UUID of
# no upload, or no UUID at all.
gif_ids = weighted(
    (5, st.builds(Target, st.just("gif"), st.just(0), st.sampled_from(list(UUID_FORMS)))),
    (1, st.uuids().map(str)),
    (1, st.sampled_from(NOT_EVENT_IDS)),
    (1, any_text | json_values),
)
sent_gif_ids = weighted((6, st.none()), (3, gif_ids))


class Who(NamedTuple):
    """A ``user_id`` chosen when the frame goes out (see ChatRoomState.user_id): ``me`` (the
    fuzzing member), ``other`` (another member), ``owner`` (the room's), ``staff``,
    ``inactive`` (a deactivated account), ``gone`` (a deleted one)."""

    kind: str


user_ids = weighted(
    (6, st.builds(Who, st.sampled_from(["me", "other", "other", "owner", "staff", "inactive"]))),
    (1, st.just(Who("gone"))),
    (1, st.sampled_from([0, -1, 1, 2**63 - 1, *HUGE_INTS])),
    (1, st.integers()),
    (1, st.sampled_from(["1", "me", "", "0x1", "\uff11", 1.0, True, False, None, [1], {"id": 1}])),
    (1, any_text | json_values),
)
durations = weighted(
    (6, st.integers(1, MAX_MUTE_SECONDS)),
    (2, st.sampled_from([0, -1, 1, 600, MAX_MUTE_SECONDS, MAX_MUTE_SECONDS + 1, *HUGE_INTS])),
    (1, st.integers()),
    (1, st.floats() | st.sampled_from([60.0, "60", True, None, [60], {"s": 60}])),
    (1, any_text | json_values),
)
slow_seconds = weighted(
    (6, st.integers(0, MAX_SLOW_MODE_SECONDS)),
    (2, st.sampled_from([-1, 0, 600, 601, *HUGE_INTS])),
    (1, st.integers()),
    (1, st.floats() | st.sampled_from([30.0, "30", True, False, None, [30]])),
    (1, any_text | json_values),
)
reasons = weighted(
    (5, clean_text),
    (1, st.sampled_from(["", " ", "\t", "욕설\n도배", "a\x00b", "\x1b[31m", "a\u2028b"])),
    (1, st.text(min_size=201, max_size=260)),
    (1, st.sampled_from(["x" * 200, "x" * 201, " " + "x" * 200 + " ", "e\u0301" * 200])),
    (1, any_text),
    (1, st.none() | json_values),
)
actions = weighted(
    (8, st.sampled_from(MODERATION_ACTIONS)),
    (1, st.sampled_from(["MUTE", "mute ", "", "delete", "report", "slow-mode", "owner"])),
    (1, any_text | json_values),
)
CHAT_FIELDS = {
    "client_msg_id": client_msg_ids,
    "body": bodies,
    "gif_url": gif_urls,
    "gif_id": gif_ids,
    "reply_to": event_ids,
    "event_id": event_ids,
    "emoji": emojis,
    "seq": read_seqs,
    "action": actions,
    "user_id": user_ids,
    "duration": durations,
    "seconds": slow_seconds,
    "reason": reasons,
}
fresh_ids = st.uuids().map(lambda u: u.hex)
real_chat_sends = st.builds(
    lambda cid, body, gif, gif_id, reply_to: {
        "type": "chat.send",
        "client_msg_id": cid,
        "body": body,
        **({"gif_url": gif} if gif is not None else {}),
        **({"gif_id": gif_id} if gif_id is not None else {}),
        **({"reply_to": reply_to} if reply_to is not None else {}),
    },
    fresh_ids,
    real_bodies,
    weighted((3, st.none()), (1, gif_urls)),
    sent_gif_ids,
    reply_tos,
)
real_chat_changes = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("chat.edit"), "client_msg_id": fresh_ids, "event_id": event_ids},
        optional={"body": real_bodies | st.none()},
    ),
    st.fixed_dictionaries(
        {"type": st.just("chat.delete"), "client_msg_id": fresh_ids, "event_id": event_ids}
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["chat.react", "chat.unreact"]),
            "client_msg_id": fresh_ids,
            "event_id": event_ids,
            "emoji": emojis,
        }
    ),
    st.fixed_dictionaries(  # reactions again, as members send them most: a few favourites
        {
            "type": st.sampled_from(["chat.react", "chat.react", "chat.unreact"]),
            "client_msg_id": fresh_ids,
            "event_id": targets,
            "emoji": st.sampled_from(["👍", "❤️", "🇰🇷", "👨‍👩‍👧‍👦", "1️⃣", " 👍 "]),
        }
    ),
)
real_reads = weighted(
    (4, st.fixed_dictionaries({"type": st.just("chat.read"), "seq": read_seqs})),
    (
        1,
        st.fixed_dictionaries(
            {"type": st.just("chat.read")},
            optional={"seq": read_seqs, "client_msg_id": client_msg_ids, "room_id": json_values},
        ),
    ),
)
real_typing = st.fixed_dictionaries(
    {"type": st.just("typing")},
    optional={"body": bodies, "client_msg_id": client_msg_ids, "seq": read_seqs},
)

real_moderations = st.builds(
    lambda cid, action, extra: {"type": "room.moderate", "client_msg_id": cid, "action": action,
                                **extra},
    fresh_ids | client_msg_ids,
    actions,
    st.fixed_dictionaries(
        {}, optional={"user_id": user_ids, "duration": durations, "seconds": slow_seconds,
                      "reason": reasons}
    ),
)  # fmt: skip
# Mostly the fields the action takes, each right or wrong.
real_moderations = st.one_of(
    real_moderations,
    st.fixed_dictionaries(
        {"type": st.just("room.moderate"), "client_msg_id": fresh_ids,
         "action": st.sampled_from(["mute", "ban", "kick", "unmute", "unban", "appoint",
                                    "dismiss"]),
         "user_id": user_ids},
        optional={"duration": durations, "reason": reasons},
    ),
    st.fixed_dictionaries(
        {"type": st.just("room.moderate"), "client_msg_id": fresh_ids,
         "action": st.just("slow_mode"), "seconds": slow_seconds},
        optional={"user_id": user_ids},
    ),
)  # fmt: skip
real_reports = st.fixed_dictionaries(
    {"type": st.just("chat.report"), "client_msg_id": fresh_ids | client_msg_ids,
     "event_id": event_ids, "reason": reasons},
)  # fmt: skip
real_chat_frames = weighted(
    (2, real_chat_sends),
    (3, real_chat_changes),
    (1, real_reads),
    (1, real_typing),
    (2, real_moderations),
    (1, real_reports),
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
        self.opened = 0  # sockets opened so far (each has its own typing allowance)

    def get(self) -> Socket:
        if self.sock is None:
            self.sock = self.open_socket()
            self.opened += 1
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

    def exchange_silent(self, frame: Any, replies: set[str], stats: Counter) -> None:
        """Send a frame that must get no answer, and a probe right behind it: the next answer
        is the probe's (frames are handled in order), so the frame got none and the socket
        is alive."""
        self.get().send_raw(wire(frame))
        self.get().send_raw(PROBE)
        stats["frames"] += 1
        reply = self.reply(replies, frame)
        assert reply["type"] == "error" and reply.get("code") == "unknown_type", (
            f"{short(frame)} was answered: {reply}"
        )
        assert "fuzz.probe" in reply["detail"], f"{short(frame)} was answered: {reply}"
        stats["silent"] += 1


class Watcher:
    """A socket that only reads. It counts each numbered frame (a room's messages and changes)
    by ``seq`` — several changes name one message's ``event_id`` — and anything else by type
    and ``event_id``. A check ``claim``s the numbered frame it accounts for."""

    def __init__(self, sock: Socket):
        self.sock = sock
        self.seen: Counter = Counter()
        self.frames: list[dict] = []
        self.claimed: set[int] = set()

    def _read(self, timeout: float) -> dict:
        frame = self.sock._read(timeout)
        if "seq" in frame:
            self.seen[("seq", frame["seq"])] += 1
            self.frames.append(frame)
        elif "event_id" in frame:
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

    def read_numbered(self, count: int) -> None:
        """Read until ``count`` numbered frames have arrived."""
        while sum(1 for f in self.frames if "seq" in f) < count:
            self._read(DELIVERY_TIMEOUT)

    def claim(self, match: Callable[[dict], bool], what: str) -> dict:
        """The first numbered frame that matches and that no check claimed before."""
        frame = self.wait_for(
            lambda f: "seq" in f and f["seq"] not in self.claimed and match(f),
            what,
            DELIVERY_TIMEOUT,
        )
        self.claimed.add(frame["seq"])
        return frame

    def assert_each_once(self) -> None:
        try:
            while True:
                self._read(0.5)
        except TimeoutError:
            pass
        twice = {k: n for k, n in self.seen.items() if n > 1}
        assert not twice, f"delivered more than once: {twice}"

    def assert_whole_log(self, last_seq: int) -> None:
        """The room's log from 1 to ``last_seq``, in order, each entry claimed by a check (a
        numbered frame no acknowledged frame explains is a change nobody made)."""
        seqs = [f["seq"] for f in self.frames if "seq" in f]
        assert seqs == list(range(1, last_seq + 1)), f"seqs {seqs[:50]}... of {last_seq}"
        unclaimed = [f for f in self.frames if "seq" in f and f["seq"] not in self.claimed]
        assert not unclaimed, f"numbered, but for nothing acknowledged: {unclaimed[:5]}"


def short(frame: Any, limit: int = 300) -> str:
    text = repr(frame)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def assert_up(live) -> None:
    with urllib.request.urlopen(f"{live.web.http}/healthz", timeout=5) as response:
        assert response.status == 200


def report(capsys, name: str, examples: int, stats: Counter, started: float) -> None:
    acks = sum(n for k, n in stats.items() if k.endswith("ack"))
    silent = f", {stats['silent']} answered by silence" if stats["silent"] else ""
    codes = ", ".join(f"{k[6:]}={n}" for k, n in sorted(stats.items()) if k.startswith("error:"))
    kinds = ", ".join(f"{k[4:]}={n}" for k, n in sorted(stats.items()) if k.startswith("acc:"))
    with capsys.disabled():
        print(
            f"\nfuzz: {name}: {examples} examples/run, {stats['frames']} frames sent,"
            f" {acks} acks{f' ({kinds})' if kinds else ''}{silent}, errors: {codes or 'none'}"
            f" ({time.monotonic() - started:.1f}s)"
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


def resolve(
    value: Any, event_id: Callable[[Target], str], user_id: Callable[[Who], int] | None = None
) -> Any:
    """``value`` with each Target written as an event_id, each Who as a user_id."""
    if isinstance(value, Target):
        return event_id(value)
    if isinstance(value, Who):
        assert user_id is not None
        return user_id(value)
    if isinstance(value, Obj):
        return Obj(tuple((k, resolve(v, event_id, user_id)) for k, v in value.pairs))
    if isinstance(value, dict):
        return {k: resolve(v, event_id, user_id) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, event_id, user_id) for v in value]
    return value


def parsed(frame: Any) -> dict | None:
    """The object the server reads from ``frame``, when it reads one with a string type."""
    raw = wire(frame)
    if isinstance(raw, bytes) or len(raw.encode()) > MAX_FRAME:
        return None
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(content, dict) and isinstance(content.get("type"), str):
        return content
    return None


def whole(value: Any, low: int, high: int) -> bool:
    """A JSON integer (not a boolean) from ``low`` to ``high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def uuid_of(value: Any) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        return None


def text_ok(value: Any, kind) -> str | None:
    """``value`` as the text rule keeps it, or None when the rule refuses it."""
    try:
        return text_rule.clean_text(value, kind)
    except text_rule.TextError:
        return None


def until_acked(sock: Socket, type_: str, **fields: Any) -> dict:
    """Send a frame (one client_msg_id) until acknowledged; the ack."""
    client_msg_id = uuid.uuid4().hex
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sock.send(type=type_, client_msg_id=client_msg_id, **fields)
        while (frame := sock._read(REPLY_TIMEOUT)).get("client_msg_id") != client_msg_id:
            sock.pending.append(frame)
        if frame["type"] == "chat.ack":
            return frame
        assert frame["code"] in ("rate_limited", "unavailable"), frame
        time.sleep(0.5)
    raise AssertionError(f"{type_} {fields} was never acknowledged")


WINDOW_MARGIN = timedelta(seconds=5)  # a message this close to the edit window's end: either


class ChatRoomState:
    """The fuzzed room as the test knows it: the messages targets point at, and what a
    member's frame should get and do (written from issue 13, not from the server's code).

    Target kinds: ``own`` (the member's, editable), ``old`` (the member's, past the edit
    window), ``theirs`` (another member's), ``deleted``, ``elsewhere`` (the member's, in
    another room); when there is none of a kind, a random UUID (no such message)."""

    def __init__(self, room, elsewhere, member, other):
        self.room, self.elsewhere, self.member, self.other = room, elsewhere, member, other
        # Issue 15: whom a room.moderate may name besides the member, the other and the owner.
        self.staff = make_user(staff=True)
        self.inactive = make_user(is_active=False)
        gone = make_user()
        self.gone_id = gone.pk
        gone.delete()
        self.window = timedelta(seconds=django_settings.CHAT_EDIT_WINDOW_SECONDS)
        # The member's reactions as their acknowledged changes left them: (event_id, emoji).
        self.reactions: dict[tuple[str, str], bool] = {}
        # Issue 16: an uploaded GIF a send may name by gif_id.
        self.gif = upload_create(owner=other, file=io.BytesIO(small_gif()))

    def seed(self, live, watcher: Watcher) -> None:
        """Messages of every kind, sent the way members send them; the watcher sees them."""
        room, member, other = self.room, self.member, self.other
        with (
            live.room_socket(room, member) as mine,
            live.room_socket(room, other) as theirs,
            live.room_socket(self.elsewhere, member) as there,
        ):
            own = [until_acked(mine, "chat.send", body=f"내 글 {i}")["event_id"] for i in range(4)]
            until_acked(mine, "chat.send", body="", gif_url="https://media.test/seed.gif")
            for i in range(2):
                until_acked(theirs, "chat.send", body=f"남의 글 {i}")
            until_acked(there, "chat.send", body="다른 방")
            watcher.read_numbered(7)  # stored: changes to them may follow
            until_acked(mine, "chat.delete", event_id=own[0])
            until_acked(theirs, "chat.react", event_id=own[1], emoji="👍")
            watcher.read_numbered(9)
        ChatMessage.objects.filter(event_id__in=own[2:]).update(
            sent_at=timezone.now() - self.window - timedelta(minutes=1)
        )
        watcher.claimed.update(range(1, 10))

    def event_id(self, target: Target) -> str:
        if target.kind == "gif":
            return UUID_FORMS[target.form](self.gif.pk)
        now = timezone.now()
        pools: dict[str | None, list[uuid.UUID]] = {}
        rows = ChatMessage.objects.filter(room__in=[self.room, self.elsewhere]).order_by("pk")
        for row in rows.values("event_id", "room_id", "sender_id", "is_deleted", "sent_at"):
            kind = None
            if row["room_id"] != self.room.pk:
                kind = "elsewhere"
            elif row["is_deleted"]:
                kind = "deleted"
            elif row["sender_id"] == self.other.pk:
                kind = "theirs"
            elif row["sender_id"] == self.member.pk:
                age = now - row["sent_at"]
                if age > self.window + WINDOW_MARGIN:
                    kind = "old"
                elif age < self.window - WINDOW_MARGIN:
                    kind = "own"
            pools.setdefault(kind, []).append(row["event_id"])
        chosen = pools.get(target.kind, [])
        if not chosen and target.kind == "old" and pools.get("own"):  # all deleted: age another
            aged = pools["own"][target.pick % len(pools["own"])]
            ChatMessage.objects.filter(event_id=aged).update(
                sent_at=now - self.window - timedelta(minutes=1)
            )
            chosen = [aged]
        event_id = chosen[target.pick % len(chosen)] if chosen else uuid.uuid4()
        return UUID_FORMS[target.form](event_id)

    def user_id(self, who: Who) -> int:
        if who.kind == "gone":
            return self.gone_id
        users = {"me": self.member, "other": self.other, "staff": self.staff,
                 "inactive": self.inactive, "owner": self.room.owner}  # fmt: skip
        return users[who.kind].pk

    def moderation_answers(self, content: dict) -> set[str]:
        """What the member's ``room.moderate`` gets (issue 15, docs/protocol.md): never an
        ack, for only the room's owner, its moderators and staff act, and the member is none
        of them. The checks come in the order chat.moderation.moderation_record makes them:
        the frame's id, the action and its fields, the member it names (``not_found``; the
        member themself is ``invalid_payload``), then who asks (``forbidden``)."""
        cid = content.get("client_msg_id")
        if not cid or text_ok(cid, text_rule.CLIENT_MSG_ID) is None:
            return {"invalid_payload"}
        action = content.get("action")
        if not isinstance(action, str) or action not in MODERATION_ACTIONS:
            return {"invalid_payload"}
        if action == "slow_mode":
            ok = whole(content.get("seconds"), 0, MAX_SLOW_MODE_SECONDS)
            return {"forbidden"} if ok else {"invalid_payload"}
        user_id = content.get("user_id")
        if not whole(user_id, 1, 2**63 - 1):
            return {"invalid_payload"}
        if action == "mute" and not whole(content.get("duration"), 1, MAX_MUTE_SECONDS):
            return {"invalid_payload"}
        reason = content.get("reason")
        if action == "ban" and reason is not None and text_ok(reason, text_rule.REASON) is None:
            return {"invalid_payload"}
        if not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
            return {"not_found"}
        if user_id == self.member.pk:
            return {"invalid_payload"}  # nobody moderates themself
        return {"forbidden"}

    def report_answers(self, content: dict) -> set[str]:
        """What the member's ``chat.report`` gets: an ack the first time for a message of this
        room, ``already_reported`` after; ``not_found`` for no message of this room; a reason
        is required and keeps the text rule (200 characters)."""
        if text_ok(content.get("client_msg_id"), text_rule.CLIENT_MSG_ID) is None:
            return {"invalid_payload"}
        event_id = uuid_of(content.get("event_id"))
        if event_id is None or not text_ok(content.get("reason"), text_rule.REASON):
            return {"invalid_payload"}
        message = self.message(event_id)
        if message is None:
            return {"not_found"}
        reported = MessageReport.objects.filter(message=message, reporter=self.member).exists()
        answers = {"already_reported" if reported else "ack"}
        if message.is_deleted:  # whether a deleted message can be reported: either
            answers |= {"deleted", "not_found"}
        return answers

    def check_report(self, content: dict, ack: dict) -> None:
        """An acknowledged report is stored once, with the reason as the text rule keeps it."""
        event_id = uuid_of(content["event_id"])
        cid = text_rule.clean_text(content["client_msg_id"], text_rule.CLIENT_MSG_ID)
        assert (ack["event_id"], ack["client_msg_id"]) == (event_id, cid), ack
        reports = MessageReport.objects.filter(
            message__room=self.room, message__event_id=event_id, reporter=self.member
        )
        assert [r.reason for r in reports] == [
            text_rule.clean_text(content["reason"], text_rule.REASON)
        ]

    def assert_nothing_moderated(self) -> None:
        """The member's room.moderate frames changed nothing: no action, no mute or ban, no
        slow mode; and their reports keep the text rule."""
        assert not ModerationAction.objects.filter(room__in=[self.room, self.elsewhere]).exists()
        self.room.refresh_from_db()
        assert self.room.slow_mode_seconds == 0
        members = RoomMember.objects.filter(room=self.room)
        assert not members.filter(is_moderator=True).exists()
        assert not members.exclude(muted_until=None).exists()
        assert not members.exclude(banned_at=None).exists()
        reasons = MessageReport.objects.filter(reporter=self.member).values_list(
            "reason", flat=True
        )
        assert all(r and not has_forbidden(r) and len(r) <= 200 for r in reasons), list(reasons)

    def message(self, event_id: str) -> ChatMessage | None:
        """The message an event_id names in this room, as stored now."""
        return ChatMessage.objects.filter(room=self.room, event_id=event_id).first()

    def answers(self, content: dict) -> set[str] | None:
        """What a member's chat frame may get: "ack" or error codes (rate_limited and
        unavailable aside); None when this oracle has no opinion (a send without reply_to)."""
        type_ = content["type"]
        if type_ == "chat.send":
            gif = self.gif_answer(content)
            if gif == "invalid_payload":
                return {"invalid_payload"}
            if content.get("reply_to") is None:
                return None if gif is None else {"invalid_payload", gif}
            reply_to = uuid_of(content["reply_to"])
            if reply_to is None:
                return {"invalid_payload"}
            original = self.message(reply_to)
            # invalid_payload: the send's own fields (body, gif_url, client_msg_id) may be wrong.
            if original is None:
                return {"invalid_payload", "not_found"}
            if original.is_deleted:
                return {"invalid_payload", "deleted"}
            return {"invalid_payload", gif or "ack"}
        if type_ not in CHANGE_TYPES:
            return None
        if not self.change_payload_ok(content):
            return {"invalid_payload"}
        event_id = uuid_of(content["event_id"])
        body = text_ok(content.get("body") or "", text_rule.BODY)
        message = self.message(event_id)
        if message is None:
            return {"not_found"}
        if type_ in ("chat.edit", "chat.delete") and message.sender_id != self.member.pk:
            return {"forbidden"}  # the member is not staff
        if message.is_deleted:
            return {"deleted"}
        if type_ != "chat.edit":
            return {"ack"}
        age = timezone.now() - message.sent_at
        answers = set()
        if age > self.window - WINDOW_MARGIN:
            answers.add("edit_window_closed")
        if age < self.window + WINDOW_MARGIN:
            answers.add("ack" if body or message.gif_url else "invalid_payload")
        return answers

    def gif_answer(self, content: dict) -> str | None:
        """A send's ``gif_id`` alone: None (absent, or the upload: no opinion),
        "invalid_payload" (not a UUID, or with a gif_url) or "not_found" (no such upload)."""
        if content.get("gif_id") is None:
            return None
        gif_id = uuid_of(content["gif_id"])
        gif_url = content.get("gif_url")
        if gif_id is None or (gif_url is not None and text_ok(gif_url, text_rule.URL) != ""):
            return "invalid_payload"  # a gif_url the rule refuses is invalid_payload too
        return None if gif_id == str(self.gif.pk) else "not_found"

    def change_payload_ok(self, content: dict) -> bool:
        """Whether a change frame's fields are well-formed (checked before anything else: a
        retry of an applied change is recognized only after this, by client_msg_id and
        target, whatever else the retry says)."""
        type_ = content["type"]
        client_msg_id, event_id = content.get("client_msg_id"), uuid_of(content.get("event_id"))
        body = content.get("body")
        body = "" if body is None else text_ok(body, text_rule.BODY)
        emoji = text_ok(content.get("emoji"), text_rule.EMOJI)
        return not (
            not isinstance(client_msg_id, str)
            or not client_msg_id.strip()
            or text_ok(client_msg_id, text_rule.CLIENT_MSG_ID) is None
            or event_id is None
            or (type_ == "chat.edit" and body is None)
            or (type_ in ("chat.react", "chat.unreact") and not emoji)
        )

    def change_id(self, content: dict) -> str:
        return change_id_for(
            type_=content["type"],
            actor_id=self.member.pk,
            room_id=self.room.pk,
            client_msg_id=content["client_msg_id"],
            event_id=str(uuid.UUID(str(content["event_id"]))),
            emoji=(
                text_rule.clean_text(content["emoji"], text_rule.EMOJI)
                if content["type"] in ("chat.react", "chat.unreact")
                else ""
            ),
        )

    def stored_change(self, content: dict) -> MessageChange | None:
        """The change a valid change frame's id names, when one was stored before."""
        return (
            MessageChange.objects.select_related("message")
            .filter(change_id=self.change_id(content))
            .first()
        )

    def check_change(
        self, content: dict, ack: dict, watcher: Watcher, before: MessageChange | None
    ) -> str:
        """An acknowledged change is stored and announced; returns what it did."""
        type_, event_id = content["type"], uuid_of(content["event_id"])
        assert (ack["event_id"], ack["client_msg_id"]) == (event_id, content["client_msg_id"])
        if before is not None and str(before.message.event_id) == event_id:
            return "retry"  # stored and announced the first time
        if before is not None:
            # The client_msg_id of a change to another message: acknowledged for this one and
            # never made (test_a_client_msg_id_reused_for_another_message_changes_it).
            return "reused id"
        if type_ == "chat.edit":
            body = text_rule.clean_text(content.get("body") or "", text_rule.BODY)
            frame = watcher.claim(
                lambda f: f["type"] == "chat.edited" and f["event_id"] == event_id,
                f"chat.edited for {event_id}",
            )
            assert frame["body"] == body and frame["edited_at"], (frame, body)
            message = ChatMessage.objects.get(event_id=event_id)
            assert message.body == body and message.edited_at is not None, message.body
        elif type_ == "chat.delete":
            frame = watcher.claim(
                lambda f: f["type"] == "chat.deleted" and f["event_id"] == event_id,
                f"chat.deleted for {event_id}",
            )
            assert frame["deleted_by"] == "author", frame
            message = ChatMessage.objects.get(event_id=event_id)
            assert message.is_deleted and message.deleted_by == "author"
        else:
            emoji = text_rule.clean_text(content["emoji"], text_rule.EMOJI)
            added = type_ == "chat.react"
            if self.reactions.get((event_id, emoji), False) == added:
                return "no-op"  # acknowledged, numbered for no one: assert_whole_log sees
            frame = watcher.claim(
                lambda f: (
                    f["type"] == "chat.reaction"
                    and f["event_id"] == event_id
                    and f["emoji"] == emoji
                    and f["user"]["id"] == self.member.pk
                ),
                f"chat.reaction {emoji!r} for {event_id}",
            )
            self.reactions[(event_id, emoji)] = added
            assert frame["added"] is added, frame
            reactions = Reaction.objects.filter(message__event_id=event_id, emoji=emoji)
            assert reactions.filter(user=self.member).exists() is added
            assert frame["count"] == reactions.count(), frame
        change = MessageChange.objects.get(change_id=self.change_id(content))
        assert change.seq == frame["seq"], (change.seq, frame)
        return "applied"

    def assert_stored_text_keeps_the_rule(self) -> None:
        changes = MessageChange.objects.filter(room=self.room)
        for fields in changes.values_list("body", "emoji", "client_msg_id", "actor_nickname"):
            assert not has_forbidden(list(fields)), fields
        emoji = Reaction.objects.filter(message__room=self.room).values_list("emoji", flat=True)
        assert not has_forbidden(list(emoji)), list(emoji)

    def assert_reactions_as_acknowledged(self) -> None:
        stored = {
            (str(event_id), emoji)
            for event_id, emoji in Reaction.objects.filter(
                message__room=self.room, user=self.member
            ).values_list("message__event_id", "emoji")
        }
        assert stored == {key for key, on in self.reactions.items() if on}


@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_chat_socket_survives_arbitrary_frames(live, capsys, who):
    room, elsewhere = make_room(), make_room()
    member, other = make_user(), make_user()
    user = member if who == "member" else None
    state = ChatRoomState(room, elsewhere, member, other)
    peer = Peer(who, lambda: live.room_socket(room, user))
    stats: Counter = Counter()
    started = time.monotonic()
    examples = EXAMPLES["chat member" if who == "member" else who]
    acked: dict[str, Any] = {}
    reads = ReadLedger()
    with live.room_socket(room) as reading:
        watcher = Watcher(reading)
        state.seed(live, watcher)

        @fuzz_settings(examples)
        @given(
            frame=frames(real_chat_frames, CHAT_TYPES + SILENT_TYPES, CHAT_FIELDS, real_weight=12)
        )
        @example(frame={"type": "chat.send", "client_msg_id": "x", "body": "a\x00b"})  # issue 10
        @example(frame={"type": "chat.send", "client_msg_id": "s", "body": "a\ud800b"})
        @example(
            frame={"type": "chat.edit", "client_msg_id": "e", "body": "a\x00b",
                   "event_id": Target("own", 0, "canonical")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.react", "client_msg_id": "r", "emoji": "👍\x00",
                   "event_id": Target("theirs", 0, "upper")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.react", "client_msg_id": "k", "emoji": "👩🏻‍❤️‍💋‍👨🏼",
                   "event_id": Target("theirs", 0, "urn")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.edit", "client_msg_id": "o", "body": "늦음",
                   "event_id": Target("old", 0, "braces")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.send", "client_msg_id": "p", "body": "답장",
                   "reply_to": Target("deleted", 0, "hex")}
        )  # fmt: skip
        @example(frame={"type": "chat.read", "seq": 2**64 - 1})  # past any seq: the newest
        @example(frame={"type": "chat.read", "seq": 3})  # then lower: never back
        @example(frame={"type": "chat.read", "seq": -1})
        @example(frame={"type": "chat.read", "seq": "5"})
        @example(frame={"type": "chat.read", "seq": 2.0})
        @example(frame={"type": "chat.read", "seq": True})
        @example(frame={"type": "chat.read"})
        @example(frame={"type": "typing", "body": "a\x00b"})
        # Issue 15: an ordinary member moderates no one; reports once per message.
        @example(
            frame={"type": "room.moderate", "client_msg_id": "m1", "action": "mute",
                   "user_id": Who("other"), "duration": 600}
        )  # fmt: skip
        @example(
            frame={"type": "room.moderate", "client_msg_id": "m2", "action": "kick",
                   "user_id": Who("me")}
        )  # fmt: skip
        @example(frame={"type": "room.moderate", "client_msg_id": "m3", "action": "slow_mode",
                        "seconds": 30})  # fmt: skip
        @example(
            frame={"type": "room.moderate", "client_msg_id": "m4", "action": "ban",
                   "user_id": Who("owner"), "reason": "a\x00b"}
        )  # fmt: skip
        @example(
            frame={"type": "room.moderate", "client_msg_id": "m5", "action": ["mute"],
                   "user_id": Who("other"), "duration": 60}
        )  # fmt: skip
        @example(
            frame={"type": "room.moderate", "client_msg_id": "m6", "action": {"mute": 1},
                   "user_id": Who("other")}
        )  # fmt: skip
        @example(
            frame={"type": "room.moderate", "client_msg_id": "m7", "action": "unban",
                   "user_id": Who("gone")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.report", "client_msg_id": "r1", "reason": "욕설",
                   "event_id": Target("theirs", 0, "canonical")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.report", "client_msg_id": "r2", "reason": "또",
                   "event_id": Target("theirs", 0, "upper")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.report", "client_msg_id": "r3", "reason": "a\x00b",
                   "event_id": Target("own", 0, "canonical")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.report", "client_msg_id": "r4", "reason": "x" * 201,
                   "event_id": Target("own", 0, "canonical")}
        )  # fmt: skip
        @example(
            frame={"type": "chat.report", "client_msg_id": "r5", "reason": "딴 방",
                   "event_id": Target("elsewhere", 0, "canonical")}
        )  # fmt: skip
        def exchange(frame):
            frame = resolve(frame, state.event_id, state.user_id)
            content = parsed(frame)
            if content is not None and content["type"] in SILENT_TYPES:
                silent_exchange(peer, who, content, frame, stats, reads, room)
                assert_up(live)
                return
            expected = None
            if content is not None and content["type"] in CHAT_TYPES:
                expected = {"auth_required"} if who != "member" else state.answers(content)
            elif content is not None and content["type"] in MODERATION_TYPES:
                if who != "member":
                    expected = {"auth_required"}
                elif content["type"] == "room.moderate":
                    expected = state.moderation_answers(content)
                else:
                    expected = state.report_answers(content)
            before = None
            if (
                who == "member"
                and content is not None
                and content["type"] in CHANGE_TYPES
                and state.change_payload_ok(content)
            ):
                before = state.stored_change(content)
                if before is not None and str(before.message.event_id) == uuid_of(
                    content["event_id"]
                ):
                    # A retry of an applied change is acknowledged again
                    # (test_a_retried_delete_is_acknowledged).
                    expected = expected | {"ack"}
            for _ in range(5):  # a member sending faster than the rate waits, like a client
                reply = peer.exchange(frame, {"error", "chat.ack"}, CHAT_CODES, stats)
                if reply.get("code") != "rate_limited":
                    break
                time.sleep(0.3)
            answer = "ack" if reply["type"] == "chat.ack" else reply["code"]
            if expected is not None:
                assert answer in expected | {"rate_limited", "unavailable"}, (
                    f"{short(frame)} got {reply}; expected one of {sorted(expected)}"
                )
            if content is not None and content["type"] in MODERATION_TYPES:
                stats[f"acc:{content['type']} {answer}"] += 1
            elif content is not None and content["type"] == "chat.send" and "gif_id" in content:
                stats[f"acc:chat.send gif_id {answer}"] += 1
            if reply["type"] == "chat.ack":
                assert who == "member", f"an anonymous socket was acknowledged: {reply}"
                assert content is not None, reply
                if content["type"] == "room.moderate":
                    raise AssertionError(f"an ordinary member's {short(frame)} got {reply}")
                if content["type"] == "chat.report":
                    state.check_report(content, reply)
                elif content["type"] == "chat.send":
                    check_send(frame, content, reply, watcher)
                    acked[reply["event_id"]] = frame
                    stats["acc:chat.send"] += 1
                else:
                    done = state.check_change(content, reply, watcher, before)
                    stats[f"acc:{content['type']} {done}"] += 1
            assert_up(live)

        try:
            exchange()
        finally:
            peer.drop()  # closing flushes the read marker the socket held back
            report(capsys, f"chat socket, {who}", examples, stats, started)
        watcher.assert_each_once()
        room.refresh_from_db()
        watcher.assert_whole_log(room.last_seq)
        reads.assert_typing_seen(reading.received, member if who == "member" else None, peer)
        reads.assert_marker(room, member)
        assert_catch_up_replays(live, room, watcher.frames)
    stored = Counter(
        str(e) for e in ChatMessage.objects.filter(room=room).values_list("event_id", flat=True)
    )
    assert set(acked) <= set(stored), "acknowledged but not stored"
    assert all(n == 1 for n in stored.values())
    state.assert_reactions_as_acknowledged()
    state.assert_stored_text_keeps_the_rule()
    state.assert_nothing_moderated()
    assert_fresh_room_delivers(live)


class ReadLedger:
    """What the fuzzed socket's valid ``chat.read`` and ``typing`` frames asked for."""

    def __init__(self):
        self.started = time.monotonic()
        self.highest: int | None = None  # the highest seq a valid chat.read asked for
        self.tail_then = 0  # the room's newest seq when that chat.read went out
        self.typing = 0  # valid typing frames sent

    def read(self, seq: int, room) -> None:
        if self.highest is None or seq > self.highest:
            self.highest = seq
            self.tail_then = ChatRoom.objects.values_list("last_seq", flat=True).get(pk=room.pk)

    def assert_marker(self, room, member) -> None:
        """The marker moved to what was asked (at least to the room's newest seq then) and
        never past the room's newest seq or what was asked; without a valid read it stayed
        where joining put it (the seed's first socket joined the room when it was empty)."""
        marker = RoomMember.objects.filter(room=room, user=member)
        if self.highest is None:
            assert marker.values_list("last_read_seq", flat=True).first() in (None, 0)
            return
        low = min(self.highest, self.tail_then)
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while (got := marker.values_list("last_read_seq", flat=True).get()) < low:
            assert time.monotonic() < deadline, f"marker {got}, asked {self.highest} ({low})"
            time.sleep(0.1)
        room.refresh_from_db()
        assert got <= min(self.highest, room.last_seq), (got, self.highest, room.last_seq)

    def assert_typing_seen(self, received: list[dict], member, peer: Peer) -> None:
        """room.typing came for the member only, at most once per TYPING_SECONDS per socket,
        and at least once when they typed."""
        seen = [f for f in received if f["type"] == "room.typing"]
        if member is None:
            assert seen == [], seen[:3]
            return
        assert all(
            f == {"type": "room.typing", "user": {"id": member.pk, "nickname": member.display_name}}
            for f in seen
        ), seen[:3]
        elapsed = time.monotonic() - self.started
        assert len(seen) <= min(self.typing, peer.opened * (elapsed / TYPING_SECONDS + 1)), (
            len(seen), self.typing, peer.opened, elapsed,
        )  # fmt: skip
        if self.typing:
            assert seen, f"{self.typing} typing frames, none reached the room"


def silent_exchange(
    peer: Peer, who: str, content: dict, frame: Any, stats: Counter, reads: ReadLedger, room
) -> None:
    """A ``chat.read`` or ``typing`` frame (issue 14, docs/protocol.md): anonymous sockets get
    ``auth_required``; a member's typing, and chat.read with a non-negative integer seq, get
    no answer; any other seq gets ``invalid_payload``."""
    seq = content.get("seq")
    if who != "member":
        code = "auth_required"
    elif content["type"] == "typing" or (
        isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
    ):
        code = None
    else:
        code = "invalid_payload"
    stats[f"acc:{content['type']} {code or 'silent'}"] += 1
    if code is None:
        if content["type"] == "chat.read":
            reads.read(seq, room)
        else:
            reads.typing += 1
        peer.exchange_silent(frame, {"error", "chat.ack"}, stats)
        return
    reply = peer.exchange(frame, {"error", "chat.ack"}, CHAT_CODES, stats)
    assert reply.get("code") == code, f"{short(frame)} got {reply}; expected {code}"


def check_send(frame: Any, content: dict, ack: dict, watcher: Watcher) -> None:
    """An acknowledged message is stored once and reaches the watcher, naming its original."""
    event_id = ack["event_id"]
    fields = [content.get(k) for k in ("client_msg_id", "body", "gif_url")]
    try:
        message = watcher.wait_for(
            lambda f: f["type"] == "chat.message" and f["event_id"] == event_id,
            f"chat.message {event_id}",
            DELIVERY_TIMEOUT,
        )
    except AssertionError as exc:
        refused = " (it holds text the rule refuses)" if has_forbidden(fields) else ""
        raise AssertionError(f"acknowledged {short(frame)}{refused}: {exc}") from None
    first = message["seq"] not in watcher.claimed  # not a retry of a stored message
    watcher.claimed.add(message["seq"])
    rows = list(ChatMessage.objects.filter(event_id=event_id))
    assert len(rows) == 1, f"{len(rows)} rows for acknowledged {event_id}"
    row = rows[0]
    assert not has_forbidden([row.body, row.client_msg_id, row.gif_url or ""]), row
    reply_to = uuid_of(content.get("reply_to")) if content.get("reply_to") is not None else None
    gif_id = uuid_of(content.get("gif_id")) if content.get("gif_id") is not None else None
    if first:
        assert (message["gif"] and message["gif"]["id"]) == gif_id, (message, gif_id)
        if gif_id:
            assert message["gif_url"] == message["gif"]["url"] == row.gif_upload.url, message
        shown = message["reply_to"]
        assert (shown and shown["event_id"]) == reply_to, (message, reply_to)
        if shown:
            assert row.reply_to.event_id == uuid.UUID(reply_to)
            assert not has_forbidden(shown), shown


def assert_catch_up_replays(live, room, live_frames: list[dict]) -> None:
    """A socket that catches up from ``after_seq=0`` gets the same log: each change as it was
    announced, each message (in its current state) at its seq."""
    numbered = [f for f in live_frames if "seq" in f]
    with live.room_socket(room, after_seq=0) as late:
        replayed = [late.recv_type(f["type"], timeout=DELIVERY_TIMEOUT) for f in numbered]
    for was, now in zip(numbered, replayed, strict=True):
        if was["type"] == "chat.message":
            assert (now["seq"], now["event_id"]) == (was["seq"], was["event_id"]), (was, now)
        else:
            assert now == was, f"replayed {now}, announced {was}"


ME_PATH = "/ws/me/"  # anonymous: closed with 4401 (there is nobody to notify)
ROOMS_LIST_PATH = "/ws/rooms/"
SOCKET_PATHS = st.one_of(
    st.builds(
        lambda kind, n: f"/ws/{kind}/{n}/",
        st.sampled_from(["rooms", "hakwons", "me"]),
        st.one_of(st.sampled_from([0, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]), st.integers(0)),
    ),
    st.builds(
        lambda kind, tail: f"/ws/{kind}/{tail}",
        st.sampled_from(["rooms", "hakwons", "direct", "nope", "rooms/1/extra", "me"]),
        st.text("abc-1/.", max_size=12),
    ),
    st.sampled_from(["/ws/", "/", "/ws", "/api/rooms/", "/healthz", "/ws/rooms/-1/", "/admin/"]),
    st.sampled_from([ME_PATH, "/ws/me", "/ws/me//", "/ws/ME/", "/ws/me/me/", "/ws/me/../"]),
)


def test_any_socket_path_is_refused_or_served_cleanly(live, capsys):
    """An unknown path or id: HTTP 403/404 at the handshake or a documented close (4404),
    never an HTTP 500 or a 1011 close; ``/ws/me/`` without a member: 4401."""
    stats: Counter = Counter()
    started = time.monotonic()

    @fuzz_settings(EXAMPLES["paths"])
    @given(path=SOCKET_PATHS)
    @example(path=ROOMS_LIST_PATH)
    def connect(path):
        stats["frames"] += 1
        try:
            sock = Socket(live.socket_url(path))
        except InvalidStatus as exc:
            status = exc.response.status_code
            stats[f"error:http {status}"] += 1
            assert status in (403, 404), f"{path}: HTTP {status}"
            return
        if path == ROOMS_LIST_PATH:  # the rooms list's socket (issue 18): open to anyone
            with sock:
                sock.send(type="rooms.watch", room_ids=[])
                assert sock.recv_type("rooms.counts", timeout=10)["rooms"] == []
            stats["served"] += 1
            return
        with sock:
            code = sock.close_code(timeout=2)
        stats[f"error:close {code}"] += 1
        if path == ME_PATH:
            assert code == 4401, f"{path}: closed with {code}"
        else:
            assert code in (4404, None), f"{path}: closed with {code}"
        assert_up(live)

    try:
        connect()
    finally:
        report(capsys, "socket paths", EXAMPLES["paths"], stats, started)


# --- the personal socket, /ws/me/ (issue 14) -----------------------------------------------


def me_answer(frame: Any, tokens: set[str]) -> str:
    """What the personal socket answers a frame (docs/protocol.md): it takes no type of its
    own, so everything is an error but a refresh with a valid token of its member."""
    raw = wire(frame)
    if (len(raw) if isinstance(raw, bytes) else len(raw.encode())) > MAX_FRAME:
        return "too_large"
    if isinstance(raw, bytes):
        return "invalid_json"
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "invalid_json"
    if not isinstance(content, dict):
        return "invalid_json"
    if not isinstance(content.get("type"), str):
        return "unknown_type"
    if content["type"] == "auth.refresh":
        token = content.get("token")
        return "auth.ack" if isinstance(token, str) and token in tokens else "invalid_token"
    return "unknown_type"


ME_TYPES = [
    "notification.read",
    "notification.created",
    "notification.unread",
    "notifications.read",
    "chat.read",
    "typing",
    "auth.refresh",
    "user.frame",  # the group message type: never a client's
    "ping",
]


def me_frames(tokens: list[str]) -> st.SearchStrategy:
    token = st.sampled_from(tokens) | any_text | json_values
    ids = st.lists(st.integers() | st.sampled_from(HUGE_INTS) | json_values, max_size=5)
    real = st.one_of(
        st.fixed_dictionaries(
            {"type": st.sampled_from(ME_TYPES)},
            optional={"ids": ids, "all": st.booleans() | json_values, "seq": read_seqs},
        ),
        st.fixed_dictionaries({"type": st.just("auth.refresh")}, optional={"token": token}),
        st.fixed_dictionaries({"type": st.just("user.frame"), "frame": st.just(PROBE)}),
    )
    fields = {"ids": ids, "all": st.booleans(), "token": token, "frame": any_text}
    return frames(real, ME_TYPES, fields)


def test_the_personal_socket_answers_every_frame_of_a_member(live, capsys):
    """A member's ``/ws/me/`` answers every frame with the error it calls for (or auth.ack),
    never closes, changes nothing stored and still delivers the next notification."""
    member, fan = make_user(), make_user()
    caption = make_comment(hakwon=make_hakwon(), author=member, content="알림 받을 캡션")
    unread = Notification.objects.create(
        notification_id=uuid.uuid4(), recipient=member, kind="mention", text="읽지 않음",
        url="/rooms/1/", created_at=timezone.now(), updated_at=timezone.now(),
    )  # fmt: skip
    tokens = [str(AccessToken.for_user(member)), str(AccessToken.for_user(fan)), "x.y.z", ""]
    valid = {tokens[0]}
    peer = Peer("me", lambda: live.me_socket(member))
    stats: Counter = Counter()
    started = time.monotonic()
    examples = EXAMPLES["me member"]

    @fuzz_settings(examples)
    @given(frame=me_frames(tokens))
    @example(frame={"type": "notification.read", "all": True})
    @example(frame={"type": "notification.read", "ids": [unread.pk]})
    @example(frame={"type": "user.frame", "frame": PROBE})
    @example(frame={"type": "auth.refresh", "token": tokens[0]})
    @example(frame={"type": "auth.refresh", "token": tokens[1]})
    def exchange(frame):
        expected = me_answer(frame, valid)
        reply = peer.exchange(frame, {"error", "auth.ack"}, ME_CODES, stats)
        answer = "auth.ack" if reply["type"] == "auth.ack" else reply["code"]
        assert answer in {expected, "unavailable"}, f"{short(frame)} got {reply}; not {expected}"
        assert_up(live)

    try:
        exchange()
        sock = peer.get()  # the socket the fuzz used, still open
        hakwon_services.reply_create(parent=caption, author=fan, content="아직 들려요?")
        created = sock.recv_type("notification.created", timeout=DELIVERY_TIMEOUT * 2)
        assert created["notification"]["text"] == "아직 들려요?", created
        assert created["unread"] == 2, created
    finally:
        assert peer.opened == 1, f"the socket was lost {peer.opened - 1} times"
        peer.drop()
        report(capsys, "personal socket, member", examples, stats, started)
    unread.refresh_from_db()
    assert unread.read_at is None, "a socket frame marked a notification read"


ANONYMOUS_TOKENS = st.one_of(
    st.none(),
    st.sampled_from(["", "x.y.z", "null", "Bearer", "a" * 2000]),
    sendable_text,
)


def test_the_personal_socket_closes_anonymous_ones_with_4401(live, capsys):
    """Whatever an anonymous socket passes as a token (none, junk, expired, a deleted
    member's) or sends, ``/ws/me/`` closes it with 4401 and sends it nothing else."""
    ghost = make_user()
    ghosts = str(AccessToken.for_user(ghost))
    ghost.delete()
    expired = AccessToken.for_user(make_user())
    expired.set_exp(lifetime=-timedelta(minutes=1))
    stats: Counter = Counter()
    started = time.monotonic()
    examples = EXAMPLES["me anonymous"]

    @fuzz_settings(examples)
    @given(
        token=ANONYMOUS_TOKENS | st.sampled_from([ghosts, str(expired)]),
        frame=st.none() | me_frames(["x.y.z"]),
    )
    def connect(token, frame):
        stats["frames"] += 1
        query = {} if token is None else {"token": token}
        try:
            sock = Socket(live.socket_url(ME_PATH, **query))
        except InvalidStatus as exc:  # a token too long for a request line: refused before
            stats[f"error:http {exc.response.status_code}"] += 1
            assert exc.response.status_code in (400, 403, 414), exc.response.status_code
            return
        with sock:
            if frame is not None:
                try:
                    sock.send_raw(wire(frame))
                except ConnectionClosed:
                    pass
            code = sock.close_code(timeout=REPLY_TIMEOUT)
        stats[f"error:close {code}"] += 1
        assert code == 4401, f"token {short(token)}: closed with {code}"
        kinds = {f["type"] for f in sock.received}
        assert kinds <= {"closing", "error"}, f"an anonymous socket was sent {sock.received}"
        assert [f["code"] for f in sock.received if f["type"] == "closing"] == [4401]
        assert_up(live)

    try:
        connect()
    finally:
        report(capsys, "personal socket, anonymous", examples, stats, started)


# --- found by the fuzz -----------------------------------------------------------------------


def test_a_retried_delete_is_acknowledged(live):
    """Issue 13: a change is "idempotent the same way" as chat.send, whose retry is acknowledged.
    A client whose ack for a delete was lost retries it once its socket is back; the delete was
    made, so the retry is acknowledged again (not refused as ``deleted``)."""
    room, member = make_room(), make_user()
    with live.room_socket(room, member) as sock:
        event_id = until_acked(sock, "chat.send", body="지울 글")["event_id"]
        sock.recv_type("chat.message")
        retried = {"type": "chat.delete", "client_msg_id": "delete-1", "event_id": event_id}
        sock.send(**retried)
        assert sock.recv_type("chat.ack")["client_msg_id"] == "delete-1"
        sock.recv_type("chat.deleted")
        sock.send(**retried)  # the same frame again
        while (answer := sock.recv()).get("client_msg_id") != "delete-1":
            pass
    assert answer == {"type": "chat.ack", "client_msg_id": "delete-1", "event_id": event_id}


@pytest.mark.parametrize("action", [["mute"], {"mute": 1}], ids=["list", "object"])
def test_a_room_moderate_whose_action_is_not_text_is_invalid_payload(live, action):
    """Issue 15 (found by the fuzz): an action that is a JSON array or object is no action;
    the member hears ``invalid_payload`` and the socket stays open."""
    room = make_room()
    member, other = make_user(), make_user()
    with live.room_socket(room, member) as sock:
        sock.send(
            type="room.moderate", client_msg_id="m-1", action=action, user_id=other.pk,
            duration=60,
        )  # fmt: skip
        answer = sock.recv_type("error")
        assert (answer["code"], answer["client_msg_id"]) == ("invalid_payload", "m-1"), answer
        sock.send(type="fuzz.probe")
        assert sock.recv_type("error")["code"] == "unknown_type"


def test_a_client_msg_id_reused_for_another_message_changes_it(live):
    """A client that reuses a client_msg_id for a change to another message (as it may for a
    send in another room) is making another change: it is made, not dropped by the relay as a
    redelivery of the first (a change's id includes the message)."""
    room, member = make_room(), make_user()
    with live.room_socket(room, member) as sock:
        first = until_acked(sock, "chat.send", body="하나")["event_id"]
        second = until_acked(sock, "chat.send", body="둘")["event_id"]
        sock.collect("chat.message", 2)
        sock.send(type="chat.delete", client_msg_id="same", event_id=first)
        assert sock.recv_type("chat.ack")["event_id"] == first
        assert sock.recv_type("chat.deleted")["event_id"] == first
        sock.send(type="chat.delete", client_msg_id="same", event_id=second)
        while (answer := sock.recv()).get("client_msg_id") != "same":
            pass
        if answer["type"] == "chat.ack":
            assert answer["event_id"] == second
            deleted = sock.quiet_for(3, "chat.deleted")
            assert [f["event_id"] for f in deleted] == [second], "acknowledged, never made"
    if answer["type"] == "chat.ack":
        assert ChatMessage.objects.get(event_id=second).is_deleted
