"""zzalu.sql.rows_where_in: rows read by hand come back as the ORM reads them, on SQLite and
PostgreSQL (the join path of every socket opening reads the rooms, memberships and accounts
through it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from chat.models import ChatRoom, RoomMember
from zzalu.sql import rows_where_in
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
