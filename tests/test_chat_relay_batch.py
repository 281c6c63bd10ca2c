"""The relay's batch handler as a plain function: records in, rows and group messages out.

Records here are built in the test and the announcements collected in a list; the pipeline
with a real broker and channel layer is tested in test_chat_flow and test_chat_reliability.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from chat import events, relay
from chat.models import ChatMessage, ChatRoom, Reaction
from chat.services import UnstorableRecord, chat_event_id
from zzalu import envelope
from zzalu.kafka import Record
from zzalu.relay import PoisonRecord, Relay

from .conftest import make_room, make_user

pytestmark = pytest.mark.django_db


def message_record(room, sender, client_msg_id: str, body: str, offset: int) -> Record:
    event = events.message_record(
        event_id=chat_event_id(sender_id=sender.pk, room_id=room.pk, client_msg_id=client_msg_id),
        room_id=room.pk,
        sender=sender.public_profile,
        body=body,
        gif_url=None,
        client_msg_id=client_msg_id,
        sent_at=datetime.now(UTC),
    )
    return Record("chat.events", 0, offset, str(room.pk).encode(), envelope.encode(event))


def raw(value, offset: int) -> Record:
    return Record(
        "chat.events",
        0,
        offset,
        b"1",
        value if isinstance(value, bytes) else json.dumps(value).encode(),
    )


def test_a_batch_is_numbered_per_room_and_announced_once_per_room():
    room, other, member = make_room(), make_room(), make_user()
    records = [
        message_record(room if i % 2 else other, member, f"c{i}", f"b{i}", i) for i in range(6)
    ]
    announced = []
    assert relay.handle_batch(records, announce=announced.extend) == 6
    assert [m["type"] for _, m in announced] == ["chat.frames", "chat.frames"]
    by_group = {group: m for group, m in announced}
    assert by_group[f"room.{room.pk}"]["seqs"] == [1, 2, 3]
    frames = [json.loads(f) for f in by_group[f"room.{room.pk}"]["frames"]]
    assert [f["body"] for f in frames] == ["b1", "b3", "b5"]


def test_redelivery_stores_nothing_twice_and_announces_again():
    room, member = make_room(), make_user()
    records = [message_record(room, member, f"c{i}", f"b{i}", i) for i in range(3)]
    relay.handle_batch(records, announce=lambda _: None)
    again = []
    relay.handle_batch(
        [*records, message_record(room, member, "c3", "b3", 3)], announce=again.extend
    )
    assert ChatMessage.objects.filter(room=room).count() == 4
    assert again[0][1]["seqs"] == [1, 2, 3, 4]  # receivers drop the seqs they already have


def test_records_that_can_never_be_stored_are_poison_and_their_batch_mates_are_stored():
    room, member = make_room(), make_user()
    good = message_record(room, member, "ok", "fine", 10)
    broken = json.loads(good.value)
    presence = {"v": 1, "type": "room.presence", "room_id": room.pk}
    poison = [
        raw(b"\x00not json", 1),
        raw([1, 2], 2),
        raw({"type": "chat.message"}, 3),
        raw({**broken, "event_id": "not-a-uuid"}, 4),
        raw({**broken, "room_id": "abc"}, 5),
        raw({**broken, "sender": "nobody"}, 6),
        raw({**broken, "sent_at": "yesterday"}, 7),
        raw({**broken, "client_msg_id": "x" * 65}, 8),
        raw({"v": 1, "type": "chat.removed", "room_id": room.pk, "event_id": "nope"}, 9),
        raw({"v": 1, "type": "something.else", "room_id": room.pk}, 11),
        raw({**broken, "room_id": 10**30}, 12),
        raw({**broken, "body": "a\u0000b"}, 13),
        raw({**broken, "sent_at": "9999-12-31T23:59:59-14:00"}, 14),  # stored, then unreadable
        raw({**broken, "sender": {**broken["sender"], "nickname": "a\u0001b"}}, 15),
        raw({**presence, "joined": {"x": 1}}, 16),
        raw({**presence, "left": {"nickname": "\x1b"}}, 17),
    ]
    for record in poison:
        with pytest.raises(PoisonRecord):
            relay.handle_batch([record], announce=lambda _: None)
    # In the relay, a batch holding them stores the good record and dead-letters the rest.
    dead = []
    worker = Relay(
        consumer=OnePoll([*poison, good]),
        handlers={"chat.events": relay.handle_batch},
        announce=lambda _: None,
        dead_letter=lambda record, exc, attempts: dead.append(record.offset),
    )
    assert worker.step() == len(poison) + 1
    assert sorted(dead) == sorted(r.offset for r in poison)
    assert list(ChatMessage.objects.values_list("body", flat=True)) == ["fine"]


class OnePoll:
    def __init__(self, records):
        self.records = records

    def poll(self, timeout_ms=250, max_records=500):
        records, self.records = self.records, []
        return {("chat.events", 0): records} if records else {}

    def commit(self):
        pass

    def lag(self):
        return {}


def test_a_message_for_a_room_that_no_longer_exists_is_poison():
    room, member = make_room(), make_user()
    record = message_record(room, member, "late", "too late", 1)
    room.delete()
    with pytest.raises(UnstorableRecord, match="unknown room"):
        relay.handle_batch([record], announce=lambda _: None)
    assert not ChatMessage.objects.exists()


def change_record(type_: str, room, actor, event_id: str, offset: int, **fields) -> Record:
    event = events.change_record(
        type_,
        change_id=str(uuid.uuid4()),
        room_id=room.pk,
        event_id=event_id,
        actor={"id": actor.pk, "nickname": actor.nickname},
        client_msg_id=f"c{offset}",
        at=envelope.iso(datetime.now(UTC)),
        **fields,
    )
    return Record("chat.events", 0, offset, str(room.pk).encode(), envelope.encode(event))


def room_log(room, alice, bob) -> list[Record]:
    """A message, an edit, a reply, reactions (one repeated), a delete, and two changes that
    no longer apply: what rebuilding meets in one batch."""
    first = message_record(room, alice, "m1", "원문", 0)
    first_id = envelope.decode(first.value)["event_id"]
    # alice answers herself: a reply to someone else would also produce a notification.
    reply = envelope.decode(message_record(room, alice, "m2", "답장", 2).value)
    reply["reply_to"] = first_id
    return [
        first,
        change_record(events.CHAT_EDITED, room, alice, first_id, 1, body="고침"),
        Record("chat.events", 0, 2, str(room.pk).encode(), envelope.encode(reply)),
        change_record(events.CHAT_REACTION, room, bob, first_id, 3, emoji="👍", added=True),
        change_record(events.CHAT_REACTION, room, bob, first_id, 4, emoji="👍", added=True),
        change_record(events.CHAT_DELETED, room, alice, first_id, 5, deleted_by="author"),
        change_record(events.CHAT_EDITED, room, alice, first_id, 6, body="too late"),
        change_record(events.CHAT_EDITED, room, bob, reply["event_id"], 7, body="not mine"),
        message_record(room, alice, "m3", "끝", 8),
    ]


def test_a_batch_numbers_messages_and_changes_in_log_order():
    room, alice, bob = make_room(), make_user(), make_user()
    records = room_log(room, alice, bob)
    first_id = envelope.decode(records[0].value)["event_id"]
    announced = []
    assert relay.handle_batch(records, announce=announced.extend) == 6
    ((group, message),) = announced
    assert group == f"room.{room.pk}"
    frames = [json.loads(f) for f in message["frames"]]
    assert message["seqs"] == [1, 2, 3, 4, 5, 6]
    assert [f["type"] for f in frames] == [
        "chat.message", "chat.edited", "chat.message", "chat.reaction", "chat.deleted",
        "chat.message",
    ]  # fmt: skip
    assert frames[2]["reply_to"]["event_id"] == first_id
    assert frames[3]["count"] == 1  # the second identical reaction changed nothing
    original = ChatMessage.objects.get(event_id=first_id)
    assert original.body == "고침" and original.is_deleted and original.deleted_by == "author"
    assert Reaction.objects.filter(message=original).count() == 1
    assert ChatMessage.objects.get(event_id=frames[2]["event_id"]).body == "답장"

    # Redelivered, the batch stores nothing new and announces the same entries again.
    again = []
    relay.handle_batch(records, announce=again.extend)
    assert again[0][1]["seqs"] == [1, 2, 3, 4, 5, 6]
    assert ChatRoom.objects.get(pk=room.pk).last_seq == 6


def test_the_same_log_gets_the_same_seqs_however_it_is_cut_into_batches():
    alice, bob = make_user(), make_user()
    whole, one_by_one = make_room(), make_room()
    announced = []
    relay.handle_batch(room_log(whole, alice, bob), announce=announced.extend)
    for record in room_log(one_by_one, alice, bob):
        relay.handle_batch([record], announce=announced.extend)

    def numbered(room) -> list[tuple[int, str]]:
        frames = [
            json.loads(frame)
            for group, message in announced
            if group == f"room.{room.pk}"
            for frame in message["frames"]
        ]
        return sorted((f["seq"], f["type"]) for f in frames)

    assert numbered(whole) == numbered(one_by_one) and len(numbered(whole)) == 6
