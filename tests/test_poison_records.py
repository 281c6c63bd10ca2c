"""Records no one should have written, produced straight to the topics by a foreign producer:
each ends in ``<topic>.dlq`` while the same room's next message is delivered. Real broker,
relay, database and channel layer; on PostgreSQL the NUL record is the one that used to stop
every room. Changes to messages (issue 13) too; a well-formed change that no longer applies
(its message is gone, or was never there) is neither dead-lettered nor numbered. Notifications
(issue 14): each poison ``notification.created`` is dead-lettered while the recipient's next
notification reaches their ``/ws/me/``, and nothing of it is stored or shown; one for a member
who no longer exists is dropped without a dead letter and without holding up the next.
Uploaded GIFs (issue 16): a ``chat.message`` whose ``gif_id`` is not an upload's id (a number,
a list, NUL bytes) is dead-lettered while the room's next message follows; a well-formed one
that names no upload is stored without a GIF.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from redis import RedisError

from chat import events
from chat.models import (
    ChatMessage,
    ChatRoom,
    MessageChange,
    ModerationAction,
    Reaction,
    RoomMember,
)
from chat.services import chat_event_id
from deadletters.models import DeadLetter
from notifications import relay as notifications_relay
from notifications.models import Notification
from notifications.services import Notice
from zzalu import envelope
from zzalu.kafka import dead_letter_topic, topic_name

from .conftest import make_comment, make_hakwon, make_room, make_user
from .procs import Worker, free_port
from .ws import send_until_acked


@pytest.fixture(scope="module")
def foreign():
    producer = KafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, max_request_size=2_000_000
    )
    yield producer
    producer.close()


def produce(producer, topic: str, key: str, value: bytes) -> tuple[int, int]:
    """Produce as any other program could; returns the record's partition and offset."""
    metadata = producer.send(topic, key=key.encode(), value=value).get(timeout=10)
    return metadata.partition, metadata.offset


def chat_record(room_id: int, author, body: str, overrides: dict | None = None) -> bytes:
    """A chat.message record as the socket would write it, changed by ``overrides``, encoded
    as another program would (plain json: any number, any string)."""
    client_msg_id = uuid.uuid4().hex
    record = events.message_record(
        event_id=chat_event_id(sender_id=author.pk, room_id=room_id, client_msg_id=client_msg_id),
        room_id=room_id,
        sender=author.public_profile,
        body=body,
        gif_url=None,
        client_msg_id=client_msg_id,
        sent_at=datetime.now(UTC),
    )
    record.update(overrides or {})
    return json.dumps(record, default=str).encode()


def dead_letter(topic: str, source: tuple[int, int], timeout: float = 10.0):
    """The record in ``topic``'s dead-letter topic that came from ``source`` (partition,
    offset), with its headers."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False
    )
    partition = TopicPartition(dead_letter_topic(topic), 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    if (
                        headers.get("dlq.source.partition"),
                        headers.get("dlq.source.offset"),
                    ) == tuple(map(str, source)):
                        return record, headers
    finally:
        consumer.close()
    raise AssertionError(f"no dead letter for {topic} {source} within {timeout}s")


def letter_of(topic: str, source: tuple[int, int], timeout: float = 5.0) -> DeadLetter:
    """The dead letter's index row (written right after the dead-letter record)."""
    deadline = time.monotonic() + timeout
    while True:
        letter = DeadLetter.objects.filter(
            topic=topic, partition=source[0], offset=source[1]
        ).first()
        if letter is not None:
            return letter
        assert time.monotonic() < deadline, f"no dead-letter row for {topic} {source}"
        time.sleep(0.1)


def poisons(room: ChatRoom, member) -> dict[str, bytes]:
    ghost = make_user()
    ghost_id = ghost.pk
    ghost.delete()
    return {
        "nul_in_body": chat_record(room.pk, member, "a\u0000b"),
        "unknown_room": chat_record(10**9 + room.pk, member, "어디?"),
        "unknown_sender": chat_record(room.pk, member, "누구?", {"sender": {"id": ghost_id}}),
        "one_mb_body": chat_record(room.pk, member, "x" * 1_000_000),
        "not_json": b"\xff\xfe not json at all",
        "not_our_contract": json.dumps({"type": "chat.message", "room_id": room.pk}).encode(),
        "huge_room_id": chat_record(room.pk, member, "big", {"room_id": 10**30}),
    }


POISONS = [
    "nul_in_body",
    "unknown_room",
    "unknown_sender",
    "one_mb_body",
    "not_json",
    "not_our_contract",
    "huge_room_id",
]


@pytest.mark.parametrize("kind", POISONS)
def test_a_poison_chat_record_is_dead_lettered_and_the_room_goes_on(live, foreign, kind):
    room, other, member = make_room(), make_room(), make_user()
    topic = topic_name("chat")
    with live.room_socket(room, member) as sock, live.room_socket(other, member) as elsewhere:
        value = poisons(room, member)[kind]
        started = time.monotonic()
        source = produce(foreign, topic, str(room.pk), value)
        send_until_acked(sock, "다음 메시지", "next")
        delivered = sock.recv_type("chat.message", timeout=5)
        took = time.monotonic() - started
        send_until_acked(elsewhere, "다른 방", "other")
        assert elsewhere.recv_type("chat.message", timeout=5)["body"] == "다른 방"
    assert delivered["body"] == "다음 메시지" and delivered["seq"] == 1
    print(f"poison {kind}: next message in the same room delivered {took:.2f}s after it")
    assert_dead_lettered(topic, source, str(room.pk), value)
    assert ChatMessage.objects.filter(room=room).count() == 1  # nothing of the poison stored


