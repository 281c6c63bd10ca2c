"""Process-local fan-out: one channel-layer subscription per group per web process.

Channels' own way gives every socket its channel and its place in the group: a group message is
queued once per socket and each socket's consumer loop takes it out and dispatches it, so a
room of 2,000 sockets costs 2,000 queue hand-offs and consumer dispatches per frame. Here the
process joins each group once, on a channel of its own, and hands every message straight to the
sockets of this process that joined the group (the message's handler, called in turn): the
frames are encoded once by the relay, and a delivery is the handler's own work.

Messages that say so (``"coalesce"``: presence counts) reach the sockets at most once per
COALESCE_SECONDS (1.5 s) per group: one that comes sooner waits for the end of the interval,
and a newer one replaces it; the one delivered after replacing others carries its
``coalesce`` text instead of its ``frame`` (a count, without naming one of the many who came).
A crowd joining a room then costs each socket one frame a second, not one per join.

A member is any object with async handlers named after the group message types
(``chat.frames`` -> ``chat_frames``). Each handler runs at once, in join order, until it first
has to wait: usually it never does (a socket's send writes to its transport and returns) and no
task is made for it; one that waits (a socket whose client stopped reading, a database trip)
goes on in a task of its own, so no socket holds up the others. A handler that raises is logged
and skipped.

A group's numbered frames (messages with ``seqs``: a room's log, ``chat.frames``) are kept for
RECENT_SECONDS as they came, while they follow on without a hole: a socket opening in the room
replays what it missed from here (``recent``) instead of the database, as long as the kept run
covers it. They are what the sockets that were open got; whatever changed since is a later
entry, which the opening socket replays or gets live too.

The layer's group memberships expire (channels_redis keeps them ``group_expiry``) and a Redis
restart forgets them: ``refresh`` re-joins every group of the process; the sockets' heartbeats
call it at most once per ``REFRESH_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from itertools import islice
from typing import Any, NamedTuple

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# The channel-layer alias of sockets whose group messages come through the fan-out: no layer
# has it, so Channels gives them no channel of their own (a Redis subscription per socket, made
# on opening and dropped on closing, and a task waiting on it, for messages nobody sends).
FANOUT_ONLY = "fan-out only"

REFRESH_SECONDS = 10.0
# At most one a second to each socket, with room for the event loop's jitter and a socket's
# own backlog: flushed every 1.0 s, two frames 0.95-0.99 s apart reached clients whenever one
# flush ran late; every 1.25 s, two reached one socket 0.8 s apart once in a storm whose
# joiners each got ~35 catch-up frames queued before the first (the bench's join storm).
COALESCE_SECONDS = 1.5
# A group's numbered frames kept for opening sockets: the last 30 s of a room (a crowd's
# handshakes took up to 10 s in the bench's join storm, and each asks from the seq it saw
# before), at most 500 of them (a busy room's last few seconds).
RECENT_SECONDS = 30.0
RECENT_MAX = 500


class Kept(NamedTuple):
    """A numbered frame as the group got it: what a catch-up sends (the fields of a log entry
    read from the database, chat.events.Numbered, that the socket uses)."""

    seq: int
    ack_id: str
    text: str
    affects: tuple | None  # a moderation action's (member id or 0, kind)
    at: float  # loop time it came


class _Group:
    def __init__(self, name: str):
        self.name = name
        self.members: dict[Any, None] = {}  # insertion-ordered set
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None
        # Done once the layer holds the subscription (or with the error that refused it).
        self.joined: asyncio.Future = asyncio.get_running_loop().create_future()
        self.next_coalesced = 0.0  # loop time from which a coalesced message goes at once
        self.held: dict[str, Any] | None = None  # the coalesced message waiting for its turn
        self.recent: deque[Kept] = deque()  # numbered frames in seq order, without a hole


class Fanout:
    def __init__(self, layer=None):
        self._layer = layer
        self.groups: dict[str, _Group] = {}
        self._refreshed = 0.0
        # Tasks of deliveries that had to wait: held until done (the loop keeps only weak
        # references to tasks).
        self._waiting_tasks: set[asyncio.Task] = set()

    @property
    def layer(self):
        if self._layer is None:
            self._layer = get_channel_layer()
        return self._layer

    async def join(self, name: str, member: Any) -> None:
        """Add ``member`` to the group; once this returns, it gets every later message.
        Raises what the layer raises (Redis down) with ``member`` left out."""
        group = self.groups.get(name)
        if group is not None:
            group.members[member] = None
            try:
                await asyncio.shield(group.joined)  # the first member's join may be on its way
            except BaseException:
                group.members.pop(member, None)
                raise
            return
        group = self.groups[name] = _Group(name)
        group.members[member] = None
        try:
            group.channel = await self.layer.new_channel(prefix="fanout.")
            await self.layer.group_add(name, group.channel)
        except BaseException as exc:
            self._forget(group)
            group.joined.set_exception(exc)
            group.joined.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        group.reader = asyncio.ensure_future(self._read(group))
        group.joined.set_result(None)
        if not group.members:  # everyone left while the subscription was on its way
            await self._drop(group)

    async def leave(self, name: str, member: Any) -> None:
        group = self.groups.get(name)
        if group is None or member not in group.members:
            return
        del group.members[member]
        if not group.members and group.joined.done() and not group.joined.exception():
            await self._drop(group)

    async def _drop(self, group: _Group) -> None:
        self._forget(group)
        await self.layer.group_discard(group.name, group.channel)

    async def refresh(self, now: float) -> None:
        """Re-join every group of this process (idempotent); at most every REFRESH_SECONDS."""
        if now - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = now
        for group in list(self.groups.values()):
            if group.joined.done():
                await self.layer.group_add(group.name, group.channel)

    def _forget(self, group: _Group) -> None:
        if self.groups.get(group.name) is group:
            del self.groups[group.name]
        if group.reader is not None:
            group.reader.cancel()

    async def _read(self, group: _Group) -> None:
        while True:
            try:
                message = await self.layer.receive(group.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: the layer reconnects; the heartbeats re-join
                logger.warning("fan-out of %s: receive failed", group.name, exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if "coalesce" in message:
                message = self._coalesced(group, message)
                if message is None:
                    continue
            if "seqs" in message:
                try:
                    self._keep(group, message)
                except (ValueError, TypeError, KeyError, AttributeError):  # not as we send them
                    logger.warning("fan-out of %s: numbered frames not kept", group.name)
                    group.recent.clear()
            self._deliver(group, message)

    def _deliver(self, group: _Group, message: dict[str, Any]) -> None:
        handler = message["type"].replace(".", "_")
        for member in list(group.members):
            try:
                coro = getattr(member, handler)(message)
            except Exception:  # no such handler: this socket misses it, the reader goes on
                logger.exception("fan-out of %s: no %s for a socket", group.name, handler)
                continue
            self._run_eagerly(coro, group.name)

    def _run_eagerly(self, coro, name: str) -> None:
        """Run ``coro`` now up to its first wait; if it waits, the rest runs in a task (what
        Python 3.12's eager tasks do, without the cost of a task for the ones that never
        wait)."""
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        except Exception:
            logger.exception("fan-out of %s: a socket's handler failed", name)
            return
        task = asyncio.ensure_future(self._resume(coro, waiting_on, name))
        self._waiting_tasks.add(task)
        task.add_done_callback(self._waiting_tasks.discard)

    @staticmethod
    async def _resume(coro, waiting_on, name: str) -> None:
        """Drive a coroutine that stopped on ``waiting_on`` (a future, or None for a bare
        yield) to its end, as a task would."""
        try:
            while True:
                if waiting_on is None:
                    await asyncio.sleep(0)
                else:
                    waiting_on._asyncio_future_blocking = False
                    await asyncio.wait((waiting_on,))
                waiting_on = coro.send(None)
        except StopIteration:
            pass
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception:
            logger.exception("fan-out of %s: a socket's handler failed", name)

    def recent(self, name: str, after_seq: int, upto_seq: int) -> list[Kept] | None:
        """The group's numbered frames after ``after_seq`` up to ``upto_seq``, if it kept every
        one of them (None otherwise: read them from the log)."""
        group = self.groups.get(name)
        if group is None or upto_seq <= after_seq:
            return None
        recent = group.recent
        self._expire(recent, asyncio.get_running_loop().time())
        if not recent or recent[0].seq > after_seq + 1 or recent[-1].seq < upto_seq:
            return None
        start = after_seq + 1 - recent[0].seq
        return list(islice(recent, start, start + upto_seq - after_seq))

    def _keep(self, group: _Group, message: dict[str, Any]) -> None:
        recent, now = group.recent, asyncio.get_running_loop().time()
        affects = message.get("affects", {})
        entries = zip(message["seqs"], message["ack_ids"], message["frames"], strict=True)
        for seq, ack_id, text in entries:
            if recent and seq <= recent[-1].seq:
                continue  # announced again (a redelivered batch)
            if recent and seq != recent[-1].seq + 1:
                recent.clear()  # one went missing on its way here: start again after it
            note = affects.get(str(seq))
            recent.append(Kept(seq, ack_id, text, tuple(note) if note else None, now))
        self._expire(recent, now)

    @staticmethod
    def _expire(recent: deque[Kept], now: float) -> None:
        while recent and (recent[0].at < now - RECENT_SECONDS or len(recent) > RECENT_MAX):
            recent.popleft()

    def _coalesced(self, group: _Group, message: dict[str, Any]) -> dict[str, Any] | None:
        """The message to deliver now, or None: it is held (replacing one held before) until
        the group's interval ends."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if group.held is None and now >= group.next_coalesced:
            group.next_coalesced = now + COALESCE_SECONDS
            return message
        if group.held is None:
            loop.call_later(group.next_coalesced - now, self._release, group)
            group.held = message
        else:
            group.held = {**message, "frame": message["coalesce"]}
        return None

    def _release(self, group: _Group) -> None:
        message, group.held = group.held, None
        if message is not None and self.groups.get(group.name) is group:
            group.next_coalesced = asyncio.get_running_loop().time() + COALESCE_SECONDS
            self._deliver(group, message)


_fanouts: dict[asyncio.AbstractEventLoop, Fanout] = {}


def fanout() -> Fanout:
    """This process's fan-out (one per event loop: the layer's connections belong to it)."""
    loop = asyncio.get_running_loop()
    hub = _fanouts.get(loop)
    if hub is None:
        hub = _fanouts[loop] = Fanout()
    return hub
