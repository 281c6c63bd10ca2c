"""Database trips (and Redis round trips) shared by the sockets of a web process.

Every database call of a process goes through Channels' one database thread, and while the
process is busy delivering frames each trip waits for the interpreter lock several times: the
trips of 2,000 sockets (heartbeats, joins) queue behind one another. ``gathered`` turns a
function of a list into a function of one item whose calls, made while a batch waits or runs,
share the next batch: one trip (and usually one query) for many sockets. A batch that is a
coroutine function runs on the event loop instead (a Redis pipeline: zzalu.redis.redis_eval).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async


class Gathered:
    """Calls of ``batch`` (a function of a list, answering a list in the same order; an answer
    that is an exception is raised to its caller) made within ``seconds`` of the first run as
    one call, on the database thread (or the loop, for a coroutine function); calls made while
    it runs make the next batch."""

    def __init__(self, batch: Callable[[list], Any], seconds: float):
        self.batch, self.seconds = batch, seconds
        if not asyncio.iscoroutinefunction(batch):
            self.batch = database_sync_to_async(batch)
        self.waiting: list[tuple[Any, asyncio.Future]] = []
        self.runner: asyncio.Task | None = None

    async def __call__(self, item: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        if self.runner is None:
            self.runner = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        await asyncio.sleep(self.seconds)
        try:
            while self.waiting:
                waiting, self.waiting = self.waiting, []
                try:
                    answers = await self.batch([i for i, _ in waiting])
                except Exception as exc:
                    answers = [exc] * len(waiting)
                for (_, future), answer in zip(waiting, answers, strict=True):
                    if future.done():  # its socket closed meanwhile
                        continue
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self.runner = None


def gathered(batch: Callable[[list], Any], seconds: float = 0.0) -> Callable[[Any], Awaitable]:
    """``batch`` as an async function of one item, gathered per event loop (see Gathered)."""
    per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def call(item: Any) -> Any:
        loop = asyncio.get_running_loop()
        gathering = per_loop.get(loop)
        if gathering is None:
            gathering = per_loop[loop] = Gathered(batch, seconds)
        return await gathering(item)

    call.__doc__ = batch.__doc__
    return call