def assert_dead_lettered(topic: str, source: tuple[int, int], key: str, value: bytes):
    """The record is in the dead-letter topic as it was, with its headers, and indexed."""
    record, headers = dead_letter(topic, source)
    assert record.key == key.encode()
    assert record.value == value  # as it was, byte for byte
    assert headers["dlq.source.topic"] == topic
    assert int(headers["dlq.attempts"]) >= 1
    assert headers["dlq.exception.class"] and headers["dlq.exception.message"]
    assert datetime.fromisoformat(headers["dlq.time"].replace("Z", "+00:00"))
    letter = letter_of(topic, source)
    assert bytes(letter.value) == record.value


# --- changes to messages (issue 13) ------------------------------------------------------------

MISSING = object()  # an override that leaves the field out


def change_record(type_: str, room_id, event_id, actor, overrides: dict | None = None) -> bytes:
    """A change record as the web process would write it (an edit, an author's delete, an
    added 👍), changed by ``overrides``, encoded as another program would."""
    fields = {
        events.CHAT_EDITED: {"body": "고친 글"},
        events.CHAT_DELETED: {"deleted_by": "author"},
        events.CHAT_REACTION: {"emoji": "👍", "added": True},
    }[type_]
    record = events.change_record(
        type_,
        change_id=str(uuid.uuid4()),
        room_id=room_id,
        event_id=event_id,
        actor={"id": actor.pk, "nickname": actor.display_name},
        client_msg_id=uuid.uuid4().hex,
        at=envelope.iso(datetime.now(UTC)),
        **fields,
    )
    for name, value in (overrides or {}).items():
        if value is MISSING:
            record.pop(name, None)
        else:
            record[name] = value
    return json.dumps(record, default=str).encode()


def change_poisons(room: ChatRoom, member, event_id: str) -> dict[str, bytes]:
    """Change records for ``event_id`` (``member``'s message in ``room``) that can never apply."""
    ghost = make_user()
    ghost_id = ghost.pk
    ghost.delete()
    edited, deleted, reaction = events.CHAT_EDITED, events.CHAT_DELETED, events.CHAT_REACTION

    def change(type_: str, **overrides) -> bytes:
        return change_record(type_, room.pk, event_id, member, overrides)

    return {
        "edited_nul_in_body": change(edited, body="a\u0000b"),
        "edited_lone_surrogate": change(edited, body="a\ud800b"),
        "edited_one_mb_body": change(edited, body="x" * 1_000_000),
        "edited_body_a_number": change(edited, body=42),
        "edited_without_body": change(edited, body=MISSING),
        "reaction_not_an_emoji": change(reaction, emoji="a"),
        "reaction_two_emoji": change(reaction, emoji="👍👍"),
        "reaction_emoji_with_nul": change(reaction, emoji="👍\u0000"),
        "reaction_without_added": change(reaction, added=MISSING),
        "reaction_added_not_a_bool": change(reaction, added=1),
        "reaction_by_a_deleted_member": change(reaction, actor={"id": ghost_id, "nickname": "_"}),
        "reaction_without_an_actor_id": change(reaction, actor={"nickname": "누구"}),
        "deleted_by_nobody": change(deleted, deleted_by="nobody"),
        "deleted_without_deleted_by": change(deleted, deleted_by=MISSING),
        "actor_not_an_object": change(edited, actor="member"),
        "actor_null": change(deleted, actor=None),
        "actor_id_too_big": change(edited, actor={"id": 10**30, "nickname": "큰 수"}),
        "actor_nickname_with_escape": change(reaction, actor={"id": member.pk, "nickname": "\x1b"}),
        "unknown_room": change(edited, room_id=10**9 + room.pk),
        "reaction_in_an_unknown_room": change(reaction, room_id=10**9 + room.pk),
        "room_id_not_a_number": change(deleted, room_id="방"),
        "event_id_not_a_uuid": change(edited, event_id="not-a-uuid"),
        "change_id_not_a_uuid": change(reaction, change_id=7),
        "at_without_a_time_zone": change(edited, at="2026-01-01T00:00:00"),
        "at_past_the_calendar": change(edited, at="9999-12-31T23:59:59.999-12:00"),
        "without_client_msg_id": change(reaction, client_msg_id=MISSING),
        "removed_v1_unknown_room": json.dumps(
            {"v": 1, "type": "chat.removed", "room_id": 10**9 + room.pk, "event_id": event_id}
        ).encode(),
        "not_our_contract": json.dumps({"type": edited, "room_id": room.pk}).encode(),
    }


CHANGE_POISONS = [
    "edited_nul_in_body",
    "edited_lone_surrogate",
    "edited_one_mb_body",
    "edited_body_a_number",
    "edited_without_body",
    "reaction_not_an_emoji",
    "reaction_two_emoji",
    "reaction_emoji_with_nul",
    "reaction_without_added",
    "reaction_added_not_a_bool",
    "reaction_by_a_deleted_member",
    "reaction_without_an_actor_id",
    "deleted_by_nobody",
    "deleted_without_deleted_by",
    "actor_not_an_object",
    "actor_null",
    "actor_id_too_big",
    "actor_nickname_with_escape",
    "unknown_room",
    "reaction_in_an_unknown_room",
    "room_id_not_a_number",
    "event_id_not_a_uuid",
    "change_id_not_a_uuid",
    "at_without_a_time_zone",
    "at_past_the_calendar",
    "without_client_msg_id",
    "removed_v1_unknown_room",
    "not_our_contract",
]


def with_a_message(live, room, member):
    """A socket of ``member`` in ``room``, after their message (seq 1); its chat.message."""
    sock = live.room_socket(room, member)
    send_until_acked(sock, "고칠 글", "target")
    return sock, sock.recv_type("chat.message", timeout=30)  # setup: the relay may be joining


