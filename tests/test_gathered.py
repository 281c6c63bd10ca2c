"""zzalu.gathered on its own: calls made together share one batch call, each gets its own
answer, calls made while a batch runs make the next one, a failed batch fails each call, and a
call whose socket went away is left alone. Then the batches the sockets use: a room's log read
once for sockets opening together (each its own slice), their standings and joins in three
queries."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from redis import ResponseError

from chat import selectors
from chat.models import RoomMember
from chat.moderation import rooms_enter
from chat.services import message_store_batch
from zzalu.gathered import Gathered, gathered

from .conftest import make_room, make_user
from .test_chat_store_sql import incoming


def test_calls_made_together_share_one_batch_and_get_their_own_answers():
    batches: list[list[int]] = []

    def double(items):
        batches.append(items)
        return [2 * item for item in items]

    async def scenario():
        gathered = Gathered(double, 0.05)
        first = await asyncio.gather(*(gathered(n) for n in range(5)))
        second = await gathered(7)  # later: a batch of its own
        return first, second

    assert asyncio.run(scenario()) == ([0, 2, 4, 6, 8], 14)
    assert batches == [[0, 1, 2, 3, 4], [7]]


def test_a_failed_batch_fails_every_call_and_a_cancelled_call_is_left_alone():
    def broken(items):
        raise RuntimeError("the database is away")

    async def scenario():
        gathered = Gathered(broken, 0.05)
        gone = asyncio.ensure_future(gathered(1))
        waiting = asyncio.ensure_future(gathered(2))
        await asyncio.sleep(0)
        gone.cancel()  # its socket closed
        with pytest.raises(RuntimeError, match="away"):
            await waiting
        assert gone.cancelled()

    asyncio.run(scenario())


def test_calls_made_while_a_batch_runs_make_the_next_one():
    batches: list[list[int]] = []
    running = threading.Event()
    go_on = threading.Event()

    def slow(items):
        batches.append(items)
        running.set()
        go_on.wait(5)
        return items

    async def scenario():
        call = gathered(slow)
        first = asyncio.ensure_future(call(1))
        while not running.is_set():
            await asyncio.sleep(0.01)
        later = [asyncio.ensure_future(call(n)) for n in (2, 3)]
        await asyncio.sleep(0.05)
        assert batches == [[1]]  # not a second trip beside the first
        go_on.set()
        return await first, await asyncio.gather(*later)

    assert asyncio.run(scenario()) == (1, [2, 3])
    assert batches == [[1], [2, 3]]


def test_scripts_of_sockets_calling_together_go_in_one_pipeline(real_services):
    """redis_eval: an async batch runs on the loop; each call gets its own answer, a script
    that fails fails its caller only."""
    from zzalu.redis import get_async_redis, key, redis_eval

    name = key("gathered-test", threading.get_ident(), id(object()))
    incr = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

    async def scenario():
        client = get_async_redis()
        sent = []
        execute = type(client.pipeline()).execute

        async def counted(pipe, *args, **kwargs):
            sent.append(len(pipe))
            return await execute(pipe, *args, **kwargs)

        type(client.pipeline()).execute = counted
        try:
            answers = await asyncio.gather(
                *(redis_eval((incr, 1, name, n)) for n in (1, 2, 3)),
                redis_eval(("return redis.call('NOSUCHCOMMAND')", 0)),
                return_exceptions=True,
            )
        finally:
            type(client.pipeline()).execute = execute
            await client.delete(name)
        return answers, sent

    answers, sent = asyncio.run(scenario())
    assert answers[:3] == [1, 3, 6]
    assert isinstance(answers[3], ResponseError) and "unknown" in str(answers[3]).lower()
    assert sent == [4]


@pytest.fixture(autouse=True)
def _forget_recent_logs():
    """What logs_between read stays a second; rolled-back tests reuse room ids."""
    selectors._recent.spans.clear()
    yield
    selectors._recent.spans.clear()


@pytest.mark.django_db
def test_sockets_opening_together_read_their_rooms_log_once_and_get_their_own_slices():
    room, other, member = make_room(), make_room(), make_user()
    message_store_batch(items=[incoming(room, member, f"m{n}", offset=n) for n in range(12)])
    message_store_batch(items=[incoming(other, member, f"o{n}", offset=n) for n in range(3)])
    ranges = [(room.pk, 3, 9), (room.pk, 0, 12), (other.pk, 1, 3), (room.pk, 9, 9), (room.pk, 5, 7)]

    together = selectors.logs_between(ranges)

    alone = [selectors.log_between(room_id=r, after_seq=a, upto_seq=u) for r, a, u in ranges]
    assert [[e.seq for e in log] for log in together] == [
        [4, 5, 6, 7, 8, 9],
        list(range(1, 13)),
        [2, 3],
        [],
        [6, 7],
    ]
    assert together == alone
    far = selectors.SHARED_SPAN + 100  # too far apart to share a read: each its own, the same
    assert selectors.logs_between([(room.pk, 0, 2), (room.pk, far, far + 5)]) == [alone[1][:2], []]
    assert selectors.rooms_last_seq([other.pk, room.pk, 0]) == [3, 12, None]


@pytest.mark.django_db
def test_sockets_opening_together_get_their_standings_and_join_in_three_queries():
    room, other = make_room(), make_room()
    message_store_batch(items=[incoming(room, room.owner, f"m{n}", offset=n) for n in range(4)])
    member, newcomer, banned = make_user(), make_user(), make_user()
    RoomMember.objects.create(room=room, user=member, last_read_seq=1)
    RoomMember.objects.create(room=room, user=banned, banned_at=timezone.now(), ban_reason="spam")
    entries = [
        (room.pk, member),
        (room.pk, newcomer),
        (room.pk, newcomer),  # a second tab
        (room.pk, banned),
        (room.pk, AnonymousUser()),
        (other.pk, newcomer),
        (0, member),  # no such room
    ]

    with CaptureQueriesContext(connection) as queries:
        standings = rooms_enter(entries)

    assert len(queries) == 3, [q["sql"] for q in queries]
    assert [s and (s.user_id, s.banned, s.last_seq) for s in standings] == [
        (member.pk, False, 4),
        (newcomer.pk, False, 4),
        (newcomer.pk, False, 4),
        (banned.pk, True, 4),
        (None, False, 4),
        (newcomer.pk, False, 0),
        None,
    ]
    assert standings[3].ban_reason == "spam"
    joined = dict(RoomMember.objects.filter(user=newcomer).values_list("room_id", "last_read_seq"))
    assert joined == {room.pk: 4, other.pk: 0}  # a new member starts with everything read
    assert RoomMember.objects.get(room=room, user=member).last_read_seq == 1  # left as it was


@pytest.mark.django_db
def test_what_sockets_opening_in_the_last_second_read_is_not_read_again(monkeypatch):
    room, member = make_room(), make_user()
    message_store_batch(items=[incoming(room, member, f"m{n}", offset=n) for n in range(6)])
    with CaptureQueriesContext(connection) as first:
        selectors.logs_between([(room.pk, 2, 6)])
    with CaptureQueriesContext(connection) as again:
        assert [e.seq for e in selectors.logs_between([(room.pk, 4, 6)])[0]] == [5, 6]
    assert len(first) == 3 and len(again) == 0  # messages, changes, actions; then nothing
    message_store_batch(items=[incoming(room, member, f"m{n}", offset=n) for n in range(6, 8)])
    with CaptureQueriesContext(connection) as newer:
        assert [e.seq for e in selectors.logs_between([(room.pk, 3, 8)])[0]] == [4, 5, 6, 7, 8]
    assert len(newer) == 3 and all('"seq" > 6' in q["sql"] for q in newer)  # only the new
    with CaptureQueriesContext(connection) as older:  # before what was read: only that
        assert [e.seq for e in selectors.logs_between([(room.pk, 0, 3)])[0]] == [1, 2, 3]
    assert len(older) == 3 and all('"seq" <= 2' in q["sql"] for q in older)
    monkeypatch.setattr(selectors, "RECENT_SECONDS", 0.0)  # a second later: read afresh
    with CaptureQueriesContext(connection) as later:
        selectors.logs_between([(room.pk, 4, 6)])
    assert len(later) == 3
