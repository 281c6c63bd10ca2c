"""zzalu.sql: rows read by hand come back as the ORM reads them, values written by hand are
what the ORM would write, and the driver's cursor fails as Django's does — on SQLite and
PostgreSQL (the join path of every socket opening and the relay's batch go through it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.utils import CursorWrapper
from django.test.utils import CaptureQueriesContext

from chat.models import ChatMessage, ChatRoom, RoomMember
from zzalu.sql import _plain_type, cursor, row_preparer, rows_where_in
from zzalu.ws_auth import _active_users

from .conftest import make_room, make_user

MEMBER = ("room", "user", "is_moderator", "muted_until", "banned_at", "ban_reason", "joined_at")


@pytest.mark.django_db
def test_rows_read_by_hand_equal_what_the_orm_reads():
    room, other = make_room(), make_room()
    alice, bob, carol = make_user(), make_user(), make_user()
    muted = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    RoomMember.objects.create(room=room, user=alice, is_moderator=True, muted_until=muted)
    RoomMember.objects.create(room=room, user=bob, banned_at=muted, ban_reason="스팸 🚫")
    RoomMember.objects.create(room=other, user=alice)
    RoomMember.objects.create(room=other, user=carol)  # not asked for: neither room nor user

    rows = rows_where_in(
        RoomMember, MEMBER, room=[room.pk, other.pk], user=[alice.pk, bob.pk, 10**12]
    )

    expected = RoomMember.objects.filter(room__in=[room, other], user__in=[alice, bob]).values_list(
        *MEMBER
    )
    assert sorted(rows) == sorted(expected) and len(rows) == 3
    by_user = {(r[0], r[1]): r for r in rows}
    assert by_user[(room.pk, alice.pk)][2:4] == (True, muted)  # a bool, an aware datetime
    assert by_user[(room.pk, bob.pk)][4:6] == (muted, "스팸 🚫")


@pytest.mark.django_db
def test_rows_where_in_reads_by_primary_key_and_nothing_for_an_empty_list():
    room = make_room()
    names = ("id", "owner", "slow_mode_seconds", "last_seq")
    assert rows_where_in(ChatRoom, names, pk=[room.pk]) == [
        (room.pk, room.owner_id, room.slow_mode_seconds, room.last_seq)
    ]
    assert rows_where_in(ChatRoom, names, pk=[]) == []
    assert rows_where_in(ChatRoom, names, pk=[room.pk], slow_mode_seconds=[]) == []


@pytest.mark.django_db
def test_the_accounts_of_sockets_opening_are_whole_and_only_the_active_ones():
    alice, gone = make_user(nickname="앨리스"), make_user()
    gone.is_active = False
    gone.save()
    found = _active_users([alice.pk, str(alice.pk), gone.pk, "not a number", 10**12])
    assert [u and u.pk for u in found] == [alice.pk, alice.pk, None, None, None]
    user = found[0]
    stored = get_user_model().objects.get(pk=alice.pk)
    assert {f.attname: getattr(user, f.attname) for f in stored._meta.concrete_fields} == {
        f.attname: getattr(stored, f.attname) for f in stored._meta.concrete_fields
    }
    assert user._state.adding is False and user._state.db == "default"
    assert user.public_profile == stored.public_profile


def _message(**overrides) -> ChatMessage:
    values = dict(
        event_id=uuid.uuid4(), room_id=7, seq=3, kind="TALK", sender_id=None,
        sender_username="alice", sender_nickname="앨리스 🍜", body="안녕\n", gif_url="",
        gif_upload_id=uuid.uuid4(), client_msg_id="c-1", reply_to_id=9,
        sent_at=datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        stored_at=datetime(2026, 5, 1, 12, 30, 16, tzinfo=UTC), mentions=[{"id": 1}],
        edited_at=None, is_deleted=True, kafka_partition=0, kafka_offset=2**40,
    )  # fmt: skip
    return ChatMessage(**{**values, **overrides})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides", [{}, {"sender_id": 5, "reply_to_id": None, "gif_upload_id": None}]
)
def test_prepared_row_values_are_what_the_fields_prepare(overrides):
    message = _message(**overrides)
    fields = tuple(f for f in ChatMessage._meta.concrete_fields if not f.primary_key)

    values = row_preparer(connection, fields)(message)

    expected = [f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields]
    for field, value, wanted in zip(fields, values, expected, strict=True):
        if field.name == "mentions":  # PostgreSQL's is an adapter object: compare what it holds
            value, wanted = getattr(value, "obj", value), getattr(wanted, "obj", wanted)
        assert (type(value), value) == (type(wanted), wanted), field.name


def test_a_field_that_prepares_its_own_way_is_prepared():
    class Shouting(models.CharField):
        def get_prep_value(self, value):
            return None if value is None else str(value).upper()

    ops = BaseDatabaseOperations

    class Lowered(models.CharField):
        def to_python(self, value):
            return None if value is None else str(value).lower()

    assert _plain_type(Shouting(max_length=5), ops) is None
    assert _plain_type(Lowered(max_length=5), ops) is None
    assert _plain_type(models.CharField(max_length=5), ops) is str
    assert _plain_type(ChatMessage._meta.get_field("room"), ops) is int  # the room's id
    assert _plain_type(ChatMessage._meta.get_field("gif_upload"), ops) is None  # a UUID's
    assert _plain_type(ChatMessage._meta.get_field("sent_at"), ops) is None


@pytest.mark.django_db
def test_the_drivers_cursor_fails_as_djangos_does():
    room = make_room()
    table = connection.ops.quote_name(ChatRoom._meta.db_table)
    with cursor(connection) as statements:
        assert not isinstance(statements, CursorWrapper)  # the driver's, not Django's wrapper
        statements.execute(
            f"SELECT id, name FROM {table} WHERE id IN (%s, %s) AND name NOT LIKE '%%x%%'",
            [room.pk, 0],
        )  # `%%` is a `%`, on either cursor
        assert statements.fetchall() == [(room.pk, room.name)]
    failing = [
        (f"INSERT INTO {table} (id) VALUES (%s)", IntegrityError),
        (f"SELECT nothing FROM {table} WHERE id = %s", DatabaseError),
    ]
    for sql, error in failing:
        with pytest.raises(error) as raised, transaction.atomic(), cursor(connection) as statements:
            statements.execute(sql, [room.pk])
        assert raised.type.__module__ == "django.db.utils", raised.type  # Django's class


@pytest.mark.django_db
def test_captured_queries_go_through_djangos_cursor():
    room = make_room()
    with CaptureQueriesContext(connection) as queries:
        assert rows_where_in(ChatRoom, ["name"], pk=[room.pk]) == [(room.name,)]
    assert len(queries.captured_queries) == 1