def assert_untouched(room: ChatRoom, event_id: str, seen: list[dict]) -> None:
    """Nothing numbered but the two messages; the first as it was sent."""
    room.refresh_from_db()
    assert room.last_seq == 2
    assert not MessageChange.objects.filter(room=room).exists()
    message = ChatMessage.objects.get(event_id=event_id)
    assert (message.body, message.is_deleted, message.edited_at) == ("고칠 글", False, None)
    assert not Reaction.objects.filter(message=message).exists()
    changes = [f for f in seen if f["type"] in events.CHANGES]
    assert not changes, changes


def poison_then_next(foreign, sock, room, value: bytes, kind: str) -> tuple[int, int]:
    """Produce a poison record into the room's partition, then send the next message: it must
    arrive as seq 2 within 5 s. Returns the poison's (partition, offset)."""
    started = time.monotonic()
    source = produce(foreign, topic_name("chat"), str(room.pk), value)
    send_until_acked(sock, "다음 메시지", "next")
    delivered = sock.recv_type("chat.message", timeout=5)
    took = time.monotonic() - started
    sock.quiet_for(0.3, "chat.message")
    assert delivered["body"] == "다음 메시지" and delivered["seq"] == 2
    print(f"poison {kind}: next message in the same room delivered {took:.2f}s after it")
    return source


@pytest.mark.parametrize("kind", CHANGE_POISONS)
def test_a_poison_change_record_is_dead_lettered_and_the_room_goes_on(live, foreign, kind):
    room, member = make_room(), make_user()
    topic = topic_name("chat")
    sock, target = with_a_message(live, room, member)
    with sock:
        value = change_poisons(room, member, target["event_id"])[kind]
        source = poison_then_next(foreign, sock, room, value, kind)
    assert_dead_lettered(topic, source, str(room.pk), value)
    assert_untouched(room, target["event_id"], sock.received)


def stale_changes(room: ChatRoom, member, event_id: str) -> dict[str, bytes]:
    """Well-formed change records that no longer apply (or never did)."""
    elsewhere = make_room()
    there = ChatMessage.objects.create(
        event_id=uuid.uuid4(), room=elsewhere, seq=1, sender=member, sender_username="m",
        sender_nickname="m", body="다른 방", client_msg_id="there", sent_at=datetime.now(UTC),
    )  # fmt: skip
    someone = make_user()
    missing = str(uuid.uuid4())
    edited, deleted, reaction = events.CHAT_EDITED, events.CHAT_DELETED, events.CHAT_REACTION
    return {
        "edit_of_a_missing_message": change_record(edited, room.pk, missing, member),
        "delete_of_a_missing_message": change_record(deleted, room.pk, missing, member),
        "reaction_to_a_missing_message": change_record(reaction, room.pk, missing, member),
        "removed_v1_of_a_missing_message": json.dumps(
            {"v": 1, "type": "chat.removed", "room_id": room.pk, "event_id": missing}
        ).encode(),
        "edit_of_a_message_in_another_room": change_record(
            edited, room.pk, str(there.event_id), member
        ),
        "edit_by_someone_else": change_record(edited, room.pk, event_id, someone),
        "edit_to_an_empty_body": change_record(edited, room.pk, event_id, member, {"body": ""}),
        "unreact_never_reacted": change_record(
            reaction, room.pk, event_id, member, {"added": False}
        ),
    }


STALE_CHANGES = [
    "edit_of_a_missing_message",
    "delete_of_a_missing_message",
    "reaction_to_a_missing_message",
    "removed_v1_of_a_missing_message",
    "edit_of_a_message_in_another_room",
    "edit_by_someone_else",
    "edit_to_an_empty_body",
    "unreact_never_reacted",
]


@pytest.mark.parametrize("kind", STALE_CHANGES)
def test_a_change_that_does_not_apply_is_dropped_without_a_seq_or_a_dead_letter(
    live, foreign, kind
):
    room, member = make_room(), make_user()
    topic = topic_name("chat")
    sock, target = with_a_message(live, room, member)
    with sock:
        value = stale_changes(room, member, target["event_id"])[kind]
        source = produce(foreign, topic, str(room.pk), value)
        send_until_acked(sock, "다음 메시지", "next")
        delivered = sock.recv_type("chat.message", timeout=5)
        sock.quiet_for(0.3, "chat.message")
    assert delivered["body"] == "다음 메시지" and delivered["seq"] == 2
    assert_untouched(room, target["event_id"], sock.received)
    # Handled before the next message (one partition, in order): had it been dead-lettered,
    # its row would be there by now.
    assert not DeadLetter.objects.filter(
        topic=topic, partition=source[0], offset=source[1]
    ).exists()


# --- uploaded GIFs (issue 16) --------------------------------------------------------------------


def gif_poisons(room: ChatRoom, member) -> dict[str, bytes]:
    """chat.message records whose ``gif_id`` can never name an upload."""
    some_id = str(uuid.uuid4())

    def gif(value, **more) -> bytes:
        return chat_record(room.pk, member, "짤", {"gif_id": value, **more})

    return {
        "gif_id_an_int": gif(123),
        "gif_id_too_big_an_int": gif(10**30),
        "gif_id_a_list": gif([some_id]),
        "gif_id_an_object": gif({"id": some_id}),
        "gif_id_true": gif(True),
        "gif_id_not_a_uuid": gif("x"),
        "gif_id_empty": gif(""),
        "gif_id_nul_bytes": gif("\u0000" * 36),
        "gif_id_a_uuid_with_a_nul": gif(some_id + "\u0000"),
        "gif_id_a_uuid_cut_by_a_nul": gif(some_id[:17] + "\u0000" + some_id[18:]),
        "gif_id_one_mb": gif("0" * 1_000_000),
        "gif_id_and_gif_url": gif(some_id, gif_url="https://img.test/a.gif"),
    }


