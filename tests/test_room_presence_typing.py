"""Typing, read markers and who is online, on the room socket against the real stack (Uvicorn,
Kafka, relay, Redis, the database): typing travels the channel layer only, ``chat.read`` is
coalesced per socket and never lowers the marker, and ``room_presence`` lists who is there."""

from __future__ import annotations

import time
import uuid
from itertools import pairwise

import pytest
from django.conf import settings
from kafka import KafkaConsumer

from chat.models import RoomMember
from chat.presence import online_count, room_presence
from zzalu import envelope
from zzalu.redis import get_redis

from .conftest import make_room, make_user, store_messages
from .ws import Socket

pytestmark = pytest.mark.services


def marker(room, user) -> int | None:
    return (
        RoomMember.objects.filter(room=room, user=user)
        .values_list("last_read_seq", flat=True)
        .first()
    )


def wait_for(check, timeout: float = 10, every: float = 0.05):
    """Poll ``check()`` until it returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {result!r} after {timeout} s")
        time.sleep(every)
    return result


def kafka_records_until(room_id: int, event_id: str, timeout: float = 20) -> list[dict]:
    """Every ``chat.events`` record keyed by the room, up to the one with ``event_id`` (the
    room's records share a partition, so whatever the room wrote before it is among them)."""
    consumer = KafkaConsumer(
        settings.KAFKA_TOPICS["chat"]["name"],
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        auto_offset_reset="earliest",
    )
    key, found, deadline = str(room_id).encode(), [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                found += [envelope.decode(r.value) for r in records if r.key == key]
            if any(record.get("event_id") == event_id for record in found):
                return found
    finally:
        consumer.close()
    raise AssertionError(f"{event_id} never reached Kafka")


# --- typing ----------------------------------------------------------------------------------


def test_typing_reaches_the_room_once_per_two_seconds_and_never_kafka(live):
    room, other_room = make_room(), make_room()
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    with (
        live.room_socket(room, alice) as a,
        live.room_socket(room, bob) as b,
        live.room_socket(room) as reader,
        live.room_socket(other_room, bob) as elsewhere,
    ):
        for sock in (a, b, reader, elsewhere):
            sock.recv_type("room.presence")  # its own arrival: the socket is in the room

        for _ in range(5):  # a burst within half a second: one of them reaches the room
            a.send(type="typing")
            time.sleep(0.1)
        expected = {"type": "room.typing", "user": {"id": alice.pk, "nickname": "앨리스"}}
        assert b.recv_type("room.typing") == expected
        assert reader.recv_type("room.typing") == expected  # anonymous readers see it too
        # The sender's own sockets get it as well (the page leaves its own member out).
        assert a.recv_type("room.typing") == expected
        assert b.quiet_for(0.5, "room.typing") == []
        assert a.quiet_for(0, "room.typing") == []
        assert elsewhere.quiet_for(0, "room.typing") == []
        # No error for the excess either: it is dropped without a word.
        assert [f for f in a.received if f["type"] == "error"] == []

        time.sleep(2.0)  # over two seconds after the first: the next one goes through
        a.send(type="typing")
        assert b.recv_type("room.typing") == expected
        b.send(type="typing")  # each socket has its own allowance
        assert [f["user"]["nickname"] for f in a.collect("room.typing", 2)] == ["앨리스", "밥"]

        client_msg_id = uuid.uuid4().hex
        a.send(type="chat.send", client_msg_id=client_msg_id, body="다 썼다")
        event_id = a.recv_type("chat.ack")["event_id"]

    records = kafka_records_until(room.pk, event_id)
    assert [r["type"] for r in records if "typing" in r["type"]] == []
    assert {r["type"] for r in records} <= {"room.presence", "chat.message"}


def test_anonymous_readers_cannot_type_or_mark_read(live):
    room = make_room()
    with live.room_socket(room) as reader:
        reader.recv_type("room.presence")
        reader.send(type="typing")
        assert reader.recv_type("error")["code"] == "auth_required"
        reader.send(type="chat.read", seq=1)
        assert reader.recv_type("error")["code"] == "auth_required"
        assert reader.quiet_for(0.5, "room.typing") == []


# --- read markers ----------------------------------------------------------------------------


def test_opening_the_room_socket_joins_the_room(live):
    room, alice = make_room(), make_user()
    store_messages(room, room.owner, 3)
    assert marker(room, alice) is None
    with live.room_socket(room, alice) as a:
        a.recv_type("room.presence")
        # A new member starts with everything so far read.
        assert marker(room, alice) == 3
    with live.room_socket(room, alice) as a:  # again: still one membership, marker kept
        a.recv_type("room.presence")
    assert RoomMember.objects.filter(room=room, user=alice).count() == 1
    assert marker(room, alice) == 3


def test_chat_read_is_coalesced_and_never_lowers_the_marker(live):
    room, alice = make_room(), make_user()
    with live.room_socket(room, alice) as a:
        a.recv_type("room.presence")
        assert marker(room, alice) == 0  # joined while the room was empty
        store_messages(room, room.owner, 40)

        # A reader marking every message it shows: 30 frames in about a second, the marker
        # watched all along.
        seen: list[tuple[float, int]] = []

        def watch() -> int:
            seen.append((time.monotonic(), marker(room, alice)))
            return seen[-1][1]

        for seq in range(1, 31):
            a.send(type="chat.read", seq=seq)
            time.sleep(0.03)
            watch()
        wait_for(lambda: watch() == 30, every=0.02)
        values = [value for _, value in seen]
        assert values == sorted(values)  # the marker only moves forward
        # At most a couple of writes (the first at once, the rest together later), not thirty.
        assert len(set(values) - {0}) <= 2, sorted(set(values))
        first_write = next(at for at, value in seen if value)
        last_write = next(at for at, value in seen if value == 30)
        assert last_write - first_write >= 1.0  # the second write waited for its turn

        # Lower seqs change nothing, even once the writer's turn has come again, nor from
        # another socket of the same member (its first write goes at once).
        a.send(type="chat.read", seq=5)
        a.send(type="chat.read", seq=0)
        with live.room_socket(room, alice) as again:
            again.send(type="chat.read", seq=7)
            time.sleep(2.5)
        assert marker(room, alice) == 30

        # Past the room's newest seq: the marker stops at the newest.
        a.send(type="chat.read", seq=10_000)
        wait_for(lambda: marker(room, alice) == 40)
        assert [f for f in a.received if f["type"] == "error"] == []


def test_a_closing_socket_writes_what_it_held_back(live):
    room, alice = make_room(), make_user()
    with live.room_socket(room, alice) as a:
        a.recv_type("room.presence")
        store_messages(room, room.owner, 10)
        a.send(type="chat.read", seq=4)
        wait_for(lambda: marker(room, alice) == 4)  # the first write goes at once
        a.send(type="chat.read", seq=9)  # held back for two seconds...
        closed_at = time.monotonic()
    wait_for(lambda: marker(room, alice) == 9)  # ...unless the socket closes first
    assert time.monotonic() - closed_at < 1.5


def test_chat_read_needs_a_non_negative_integer_seq(live):
    room, alice = make_room(), make_user()
    store_messages(room, room.owner, 3)
    with live.room_socket(room, alice) as a:
        for seq in (-1, "2", 1.5, True, None, [3]):
            a.send(type="chat.read", seq=seq)
            error = a.recv_type("error")
            assert error["code"] == "invalid_payload" and "seq" in error["detail"], seq
        a.send(type="chat.read")  # no seq at all
        assert a.recv_type("error")["code"] == "invalid_payload"
        time.sleep(0.5)
    assert marker(room, alice) == 3  # nothing refused was written


def test_chat_read_and_typing_do_not_use_up_the_send_rate(live):
    room, alice = make_room(), make_user()
    store_messages(room, room.owner, 5)
    with live.room_socket(room, alice) as a:
        for seq in range(1, 31):
            a.send(type="chat.read", seq=seq % 6)
            a.send(type="typing")
        client_msg_id = uuid.uuid4().hex
        a.send(type="chat.send", client_msg_id=client_msg_id, body="아직 보낼 수 있어요")
        assert a.recv_type("chat.ack")["client_msg_id"] == client_msg_id
        assert [f for f in a.received if f["type"] == "error"] == []


# --- who is online ---------------------------------------------------------------------------


def test_room_presence_lists_each_member_once_and_counts_anonymous_readers(live):
    room = make_room()
    alice = make_user(nickname="앨리스", profile_path="https://media.test/alice.png")
    bob = make_user(nickname="밥")
    entry = {
        alice.pk: {"id": alice.pk, "nickname": "앨리스", "profile_path": alice.profile_path},
        bob.pk: {"id": bob.pk, "nickname": "밥", "profile_path": ""},
    }
    assert room_presence(room.pk) == {"members": [], "anonymous": 0}

    a1 = live.room_socket(room, alice)
    a2 = live.room_socket(room, alice)
    b = live.room_socket(room, bob)
    reader = live.room_socket(room)
    try:
        wait_for(lambda: online_count(room.pk) == 4)  # every socket's lease is in Redis
        # Sorted by nickname (밥 before 앨리스), each member once; counts stay sockets.
        assert room_presence(room.pk) == {
            "members": [entry[bob.pk], entry[alice.pk]],
            "anonymous": 1,
        }

        a1.close()  # alice still has a socket here
        wait_for(lambda: online_count(room.pk) == 3)
        assert room_presence(room.pk)["members"] == [entry[bob.pk], entry[alice.pk]]

        b.close()
        wait_for(lambda: online_count(room.pk) == 2)
        assert room_presence(room.pk) == {"members": [entry[alice.pk]], "anonymous": 1}

        reader.close()
        wait_for(lambda: online_count(room.pk) == 1)
        assert room_presence(room.pk) == {"members": [entry[alice.pk]], "anonymous": 0}
    finally:
        for sock in (a1, a2, b, reader):
            sock.close()
    wait_for(lambda: room_presence(room.pk) == {"members": [], "anonymous": 0})


# --- a crowd arriving ----------------------------------------------------------------------


def test_a_crowd_joining_costs_each_socket_one_presence_frame_a_second(live):
    """30 members open the room as fast as they can: the first socket hears of them in at
    most one ``room.presence`` a second (web process's fan-out, zzalu.fanout), and the last
    one it hears counts everyone."""
    room, watcher = make_room(), make_user()
    crowd = [make_user() for _ in range(30)]
    with live.room_socket(room, watcher) as w:
        w.recv_type("room.presence")  # its own arrival
        seen: list[tuple[float, dict]] = []
        sockets = []
        try:
            for member in crowd:
                sockets.append(live.room_socket(room, member))
            deadline = time.monotonic() + 15
            while not seen or seen[-1][1]["online"] < len(crowd) + 1:
                assert time.monotonic() < deadline, [frame["online"] for _, frame in seen]
                frame = w.recv_type("room.presence", timeout=deadline - time.monotonic())
                seen.append((time.monotonic(), frame))
        finally:
            for socket in sockets:
                socket.close()
    gaps = [later - earlier for (earlier, _), (later, _) in pairwise(seen)]
    assert all(gap > 0.8 for gap in gaps), gaps  # one a second (allowing the reader's jitter)
    assert len(seen) < len(crowd) / 2, len(seen)
    assert seen[-1][1]["online"] == len(crowd) + 1


def test_room_sockets_subscribe_no_channel_of_their_own(live):
    """Their group messages come through the fan-out: opening a room (or the rooms list) adds
    no Redis subscription per socket, only the process's one for the room."""

    def subscribed(kind: str) -> int:
        return len(get_redis().pubsub_channels(f"{settings.REDIS_PREFIX}{kind}*"))

    room, members = make_room(), [make_user() for _ in range(5)]
    before = subscribed("specific.")
    sockets = [live.room_socket(room, member) for member in members]
    try:
        for sock in sockets:
            sock.recv_type("room.presence")
        sockets.append(Socket(live.socket_url("/ws/rooms/")))
        sockets[-1].send(type="rooms.watch", room_ids=[room.pk])
        sockets[-1].recv_type("rooms.counts")
        assert subscribed("specific.") <= before
        assert subscribed("fanout.") >= 2  # the room's group and its watchers'
    finally:
        for sock in sockets:
            sock.close()
