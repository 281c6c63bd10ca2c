"""The relay's batch handler as a plain function: records in, rows and group messages out.

Records here are built in the test and the announcements collected in a list; the pipeline
with a real broker and channel layer is tested in test_chat_flow and test_chat_reliability.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chat import events, relay
from chat.models import ChatMessage
from chat.services import chat_event_id
from zzalu import envelope
from zzalu.kafka import Record

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


def test_records_that_can_never_be_stored_are_skipped_not_retried_forever():
    room, member = make_room(), make_user()
    good = message_record(room, member, "ok", "fine", 10)
    broken = json.loads(good.value)
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
    ]
    announced = []
    assert relay.handle_batch([*poison, good], announce=announced.extend) == 1
    assert list(ChatMessage.objects.values_list("body", flat=True)) == ["fine"]


def test_messages_for_a_room_that_no_longer_exists_are_dropped():
    room, member = make_room(), make_user()
    record = message_record(room, member, "late", "too late", 1)
    room.delete()
    assert relay.handle_batch([record], announce=lambda _: None) == 0
    assert not ChatMessage.objects.exists()