GIF_POISONS = [
    "gif_id_an_int",
    "gif_id_too_big_an_int",
    "gif_id_a_list",
    "gif_id_an_object",
    "gif_id_true",
    "gif_id_not_a_uuid",
    "gif_id_empty",
    "gif_id_nul_bytes",
    "gif_id_a_uuid_with_a_nul",
    "gif_id_a_uuid_cut_by_a_nul",
    "gif_id_one_mb",
    "gif_id_and_gif_url",
]


@pytest.mark.parametrize("kind", GIF_POISONS)
def test_a_chat_record_with_a_garbage_gif_id_is_dead_lettered_and_the_room_goes_on(
    live, foreign, kind
):
    room, member = make_room(), make_user()
    topic = topic_name("chat")
    sock, first = with_a_message(live, room, member)
    with sock:
        assert first["seq"] == 1
        value = gif_poisons(room, member)[kind]
        source = poison_then_next(foreign, sock, room, value, kind)
    assert_dead_lettered(topic, source, str(room.pk), value)
    room.refresh_from_db()
    assert room.last_seq == 2
    assert list(ChatMessage.objects.filter(room=room).values_list("body", flat=True)) == [
        "고칠 글",
        "다음 메시지",
    ]


def test_a_chat_record_naming_no_upload_does_not_hold_up_the_room(live, foreign):
    """A well-formed gif_id that names no upload (never uploaded, or swept since the socket
    checked it) is not the relay's to refuse: the message is stored without a GIF, not
    dead-lettered, and the room's next message follows it."""
    room, member = make_room(), make_user()
    topic = topic_name("chat")
    value = chat_record(room.pk, member, "짤이 없어요", {"gif_id": str(uuid.uuid4())})
    with live.room_socket(room, member) as sock:
        send_until_acked(sock, "먼저", "first")  # the relay is there (it may be joining)
        assert sock.recv_type("chat.message", timeout=30)["seq"] == 1
        started = time.monotonic()
        source = produce(foreign, topic, str(room.pk), value)
        send_until_acked(sock, "다음 메시지", "next")
        first = sock.recv_type("chat.message", timeout=5)
        delivered = sock.recv_type("chat.message", timeout=5)
        took = time.monotonic() - started
    print(f"gif_id of no upload: next message in the same room delivered {took:.2f}s after it")
    assert (first["seq"], first["body"], first["gif"], first["gif_url"]) == (
        2,
        "짤이 없어요",
        None,
        None,
    )
    assert (delivered["seq"], delivered["body"]) == (3, "다음 메시지")
    stored = ChatMessage.objects.get(event_id=first["event_id"])
    assert stored.gif_upload_id is None and stored.gif_url == ""
    assert not DeadLetter.objects.filter(
        topic=topic, partition=source[0], offset=source[1]
    ).exists()


# --- moderation actions (issue 15) ---------------------------------------------------------------


def moderation_record(room: ChatRoom, actor, target, overrides: dict | None = None) -> bytes:
    """A mute of ``target`` by ``actor`` (the room's owner) as the web process would write it,
    changed by ``overrides``, encoded as another program would."""
    at = datetime.now(UTC)
    record = envelope.record(
        events.CHAT_MODERATION,
        action_id=str(uuid.uuid4()),
        room_id=room.pk,
        kind="muted",
        actor={"id": actor.pk, "nickname": actor.display_name, "role": "owner"},
        target={"id": target.pk, "nickname": target.display_name},
        client_msg_id=uuid.uuid4().hex,
        at=envelope.iso(at),
        until=envelope.iso(at + timedelta(minutes=10)),
    )
    for name, value in (overrides or {}).items():
        if value is MISSING:
            record.pop(name, None)
        else:
            record[name] = value
    return json.dumps(record, default=str).encode()


def moderation_poisons(room: ChatRoom, member) -> dict[str, bytes]:
    """chat.moderation records about ``member`` in ``room`` that can never apply."""
    ghost = make_user()
    ghost_id = ghost.pk
    ghost.delete()

    def action(**overrides) -> bytes:
        return moderation_record(room, room.owner, member, overrides)

    return {
        "unknown_kind": action(kind="vanished"),
        "actor_role_god": action(actor={"id": room.owner_id, "nickname": "신", "role": "god"}),
        "slow_mode_with_a_target": action(kind="slow_mode", seconds=30, until=MISSING),
        "muted_without_until": action(until=MISSING),
        "muted_until_past_the_calendar": action(until="9999-12-31T23:59:59.999-12:00"),
        "target_not_an_object": action(target="member"),
        "unknown_room": action(room_id=10**9 + room.pk),
        "unknown_target_member": action(target={"id": ghost_id, "nickname": "유령"}),
        "ban_reason_with_nul": action(kind="banned", until=MISSING, reason="도\u0000배"),
    }


MODERATION_POISONS = [
    "unknown_kind",
    "actor_role_god",
    "slow_mode_with_a_target",
    "muted_without_until",
    "muted_until_past_the_calendar",
    "target_not_an_object",
    "unknown_room",
    "unknown_target_member",
    "ban_reason_with_nul",
]


