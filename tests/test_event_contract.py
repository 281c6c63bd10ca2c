"""The Kafka events are a versioned contract: every record the app writes to chat.events,
hakwon.events and notifications.events matches its JSON Schema in docs/schemas/."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.conf import settings
from jsonschema import Draft202012Validator
from kafka import KafkaConsumer

from chat.changes import message_remove
from chat.models import ChatMessage
from chat.moderation import moderation_act
from comments import services as hakwon
from zzalu import envelope
from zzalu.kafka import dead_letter_topic

from .conftest import make_hakwon, make_room, make_user

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def schemas() -> dict[str, dict]:
    """Every record type's schema, by its ``type``."""
    found = {}
    for path in SCHEMAS.glob("*.v1.json"):
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        found[schema["properties"]["type"]["const"]] = schema
    return found


def validators() -> dict[str, Draft202012Validator]:
    return {
        type_: Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        for type_, schema in schemas().items()
    }


def written_types() -> set[str]:
    """The types the app writes now. A ``"deprecated": true`` schema is a type only old logs
    hold (consumers still read it): validated when met, never required, never written."""
    return {type_ for type_, schema in schemas().items() if not schema.get("deprecated")}


def read_all(topic: str, settle: float) -> list:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, auto_offset_reset="earliest"
    )
    records, quiet_since = [], time.monotonic()
    while time.monotonic() - quiet_since < settle:
        for batch in consumer.poll(timeout_ms=500).values():
            records += batch
            quiet_since = time.monotonic()
    consumer.close()
    return records


def read_topic(kind: str, settle: float = 3.0) -> list[dict]:
    """Every record the app wrote to the topic. Records other programs wrote there on purpose
    (the poison-record tests) were dead-lettered by the relay: they are not the app's."""
    topic = settings.KAFKA_TOPICS[kind]["name"]
    foreign = set()
    for letter in read_all(dead_letter_topic(topic), settle=1.0):
        headers = dict(letter.headers)
        foreign.add((int(headers["dlq.source.partition"]), int(headers["dlq.source.offset"])))
    return [
        envelope.decode(r.value)
        for r in read_all(topic, settle)
        if (r.partition, r.offset) not in foreign
    ]


def acked(sock, type_: str, client_msg_id: str, **fields) -> dict:
    sock.send(type=type_, client_msg_id=client_msg_id, **fields)
    answer = sock.answer(client_msg_id)
    assert answer["type"] == "chat.ack", answer
    return answer


def said(sock, client_msg_id: str, **fields) -> dict:
    """Send a message; its chat.message frame once the room has it."""
    event_id = acked(sock, "chat.send", client_msg_id, **fields)["event_id"]
    while (message := sock.recv_type("chat.message"))["event_id"] != event_id:
        pass
    return message


