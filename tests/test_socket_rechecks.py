"""zzalu.sockets.Gathered on its own: calls made together share one batch call, each gets its
own answer, a failed batch fails each call, and a call whose socket went away is left alone."""

from __future__ import annotations

import asyncio

import pytest

from zzalu.sockets import Gathered


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