@pytest.mark.parametrize("kind", MODERATION_POISONS)
def test_a_poison_moderation_record_is_dead_lettered_and_the_room_goes_on(live, foreign, kind):
    room, member = make_room(), make_user()
    topic = topic_name("chat")
    sock, _ = with_a_message(live, room, member)
    with sock:
        value = moderation_poisons(room, member)[kind]
        source = poison_then_next(foreign, sock, room, value, kind)
    assert_dead_lettered(topic, source, str(room.pk), value)
    room.refresh_from_db()
    assert room.last_seq == 2 and room.slow_mode_seconds == 0
    assert not ModerationAction.objects.filter(room=room).exists()
    standing = RoomMember.objects.get(room=room, user=member)
    assert (standing.muted_until, standing.banned_at) == (None, None)
    actions = [f for f in sock.received if f["type"] in events.ACTION_FRAMES.values()]
    assert not actions, actions


def test_a_well_formed_foreign_mute_is_applied_not_dead_lettered(live, foreign):
    room, member = make_room(), make_user()
    topic = topic_name("chat")
    sock, _ = with_a_message(live, room, member)
    with sock:
        value = moderation_record(room, room.owner, member)
        source = produce(foreign, topic, str(room.pk), value)
        muted = sock.recv_type("room.member_muted", timeout=5)
        assert muted["seq"] == 2 and muted["user"]["id"] == member.pk, muted
        assert muted["until"] == json.loads(value)["until"], muted
        sock.send(type="chat.send", client_msg_id="after-mute", body="말할래요")
        refused = sock.recv_type("error", timeout=5)
    assert refused["code"] == "muted" and refused["until"] == muted["until"], refused
    standing = RoomMember.objects.get(room=room, user=member)
    assert standing.muted_until is not None
    action = ModerationAction.objects.get(room=room)
    assert (action.kind, action.seq, action.target_id) == ("muted", 2, member.pk)
    assert not DeadLetter.objects.filter(
        topic=topic, partition=source[0], offset=source[1]
    ).exists()


# --- notifications (issue 14) -------------------------------------------------------------------


def notification_record(recipient_id, actor, overrides: dict | None = None, **notice) -> bytes:
    """A notification.created record as the app writes it (a mention of ``recipient_id`` by
    ``actor``), changed by ``overrides``, encoded as another program would."""
    record = Notice(
        recipient_id=recipient_id,
        kind=notice.pop("kind", "mention"),
        source=str(uuid.uuid4()),
        actor={"id": actor.pk, "nickname": actor.display_name},
        text=notice.pop("text", "불렀어요"),
        url=notice.pop("url", "/rooms/1/#msg-1"),
        **notice,
    ).record()
    for name, value in (overrides or {}).items():
        if value is MISSING:
            record.pop(name, None)
        else:
            record[name] = value
    return json.dumps(record, default=str).encode()


def notification_poisons(recipient, actor) -> dict[str, bytes]:
    """Records for ``recipient`` that must never be stored or shown."""

    def notice(**overrides) -> bytes:
        return notification_record(recipient.pk, actor, overrides)

    return {
        "kind_unknown": notice(kind="party"),
        "kind_not_a_string": notice(kind=["mention"]),
        "url_protocol_relative": notice(url="//evil.example/x"),
        "url_javascript": notice(url="javascript:alert(1)"),
        "url_absolute": notice(url="https://evil.example/"),
        "url_relative": notice(url="rooms/1/"),
        "url_empty": notice(url=""),
        "url_not_a_string": notice(url=42),
        "url_over_2000_characters": notice(url="/" + "a" * 3000),
        # Browsers read a backslash as a slash, and drop tabs and line breaks, in a URL:
        # each of these leads to //evil.example from the page's link and the redirect.
        "url_backslash": notice(url="/\\evil.example/"),
        "url_tab": notice(url="/\t/evil.example/"),
        "url_line_break": notice(url="/\n/evil.example/"),
        "text_nul": notice(text="a\u0000b"),
        "text_lone_surrogate": notice(text="a\ud800b"),
        "text_not_a_string": notice(text=5),
        "text_one_mb": notice(text="x" * 1_000_000),
        "recipient_10_to_the_30": notice(recipient_id=10**30),
        "recipient_zero": notice(recipient_id=0),
        "recipient_negative": notice(recipient_id=-recipient.pk),
        "recipient_not_a_number": notice(recipient_id="누구"),
        "recipient_true": notice(recipient_id=True),
        # 3.7 is nobody's id; the relay must not round it to member 3.
        "recipient_a_fraction": notice(recipient_id=recipient.pk + 0.7),
        "count_zero": notice(count=0),
        "count_x": notice(count="x"),
        "count_negative": notice(count=-1),
        "count_2_to_the_31": notice(count=2**31),
        "count_true": notice(count=True),
        "count_a_float": notice(count=1.0),
        "actor_not_an_object": notice(actor="someone"),
        "actor_a_list": notice(actor=[actor.pk]),
        "actor_id_10_to_the_30": notice(actor={"id": 10**30, "nickname": "큰 수"}),
        "actor_nickname_with_escape": notice(actor={"id": actor.pk, "nickname": "\x1b[31m"}),
        "actor_nickname_too_long": notice(actor={"id": actor.pk, "nickname": "가" * 31}),
        "notification_id_not_a_uuid": notice(notification_id="nope"),
        "notification_id_a_number": notice(notification_id=7),
        "at_without_a_time_zone": notice(at="2026-01-01T00:00:00"),
        "at_not_a_time": notice(at="yesterday"),
        "at_a_number": notice(at=0),
        # Stored as 10000-01-01 UTC: PostgreSQL keeps it, Python cannot read it back.
        "at_past_the_calendar": notice(at="9999-12-31T23:59:59.999-12:00"),
        **{f"without_{name}": notice(**{name: MISSING}) for name in NOTIFICATION_FIELDS},
        "another_type": notice(type="notification.deleted"),
        "not_json": b"\xff\xfe not json at all",
        "a_json_array": json.dumps([{"type": "notification.created"}]).encode(),
        "not_our_contract": json.dumps({"type": "notification.created"}).encode(),
    }