def test_every_event_on_every_topic_matches_its_schema(live):
    room, alice, bob = make_room(), make_user(), make_user()
    moderator = make_user(staff=True, is_superuser=True)
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        # Both opened the room (they are members): the first message mentions bob, the
        # second, bob's reply, notifies alice.
        target = said(
            a, "contract-1", body=f"계약 @{bob.nickname}", gif_url="https://g.test/a.gif"
        )["event_id"]
        b.recv_type("chat.message")  # stored: it can be answered
        answer = said(b, "contract-2", body="답장", reply_to=target)
        assert answer["reply_to"]["event_id"] == target
        for sock, type_, fields in [
            (a, "chat.edit", {"body": "고친 계약"}),
            (b, "chat.react", {"emoji": "👍"}),
            (b, "chat.unreact", {"emoji": "👍"}),
            (a, "chat.delete", {}),
        ]:
            ack = acked(sock, type_, f"contract-{type_}", event_id=target, **fields)
            assert ack["event_id"] == target  # a change's ack names the message it changed
        message_remove(message=ChatMessage.objects.get(event_id=answer["event_id"]), user=moderator)
        removed = a.collect("chat.deleted", 2)[-1]
        assert (removed["event_id"], removed["deleted_by"]) == (answer["event_id"], "staff")
        numbered = [f for f in a.received if "seq" in f]
        assert [f["seq"] for f in numbered] == list(range(1, 8))
        assert [f["type"] for f in numbered] == [
            "chat.message", "chat.message", "chat.edited", "chat.reaction", "chat.reaction",
            "chat.deleted", "chat.deleted",
        ]  # fmt: skip

    today = make_hakwon()
    caption = hakwon.comment_create(hakwon=today, author=alice, content="캡션")
    reply = hakwon.reply_create(parent=caption, author=bob, content="답글")
    hakwon.comment_edit(comment=caption, user=alice, content="고친 캡션")
    hakwon.comment_like(comment=caption, user=bob)
    hakwon.comment_delete(comment=reply, user=bob)
    hakwon.hakwon_close(hakwon=today)

    # Moderation in a room alice owns: an action on a member, and one on the room.
    ruled = make_room(owner=alice)
    for payload in (
        {"action": "mute", "user_id": bob.pk, "duration": 60},
        {"action": "ban", "user_id": bob.pk, "reason": "도배"},
        {"action": "slow_mode", "seconds": 30},
    ):
        moderation_act(room_id=ruled.pk, actor=alice, payload=payload)

    checks, required = validators(), written_types()
    seen: set[str] = set()
    mine = {alice.pk, bob.pk}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        chat, notices = read_topic("chat"), read_topic("notifications")
        for record in chat + read_topic("hakwon") + notices:
            if record["type"] == "test.ping":  # written by the broker round-trip test
                continue
            errors = [e.message for e in checks[record["type"]].iter_errors(record)]
            assert errors == [], (record, errors)
            seen.add(record["type"])
        # A record published twice (outbox, retried relay batch) is the same record again.
        notices = list(
            {
                (r["notification_id"], r.get("event_id")): r
                for r in notices
                if r.get("recipient_id") in mine
            }.values()
        )
        if required <= seen and len(notices) >= 5:
            break
    assert required <= seen, f"never saw {required - seen}"

    # This room's log, as the app wrote it: the new fields carry what was done.
    log = [r for r in chat if r.get("room_id") == room.pk and r["type"] != "room.presence"]
    assert [r["type"] for r in log] == [
        "chat.message", "chat.message", "chat.edited", "chat.reaction", "chat.reaction",
        "chat.deleted", "chat.deleted",
    ]  # fmt: skip
    assert [r.get("reply_to") for r in log[:2]] == [None, target]
    assert [r["added"] for r in log[3:5]] == [True, False]
    assert [r["deleted_by"] for r in log[5:]] == ["author", "staff"]
    assert log[6]["actor"]["id"] == moderator.pk
    actions = [r for r in chat if r.get("room_id") == ruled.pk and r["type"] == "chat.moderation"]
    assert [(r["kind"], r["actor"]["role"]) for r in actions] == [
        ("muted", "owner"), ("banned", "owner"), ("slow_mode", "owner"),
    ]  # fmt: skip

    # The five notifications, each through its real path: the relay writes chat's (no
    # event_id), the outbox the title-hakwon's (an event_id of their own).
    assert sorted(
        (r["recipient_id"], r["kind"], "event_id" in r, r["count"]) for r in notices
    ) == sorted(
        [
            (bob.pk, "mention", False, 1),
            (alice.pk, "reply", False, 1),
            (alice.pk, "comment_reply", True, 1),
            (alice.pk, "comment_likes", True, 1),
            (alice.pk, "award", True, 1),
        ]
    ), notices
    by_kind = {r["kind"]: r for r in notices}
    assert by_kind["mention"]["url"] == f"/rooms/{room.pk}/#msg-{numbered[0]['seq']}"
    assert by_kind["mention"]["actor"] == {"id": alice.pk, "nickname": alice.display_name}
    assert by_kind["reply"]["url"] == f"/rooms/{room.pk}/#msg-{numbered[1]['seq']}"
    assert by_kind["reply"]["text"] == "답장"
    assert by_kind["comment_reply"]["url"] == f"/hakwon/{today.pk}/#comment-{caption.pk}"
    assert by_kind["comment_likes"]["text"] == "고친 캡션"  # the caption liked, as it was then
    assert (by_kind["award"]["actor"], by_kind["award"]["text"]) == (None, "1등")
    assert len({r["notification_id"] for r in notices}) == 5
