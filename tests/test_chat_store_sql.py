"""The relay's batch statements, written as SQL in chat.services: what they store reads back
through the ORM as the ORM would have stored it, the rooms move in one UPDATE, and on
PostgreSQL the rooms are held FOR NO KEY UPDATE (members joining them need not wait)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chat import events
from chat.models import ChatMessage, ChatRoom
from chat.services import IncomingMessage, _rooms_lock, message_store_batch, room_join

from .conftest import make_room, make_user


def incoming(room, sender, body: str, *, reply_to: str | None = None, offset: int = 0):
    event_id = str(uuid.uuid4())
    record = events.message_record(
        event_id=event_id,
        room_id=room.pk,
        sender=sender.public_profile,
        body=body,
        gif_url="https://media.test/a.gif" if not reply_to else None,
        client_msg_id=f"c-{uuid.uuid4().hex}",
        sent_at=datetime(2026, 5, 1, 12, 30, 15, 123000, tzinfo=UTC),
        reply_to=reply_to,
    )
    return IncomingMessage(record, 3, offset)


@pytest.mark.django_db
def test_a_stored_batch_reads_back_as_the_orm_would_have_stored_it():
    room, alice, bob = make_room(), make_user(nickname="앨리스"), make_user(nickname="밥")
    room_join(room_id=room.pk, user=bob)
    first = incoming(room, alice, "@밥 안녕하세요", offset=7)
    reply = incoming(room, bob, "네 안녕하세요", reply_to=first.record["event_id"], offset=8)
    before = datetime.now(UTC) - timedelta(seconds=1)

    stored = message_store_batch(items=[first, reply])

    assert [(m.seq, m._state.adding) for m in stored] == [(1, False), (2, False)]
    for message in stored:
        again = ChatMessage.objects.get(pk=message.pk)  # the id the INSERT returned is its own
        assert str(again.event_id) == str(message.event_id)
        assert again.stored_at >= before
    original = ChatMessage.objects.get(pk=stored[0].pk)
    assert (original.room_id, original.sender_id, original.sender_nickname) == (
        room.pk,
        alice.pk,
        "앨리스",
    )
    assert original.body == "@밥 안녕하세요" and original.gif_url == "https://media.test/a.gif"
    assert original.sent_at == datetime(2026, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)
    assert (original.kafka_partition, original.kafka_offset) == (3, 7)
    assert original.kind == ChatMessage.Kind.TALK and not original.is_deleted
    assert [m["id"] for m in original.mentions] == [bob.pk]  # linked after the INSERT, by id
    assert ChatMessage.objects.get(pk=stored[1].pk).reply_to_id == original.pk


@pytest.mark.django_db
def test_every_room_of_a_batch_moves_in_one_update():
    rooms, sender = [make_room(), make_room(), make_room()], make_user()
    ChatRoom.objects.filter(pk=rooms[2].pk).update(last_seq=41)
    items = [incoming(rooms[n % 3], sender, f"m{n}", offset=n) for n in range(7)]

    with CaptureQueriesContext(connection) as queries:
        stored = message_store_batch(items=items)

    assert [(m.room_id, m.seq) for m in stored] == [
        (rooms[0].pk, 1), (rooms[0].pk, 2), (rooms[0].pk, 3),
        (rooms[1].pk, 1), (rooms[1].pk, 2),
        (rooms[2].pk, 42), (rooms[2].pk, 43),
    ]  # fmt: skip
    assert {r.pk: r.last_seq for r in ChatRoom.objects.filter(pk__in=[r.pk for r in rooms])} == {
        rooms[0].pk: 3,
        rooms[1].pk: 2,
        rooms[2].pk: 43,
    }
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements.count("INSERT") == 1 and statements.count("UPDATE") == 1, statements


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_relay_holds_its_rooms_for_no_key_update():
    room = make_room()
    db = connection.settings_dict
    other = psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"] or 5432,
    )
    try:
        with transaction.atomic():
            assert _rooms_lock([room.pk]) == {room.pk: 0}
            with other.cursor() as cursor:  # a member joining: the FK check's lock
                cursor.execute(
                    "SELECT 1 FROM chat_chatroom WHERE id = %s FOR KEY SHARE NOWAIT", [room.pk]
                )
                other.rollback()
                with pytest.raises(psycopg.errors.LockNotAvailable):  # another batch waits
                    cursor.execute(
                        "SELECT 1 FROM chat_chatroom WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                        [room.pk],
                    )
                other.rollback()
    finally:
        other.close()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        ({"room_id": 1}, None),  # the unique (room, seq): no index of its own
        ({"gif_upload_id__in": [uuid.uuid4()]}, "chat_message_gif_upload"),  # on_delete's
        ({"reply_to_id__in": [1, 2]}, "chat_message_reply_to"),
    ],
    ids=["room", "gif_upload", "reply_to"],
)
def test_a_message_is_found_by_what_it_refers_to_through_an_index(lookup, index):
    """A message row is written to as few indexes as need it (each is a page more for the
    relay's commit to write), and every lookup by a reference still reads an index, not the
    whole table: by room through the unique (room, seq); an upload's or a message's removal
    through the partial indexes of the rows that have one."""
    room, alice = make_room(), make_user()
    message_store_batch(items=[incoming(room, alice, f"m{i}", offset=i) for i in range(50)])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner told what the table holds (50 messages, none a reply or a GIF
            # upload), and to scan the table only where no index could serve.
            cursor.execute("ANALYZE chat_chatmessage")
            cursor.execute("SET LOCAL enable_seqscan = off")
        found = connection.introspection.get_constraints(cursor, ChatMessage._meta.db_table)
    assert not [c for c in found.values() if c["index"] and c["columns"] == ["room_id"]]
    # Unordered, as on_delete's reads and updates are (the model's ordering would let an
    # index scan of (room, seq) in order win on a tiny table, filtering every row).
    plan = ChatMessage.objects.filter(**lookup).order_by().explain()
    assert "SCAN chat_chatmessage" not in plan and "Seq Scan" not in plan, plan
    if index:
        assert index in plan, plan


@pytest.mark.django_db
def test_the_admins_list_of_one_rooms_messages_is_newest_first_by_seq(client):
    room, other, alice = make_room(), make_room(), make_user()
    message_store_batch(items=[incoming(other, alice, "elsewhere")])
    message_store_batch(items=[incoming(room, alice, f"m{i}", offset=i) for i in range(3)])
    message_store_batch(items=[incoming(other, alice, "elsewhere again")])
    client.force_login(make_user(staff=True, is_superuser=True))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/admin/chat/chatmessage/?room__id__exact={room.pk}")
    assert page.status_code == 200
    listed = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]]
    assert any('"seq" DESC' in sql for sql in listed), listed  # read by (room, seq), unsorted
    shown = page.content.decode()
    assert shown.index(">m2<") < shown.index(">m1<") < shown.index(">m0<")
    assert "elsewhere" not in shown