NOTIFICATION_FIELDS = ("notification_id", "recipient_id", "kind", "actor", "text", "url")
NOTIFICATION_FIELDS += ("count", "at")
NOTIFICATION_POISONS = [
    "kind_unknown",
    "kind_not_a_string",
    "url_protocol_relative",
    "url_javascript",
    "url_absolute",
    "url_relative",
    "url_empty",
    "url_not_a_string",
    "url_over_2000_characters",
    "url_backslash",
    "url_tab",
    "url_line_break",
    "text_nul",
    "text_lone_surrogate",
    "text_not_a_string",
    "text_one_mb",
    "recipient_10_to_the_30",
    "recipient_zero",
    "recipient_negative",
    "recipient_not_a_number",
    "recipient_true",
    "recipient_a_fraction",
    "count_zero",
    "count_x",
    "count_negative",
    "count_2_to_the_31",
    "count_true",
    "count_a_float",
    "actor_not_an_object",
    "actor_a_list",
    "actor_id_10_to_the_30",
    "actor_nickname_with_escape",
    "actor_nickname_too_long",
    "notification_id_not_a_uuid",
    "notification_id_a_number",
    "at_without_a_time_zone",
    "at_not_a_time",
    "at_a_number",
    "at_past_the_calendar",
    *(f"without_{name}" for name in NOTIFICATION_FIELDS),
    "another_type",
    "not_json",
    "a_json_array",
    "not_our_contract",
]


def next_notification(me, text: str) -> tuple[dict, list[dict]]:
    """The notification.created frame with ``text``, and the ones that came before it."""
    early = []
    while (frame := me.recv_type("notification.created", timeout=10))["notification"][
        "text"
    ] != text:
        early.append(frame)
    return frame, early


@pytest.mark.parametrize("kind", NOTIFICATION_POISONS)
def test_a_poison_notification_is_dead_lettered_and_the_next_one_arrives(live, foreign, api, kind):
    recipient, actor = make_user(), make_user()
    topic, key = topic_name("notifications"), str(recipient.pk)
    with live.me_socket(recipient) as me:
        assert me.recv_type("notification.unread")["unread"] == 0  # in the member's group
        value = notification_poisons(recipient, actor)[kind]
        started = time.monotonic()
        source = produce(foreign, topic, key, value)  # the same key: the same partition
        produce(foreign, topic, key, notification_record(recipient.pk, actor, text="다음 알림"))
        delivered, early = next_notification(me, "다음 알림")
        took = time.monotonic() - started
    print(f"poison {kind}: the next notification delivered {took:.2f}s after it")
    problems = []  # every consequence, so a failure tells the whole story
    if early:
        problems.append(f"the poison reached the member: {early}")
    if delivered["unread"] != 1:
        problems.append(f"the next one came with unread {delivered['unread']}, not 1")
    stored = list(Notification.objects.filter(recipient=recipient).values_list("text", "url"))
    if stored != [("다음 알림", "/rooms/1/#msg-1")]:
        problems.append(f"stored {stored}")
    api.force_authenticate(recipient)
    try:
        inbox = api.get("/api/notifications/")
        if inbox.status_code != 200 or inbox.json()["unread"] != 1:
            problems.append(f"the inbox answers {inbox.status_code} {inbox.content[:200]!r}")
    except Exception as exc:  # the test client raises what would be a 500
        problems.append(f"the inbox fails: {exc!r}"[:300])
    try:
        assert_dead_lettered(topic, source, key, value)
    except AssertionError as exc:
        problems.append(f"not dead-lettered: {exc}")
    assert not problems, "\n".join(problems)


def test_a_notification_for_a_member_gone_is_dropped_without_a_dead_letter(live, foreign, api):
    """Deleted members: one notified is dropped (no dead letter, the next one is not held
    up); one who acted leaves the notification anonymous-by-id (their name as it was)."""
    recipient, actor, gone = make_user(), make_user(), make_user()
    gone_id, gone_name = gone.pk, gone.display_name
    gone.delete()
    topic, key = topic_name("notifications"), str(recipient.pk)
    with live.me_socket(recipient) as me:
        me.recv_type("notification.unread")
        # Keyed as the next one is: it waits behind this one on its partition.
        dropped = produce(foreign, topic, key, notification_record(gone_id, actor))
        started = time.monotonic()
        by_gone = {"actor": {"id": gone_id, "nickname": gone_name}}
        produce(
            foreign, topic, key, notification_record(recipient.pk, actor, by_gone, text="다음 알림")
        )
        delivered, early = next_notification(me, "다음 알림")
        took = time.monotonic() - started
    assert early == [] and took < 5, (early, took)
    assert delivered["notification"]["actor"] == {"id": None, "nickname": gone_name}
    assert not Notification.objects.filter(recipient_id=gone_id).exists()
    # Handled before the next one (one partition, in order): a dead letter would be indexed.
    assert not DeadLetter.objects.filter(
        topic=topic, partition=dropped[0], offset=dropped[1]
    ).exists()


