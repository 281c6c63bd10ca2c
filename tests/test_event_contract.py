"""The Kafka events are a versioned contract: every record the app writes to chat.events and
hakwon.events matches its JSON Schema in docs/schemas/."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.conf import settings
from jsonschema import Draft202012Validator
from kafka import KafkaConsumer

from chat.models import ChatMessage
from chat.services import message_remove
from comments import services as hakwon
from zzalu import envelope
from zzalu.kafka import dead_letter_topic

from .conftest import make_hakwon, make_room, make_user

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def validators() -> dict[str, Draft202012Validator]:
    found = {}
    for path in SCHEMAS.glob("*.v1.json"):
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        found[schema["properties"]["type"]["const"]] = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return found


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


def test_every_event_on_both_topics_matches_its_schema(live):
    room, alice, bob = make_room(), make_user(), make_user()
    with live.room_socket(room, alice) as sock:
        sock.send(
            type="chat.send",
            client_msg_id="contract-1",
            body="계약",
            gif_url="https://g.test/a.gif",
        )
        sock.recv_type("chat.message")
        moderator = make_user(staff=True, is_superuser=True)
        message_remove(message=ChatMessage.objects.get(room=room), user=moderator)
        sock.recv_type("chat.removed")

    today = make_hakwon()
    caption = hakwon.comment_create(hakwon=today, author=alice, content="캡션")
    reply = hakwon.reply_create(parent=caption, author=bob, content="답글")
    hakwon.comment_edit(comment=caption, user=alice, content="고친 캡션")
    hakwon.comment_like(comment=caption, user=bob)
    hakwon.comment_delete(comment=reply, user=bob)
    hakwon.hakwon_close(hakwon=today)

    schemas = validators()
    seen = set()
    deadline = time.monotonic() + 30
    while seen != set(schemas) and time.monotonic() < deadline:
        for record in read_topic("chat") + read_topic("hakwon"):
            if record["type"] == "test.ping":  # written by the broker round-trip test
                continue
            errors = [e.message for e in schemas[record["type"]].iter_errors(record)]
            assert errors == [], (record, errors)
            seen.add(record["type"])
    assert seen == set(schemas), f"never saw {set(schemas) - seen}"