def test_a_replayed_or_older_notification_changes_nothing_and_is_not_shown_again(live, foreign):
    """The same record twice is one notification, shown once; an older record for the same
    likes notification (a reordered or replayed one) does not lower its count."""
    recipient, actor = make_user(), make_user()
    topic, key = topic_name("notifications"), str(recipient.pk)
    source = f"likes:{uuid.uuid4()}"
    now = datetime.now(UTC)

    def likes(count: int, seconds: int) -> bytes:
        record = Notice(
            recipient_id=recipient.pk, kind="comment_likes", source=source,
            actor={"id": actor.pk, "nickname": actor.display_name}, text="캡션",
            url="/hakwon/1/#comment-1", count=count, at=now.replace(microsecond=0)
            + timedelta(seconds=seconds),
        ).record()  # fmt: skip
        return json.dumps(record).encode()

    with live.me_socket(recipient) as me:
        me.recv_type("notification.unread")
        for value in (likes(2, 2), likes(2, 2), likes(1, 1)):
            produce(foreign, topic, key, value)
        produce(foreign, topic, key, notification_record(recipient.pk, actor, text="다음 알림"))
        _, early = next_notification(me, "다음 알림")
    assert [f["notification"]["count"] for f in early] == [2], early
    row = Notification.objects.get(recipient=recipient, kind="comment_likes")
    assert row.count == 2


def test_a_notification_batch_retried_after_its_announce_failed_is_announced(db):
    """The relay retries a batch whose announce failed (Redis away: a transient failure) or
    that a later record broke, and only commits once a batch is stored *and* announced. On the
    retry the notifications handler finds the rows stored and announces them again, as the
    chat handler does with a redelivered entry: the member gets the frame."""
    recipient, actor = make_user(), make_user()
    record = SimpleNamespace(
        topic="notifications.events", partition=0, offset=0,
        value=notification_record(recipient.pk, actor, text="한 번은 들려야 해요"),
    )  # fmt: skip

    def redis_away(messages):
        raise RedisError("Redis is restarting")

    with pytest.raises(RedisError):
        notifications_relay.handle_batch([record], announce=redis_away)
    announced: list = []
    notifications_relay.handle_batch([record], announce=announced.extend)  # the retry
    assert [group for group, _ in announced] == [f"user.{recipient.pk}"], announced
    assert Notification.objects.filter(recipient=recipient).count() == 1


def test_a_poison_hakwon_record_is_dead_lettered_and_watchers_get_the_next_event(
    live, foreign, member_api
):
    hakwon = make_hakwon()
    comment = make_comment(hakwon=hakwon)
    topic = topic_name("hakwon")
    with live.hakwon_socket(hakwon.pk) as watcher:
        started = time.monotonic()
        bad_like = json.dumps(
            {"v": 1, "type": "comment.liked", "event_id": str(uuid.uuid4()), "hakwon_id": hakwon.pk}
        ).encode()
        sources = [
            produce(foreign, topic, str(hakwon.pk), bad_like),
            produce(foreign, topic, str(hakwon.pk), b"\x00\x01"),
        ]
        response = member_api.post(f"/api/comments/{comment.pk}/like/")
        assert response.status_code == 201
        liked = watcher.recv_type("comment.liked", timeout=10)
        took = time.monotonic() - started
    assert liked["comment_id"] == comment.pk and liked["like_count"] == 1
    print(f"poison hakwon records: next event delivered {took:.2f}s after them")
    for source in sources:
        _, headers = dead_letter(topic, source)
        assert headers["dlq.source.topic"] == topic


def test_replaying_a_dead_letter_after_the_fix_stores_it_once(live, foreign):
    member = make_user()
    missing_room_id = 2 * 10**9 + make_room().pk
    topic = topic_name("chat")
    value = chat_record(missing_room_id, member, "늦게 왔어요")
    source = produce(foreign, topic, str(missing_room_id), value)
    dead_letter(topic, source)
    letter = letter_of(topic, source)
    assert "unknown room" in letter.error

    ChatRoom.objects.create(pk=missing_room_id, name="이제 있어요")  # the fix
    call_command("dead_letters", "replay")
    call_command("dead_letters", "replay", "--all")  # replayed twice: still stored once
    deadline = time.monotonic() + 10
    while not ChatMessage.objects.filter(room_id=missing_room_id).exists():
        assert time.monotonic() < deadline, "the replayed record was not stored"
        time.sleep(0.1)
    time.sleep(1)
    stored = ChatMessage.objects.filter(room_id=missing_room_id)
    assert [(m.body, m.seq) for m in stored] == [("늦게 왔어요", 1)]
    letter.refresh_from_db()
    assert letter.replayed_at is not None


def test_staff_read_dead_letters_in_the_admin_and_cannot_change_them(live, foreign, client):
    topic = topic_name("chat")
    source = produce(foreign, topic, "1", b"\x00 <script>alert(1)</script>")
    letter = letter_of(topic, source)
    client.force_login(make_user(staff=True, is_superuser=True))
    listing = client.get("/admin/deadletters/deadletter/")
    assert listing.status_code == 200 and topic in listing.content.decode()
    page = client.get(f"/admin/deadletters/deadletter/{letter.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "PoisonRecord" in html and "<script>alert(1)" not in html  # shown, escaped
    assert client.post(f"/admin/deadletters/deadletter/{letter.pk}/delete/").status_code == 403
    assert client.get("/admin/deadletters/deadletter/add/").status_code == 403


def scrape(url: str, within: float = 10.0) -> dict[str, float]:
    """Prometheus text as {'name{labels}': value} (a relay restarted by an earlier test may
    take a moment to open its port)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            break
        except (urllib.error.URLError, ConnectionError) as exc:
            if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def sample(samples: dict[str, float], name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for key, value in samples.items():
        metric, _, rest = key.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and got == wanted:
            return value
    return 0.0


def lag(samples: dict[str, float], topic: str) -> float:
    return sum(
        v
        for k, v in samples.items()
        if k.startswith("zzalu_relay_lag_records{") and f'topic="{topic}"' in k
    )


def test_metrics_scrape_from_web_and_relay_and_the_relay_counters_move(live, foreign):
    room = make_room()
    with live.room_socket(room, make_user()) as sock:
        send_until_acked(sock, "세어 주세요", "counted")
        web = scrape(live.web.http + "/metrics")
    assert sample(web, "zzalu_open_sockets", route="rooms") >= 1
    assert sample(web, "zzalu_socket_acks_total", route="rooms") >= 1
    assert "zzalu_outbox_pending_rows" in web and "zzalu_outbox_dead_rows" in web
    topic = topic_name("chat")
    dead_lettered = "zzalu_relay_records_dead_lettered_total"
    before = sample(scrape(live.relay.metrics_url), dead_lettered, topic=topic)
    produce(foreign, topic, "1", b"not json")
    deadline = time.monotonic() + 10
    while sample(scrape(live.relay.metrics_url), dead_lettered, topic=topic) <= before:
        assert time.monotonic() < deadline, "the dead-letter counter did not move"
        time.sleep(0.2)

    relay = scrape(live.relay.metrics_url)
    assert sample(relay, "zzalu_relay_records_handled_total", topic=topic) >= 1
    assert sample(relay, "zzalu_relay_batch_seconds_count", topic=topic) >= 1


@pytest.mark.postgres  # a row lock holds one room only; SQLite's lock would hold every write
def test_the_relay_lag_grows_behind_a_waiting_batch_and_comes_back_to_zero(live, foreign):
    """A relay of a group of its own, starting at the log's end, reads one record per poll and
    waits on a room whose row the test holds: what is behind that record is its lag."""
    room, member, port = make_room(), make_user(), free_port()
    topic, group = topic_name("chat"), f"{settings.KAFKA_RELAY_GROUP}.lag.{uuid.uuid4().hex[:8]}"
    # From the start it would replay, one per poll, everything the suite wrote before this test.
    start_group_at_the_end(group)
    lagging = Worker(
        "relay-lag", "relay", "--max-batch", "1",
        RELAY_METRICS_PORT=str(port), KAFKA_RELAY_GROUP=group,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with transaction.atomic():
            ChatRoom.objects.select_for_update().get(pk=room.pk)
            for i in range(20):
                produce(foreign, topic, str(room.pk), chat_record(room.pk, member, f"m{i}"))
            lagging.start()
            deadline = time.monotonic() + 30
            while lag(scrape(url, within=20), topic) < 10:
                assert time.monotonic() < deadline, "no lag behind a waiting relay"
                time.sleep(0.2)
        deadline = time.monotonic() + 60
        while lag(scrape(url), topic) > 0:
            assert time.monotonic() < deadline, "the lag did not come back to 0"
            time.sleep(0.2)
    finally:
        lagging.stop()
    assert ChatMessage.objects.filter(room=room).count() == 20


def start_group_at_the_end(group: str) -> None:
    """Commit, for consumer group ``group``, the current end of every partition the relay reads."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=group, enable_auto_commit=False
    )
    try:
        partitions = [
            TopicPartition(kind["name"], p)
            for kind in settings.KAFKA_TOPICS.values()
            for p in consumer.partitions_for_topic(kind["name"]) or ()
        ]
        ends = consumer.end_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()


def readyz(web) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(web.http + "/readyz", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.outage
def test_readyz_says_relay_stale_when_the_relay_is_stuck_or_gone(live):
    web = live.start_web("web-stale", WORKER_HEARTBEAT_STALE_SECONDS="3")
    deadline = time.monotonic() + 10
    while readyz(web)[0] != 200:  # a relay restarted by an earlier test joins its group first
        assert time.monotonic() < deadline, readyz(web)
        time.sleep(0.2)
    room, member = make_room(), make_user()
    # Opened (and so joined: a write, which SQLite's lock below would hold up) first.
    with live.room_socket(room, member) as sock:
        sock.recv_type("room.presence")
        with transaction.atomic():  # stuck: waiting for a lock inside a batch
            ChatRoom.objects.select_for_update(no_key=True).get(pk=room.pk)
            sock.send(type="chat.send", client_msg_id="stuck", body="기다려요")
            sock.recv_type("chat.ack")
            time.sleep(5)
            status, body = readyz(web)
    assert status == 503 and body["checks"]["relay"] == "stale", body
    deadline = time.monotonic() + 10
    while readyz(web)[0] != 200:
        assert time.monotonic() < deadline, "readyz did not recover with the relay"
        time.sleep(0.2)

    live.relay.kill()  # gone without a word: its last beat just grows old
    try:
        time.sleep(4.5)
        status, body = readyz(web)
        assert status == 503 and body["checks"]["relay"] == "stale", body
    finally:
        live.relay.start()


@pytest.mark.postgres  # a row lock holds one room only; SQLite's lock would hold every write
def test_a_member_opens_a_room_socket_while_a_batch_holds_the_room(live):
    """Opening a room socket while logged in joins the room (issue 14): ``room_join`` inserts
    a RoomMember, and the insert's foreign-key check takes ``FOR KEY SHARE`` on the room's row.
    The relay numbers a batch under ``FOR NO KEY UPDATE``, which does not conflict with it, so
    a member's connect does not wait for the room's batch in flight (nor forever when the relay
    is stuck in one)."""
    room, member = make_room(), make_user()
    with transaction.atomic():
        # As the relay numbering a batch for the room.
        ChatRoom.objects.select_for_update(no_key=True).get(pk=room.pk)
        with live.room_socket(room) as reader:
            assert reader.recv_type("room.presence", timeout=5)["online"] >= 1
        started = time.monotonic()
        try:
            with live.room_socket(room, member) as sock:
                sock.recv_type("room.presence", timeout=5)
            opened = None
        except Exception as exc:  # the handshake never completes
            opened = f"{exc!r} after {time.monotonic() - started:.1f}s"
    assert opened is None, f"a member's socket did not open while a batch held the room: {opened}"
