"""The chat room socket: ``/ws/rooms/<room_id>/[?after_seq=N]``.

Delivery to the socket is gap-free by itself. The channel layer is at-most-once, so the socket
remembers the last ``seq`` it sent; a group message that skips ahead makes it fetch the missing
range from the database first, and every heartbeat fills up to the room's tail as the previous
beat saw it (what is newer is usually still on its way). That one rule covers a relay crash
between storing and announcing, a Redis restart and a lost group membership.

Group messages reach the socket through its web process's fan-out (zzalu.fanout: one
subscription per room per process), which calls ``chat_frames`` and ``room_frame`` directly.

A socket replays at most CHAT_CATCH_UP_LIMIT missed messages: when more are missing it sends
``chat.gap`` and then the newest ones (the page offers the older ones from the history API).

Two frames stay off the log and off the hot path. ``chat.read`` moves the member's read marker,
coalesced per socket: the highest ``seq`` asked for is written at most once every
READ_WRITE_SECONDS (and when the socket closes), so a reader who marks every message it sees
costs the database one write per two seconds, not one per message. ``typing`` goes to the room
through the channel layer only (never Kafka, never stored), at most once per TYPING_SECONDS per
socket; the rest are dropped without a word.

``room.likes`` (a like or unlike committed) comes through the channel layer like typing.

The rooms list's socket, ``/ws/rooms/`` (RoomsWatchConsumer), follows the counts of the rooms
a page shows: it joins each room's watchers group (never the room's own group, so no
messages), answers ``rooms.watch`` with the counts now, and forwards ``room.likes`` and
count-only ``room.presence`` frames. At every heartbeat it sends the counts that changed
without a frame (anonymous readers who left, a server whose sockets expired, a lost frame).

Moderation (chat.moderation): the socket keeps its member's standing (muted, banned, exempt
from slow mode) from opening on, refuses their sends and reactions with ``muted``,
``banned`` or ``slow_mode``, reloads it when an action about them or the room passes by, and
closes with 4403 when they are kicked or banned (a banned member cannot open it again).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError
from redis import RedisError

from zzalu import metrics
from zzalu.fanout import FANOUT_ONLY, fanout
from zzalu.gathered import gathered
from zzalu.kafka import KafkaRejected, KafkaUnavailable
from zzalu.sockets import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    ClientError,
    EnvelopeConsumer,
    client_msg_id_of,
)

from . import events, selectors
from .changes import CLIENT_TYPES, chat_change_submit, event_id_clean
from .moderation import (
    moderation_submit,
    report_create,
    rooms_enter,
    slow_mode_take,
    standing_of,
)
from .presence import presence_count, presence_leave, presence_touch
from .services import chat_message_submit, presence_announce, read_marker_advance

logger = logging.getLogger(__name__)

CATCH_UP_PAGE = 200
READ_WRITE_SECONDS = 2.0  # a socket writes its member's read marker at most this often
TYPING_SECONDS = 2.0  # a socket's typing reaches the room at most this often

# The database trips of every socket: shared by the sockets of the process that make them
# together (zzalu.gathered), so a crowd opening, or 2,000 sockets beating, queue no trips.
_room_enter = gathered(rooms_enter)
_log_between = gathered(selectors.logs_between)
_room_tail = gathered(selectors.rooms_last_seq, 0.5)


def _banned_reason(reason: str) -> str:
    return f"banned: {reason}" if reason else "banned"


def _after_seq(scope) -> int | None:
    raw = parse_qs(scope.get("query_string", b"").decode()).get("after_seq", [None])[0]
    if raw is None or not raw.isdigit():
        return None
    return int(raw)


class ChatConsumer(EnvelopeConsumer):
    # Nothing here touches the database outside database_sync_to_async (which cleans up
    # connections itself), so opening, sends and closing skip the per-event cleanup: a trip to
    # the one database thread each, which a crowd opening at once queued behind one another.
    fast_types = frozenset({"websocket.connect", "websocket.receive", "websocket.disconnect"})
    channel_layer_alias = FANOUT_ONLY
    route = "rooms"

    async def open(self):
        self.room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        self.group = events.room_group(self.room_id)
        self.joined = False
        self.last_seq = 0
        self._beat_tail = 0  # the room's tail at the last heartbeat
        # Held until the opening catch-up is sent: frames the room gets meanwhile wait their turn.
        self._deliver = asyncio.Lock()
        self._waiting = 0  # group messages waiting for the lock (they keep their order)
        # None for an anonymous reader: whose socket this is, for the presence list.
        self.user_id = self.user.pk if self.user and self.user.is_authenticated else None
        self._read_wanted = 0  # the highest seq this socket asked to mark read
        self._read_written = 0  # the highest seq handed to the database
        self._read_next_write = 0.0  # loop time of the next write allowed
        self._read_writer: asyncio.Task | None = None
        self._typing_next = 0.0  # loop time from which the next typing reaches the room
        # ack_id -> (client_msg_id, event_id) of this socket's sends and changes not yet
        # acknowledged (see Submitted).
        self._unacked: dict[str, tuple[str, str]] = {}
        async with self._deliver:
            # Join the room's fan-out before reading the tail, so nothing falls between the two.
            await fanout().join(self.group, self)
            self.in_fanout = True
            # One trip to the database thread: the room and its tail, the member's standing,
            # joining it.
            self.standing = await _room_enter((self.room_id, self.user))
            if self.standing is None:
                await self.close_with(CLOSE_NOT_FOUND, "unknown room")
                return
            if self.standing.banned:
                await self.close_with(CLOSE_FORBIDDEN, _banned_reason(self.standing.ban_reason))
                return
            await self.accept()
            tail = self.standing.last_seq
            requested = _after_seq(self.scope)
            self.last_seq = tail if requested is None else min(requested, tail)
            await self._send_stored(upto_seq=tail)
        try:
            await presence_touch(
                room_id=self.room_id, user_id=self.user_id, socket_id=self.channel_name
            )
        except RedisError:  # the socket works without it; the next heartbeat counts it
            logger.warning("presence not recorded for %s", self.channel_name, exc_info=True)
        self.joined = True
        self.spawn(self._announce("joined"))

    async def disconnect(self, code):
        await super().disconnect(code)  # stops the read-marker writer too: flush what it held
        if getattr(self, "_read_wanted", 0) > getattr(self, "_read_written", 0):
            await self._read_write()
        try:
            if getattr(self, "in_fanout", False):
                self.in_fanout = False
                await fanout().leave(self.group, self)
            if not getattr(self, "joined", False):
                return
            await presence_leave(
                room_id=self.room_id, user_id=self.user_id, socket_id=self.channel_name
            )
            await self._announce("left")
        except (RedisError, ConnectionError):
            pass  # Redis is down: the membership and the presence lease expire by themselves

    # --- client -> server ------------------------------------------------------------------

    async def receive_envelope(self, content: dict[str, Any]) -> None:
        if content["type"] == "chat.read":
            self._chat_read(content)
            return
        if content["type"] == "typing":
            await self._typing(content)
            return
        if content["type"] == "chat.report":
            await self._report(content)
            return
        if content["type"] == "chat.send":
            member = self.require_member(content)
            await self._may_send(sending=True)
            submit = chat_message_submit(room_id=self.room_id, sender=member, payload=content)
        elif content["type"] in CLIENT_TYPES:
            member = self.require_member(content)
            if content["type"] in ("chat.react", "chat.unreact"):
                await self._may_send(sending=False)
            submit = chat_change_submit(room_id=self.room_id, actor=member, payload=content)
        elif content["type"] == "room.moderate":
            member = self.require_member(content)
            submit = moderation_submit(room_id=self.room_id, actor=member, payload=content)
        else:
            raise ClientError("unknown_type", f"Unknown type {content['type']!r}.")
        submitted = await submit
        self._unacked[submitted.ack_id] = (submitted.client_msg_id, submitted.event_id)
        self.spawn(self._ack_when_stored(submitted))

    def _chat_read(self, content: dict[str, Any]) -> None:
        """Remember the highest seq read; the writer stores it when its turn comes."""
        self.require_member(content)
        seq = content.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ClientError("invalid_payload", "seq must be a non-negative integer.")
        if seq <= self._read_wanted:
            return
        self._read_wanted = seq
        if self._read_writer is None:
            self._read_writer = self.spawn(self._write_read_markers())

    async def _write_read_markers(self) -> None:
        """Write the wanted marker now if the last write was long enough ago, else when it is;
        seqs that arrive meanwhile ride along with that one write."""
        loop = asyncio.get_running_loop()
        try:
            while self._read_wanted > self._read_written:
                await asyncio.sleep(max(0.0, self._read_next_write - loop.time()))
                await self._read_write()
        finally:
            self._read_writer = None

    async def _read_write(self) -> None:
        seq, written = self._read_wanted, self._read_written
        self._read_written = seq
        self._read_next_write = asyncio.get_running_loop().time() + READ_WRITE_SECONDS
        try:
            await database_sync_to_async(read_marker_advance)(
                room_id=self.room_id, user_id=self.user_id, seq=seq
            )
        except DatabaseError:  # tried again at the next turn (or the next chat.read)
            logger.warning("read marker not written for %s", self.channel_name, exc_info=True)
            self._read_written = min(self._read_written, written)

    async def _typing(self, content: dict[str, Any]) -> None:
        member = self.require_member(content)
        now = asyncio.get_running_loop().time()
        if now < self._typing_next or self.standing.refusal(sending=True) is not None:
            return  # heard from this socket less than TYPING_SECONDS ago, or muted
        self._typing_next = now + TYPING_SECONDS
        try:
            await get_channel_layer().group_send(
                self.group, events.frame_group_message(events.typing_frame(member))
            )
        except (RedisError, ConnectionError):  # best effort, like the indicator it drives
            logger.info("typing not relayed for %s", self.channel_name, exc_info=True)
            self._typing_next = 0.0  # not relayed: the next one may try again at once

    async def _ack_when_stored(self, submitted) -> None:
        try:
            await asyncio.wait_for(submitted.acked, settings.KAFKA_ACK_TIMEOUT)
        except (KafkaUnavailable, TimeoutError):
            if self._unacked.pop(submitted.ack_id, None) is not None:
                await self.send_error(
                    "unavailable",
                    "The message was not confirmed in time; send it again.",
                    submitted.client_msg_id,
                )
            return
        except KafkaRejected:  # the broker will never take this record: don't ask for a retry
            if self._unacked.pop(submitted.ack_id, None) is not None:
                await self.send_error(
                    "invalid_payload", "The message was refused.", submitted.client_msg_id
                )
            return
        await self._ack(submitted.ack_id)

    async def _ack(self, ack_id: str) -> None:
        unacked = self._unacked.pop(ack_id, None)
        if unacked is not None:
            client_msg_id, event_id = unacked
            await self.send_envelope(
                events.ack_frame(client_msg_id=client_msg_id, event_id=event_id)
            )
            metrics.ACKS.labels(self.route).inc()

    async def _may_send(self, *, sending: bool) -> None:
        """Muted, banned (an action since this socket opened) or slow mode: an error frame."""
        refused = self.standing.refusal(sending=sending)
        if refused is not None:
            raise refused
        if sending:
            await slow_mode_take(room_id=self.room_id, standing=self.standing)

    async def _report(self, content: dict[str, Any]) -> None:
        member = self.require_member(content)
        client_msg_id = client_msg_id_of(content)
        if client_msg_id is None:
            raise ClientError("invalid_payload", "client_msg_id is required.")
        event_id = event_id_clean(content.get("event_id"))
        await database_sync_to_async(report_create)(
            room_id=self.room_id, event_id=event_id, reporter=member, reason=content.get("reason")
        )
        await self.send_envelope(events.ack_frame(client_msg_id=client_msg_id, event_id=event_id))

    async def _moderated(self, notes: list[tuple[int, str]]) -> str | None:
        """Actions on their way to this socket: reload the member's standing when one is about
        them or the whole room (before the socket shows it: what they send after seeing it
        meets the new standing). Returns why to close the socket once it has shown them: a kick
        or ban of its member (not in the actions a reopening socket replays: a kicked member
        may come back, and a ban was checked on opening)."""
        mine = [kind for user_id, kind in notes if user_id == self.user_id]
        if not (mine or any(user_id == 0 for user_id, _ in notes)):
            return None
        standing = await database_sync_to_async(standing_of)(room_id=self.room_id, user=self.user)
        self.standing = standing or self.standing  # None: the room is gone
        if self.joined and any(kind in ("kicked", "banned") for kind in mine):
            banned = standing is not None and standing.banned
            return _banned_reason(standing.ban_reason) if banned else "kicked"
        return None

    # These run in the process's fan-out, one socket after another (zzalu.fanout): a socket
    # with a gap to fill from the database, a moderation action to act on, its opening
    # catch-up or an earlier delivery still on its way leaves the message to a task of its
    # own, in order, and returns.

    async def chat_frames(self, message: dict[str, Any]) -> None:
        seqs = message["seqs"]
        if not seqs or self._closing or seqs[-1] <= self.last_seq:
            return
        if (
            self._waiting
            or self._deliver.locked()
            or seqs[0] > self.last_seq + 1
            or ("affects" in message)
        ):
            self._waiting += 1
            self.spawn(self._frames_in_turn(message))
            return
        async with self._deliver:  # free: taken without waiting; held if the send has to wait
            await self._send_frames(message)

    async def _frames_in_turn(self, message: dict[str, Any]) -> None:
        try:
            async with self._deliver:
                if self._closing or message["seqs"][-1] <= self.last_seq:
                    return
                if message["seqs"][0] > self.last_seq + 1:
                    await self._send_stored(upto_seq=message["seqs"][0] - 1)
                close = None
                if "affects" in message:
                    notes = [tuple(note) for note in message["affects"].values()]
                    close = await self._moderated(notes)
                await self._send_frames(message)
                if close is not None:
                    await self.close_with(CLOSE_FORBIDDEN, close)
        finally:
            self._waiting -= 1

    async def _send_frames(self, message: dict[str, Any]) -> None:
        for seq, ack_id, frame in zip(
            message["seqs"], message["ack_ids"], message["frames"], strict=True
        ):
            if seq == self.last_seq + 1:
                await self._send_numbered(seq, ack_id, frame)

    async def room_frame(self, message: dict[str, Any]) -> None:
        if self.joined and not self._closing:
            await self.send_shared(message["frame"])

    # --- helpers ---------------------------------------------------------------------------

    async def _send_stored(self, *, upto_seq: int) -> None:
        """Send the room's log after ``last_seq`` up to ``upto_seq`` (caller holds the lock)."""
        oldest_replayed = upto_seq - settings.CHAT_CATCH_UP_LIMIT + 1
        if oldest_replayed > self.last_seq + 1:
            await self.send_envelope(
                events.gap_frame(after_seq=self.last_seq, before_seq=oldest_replayed)
            )
            self.last_seq = oldest_replayed - 1
        while self.last_seq < upto_seq:
            upto = min(upto_seq, self.last_seq + CATCH_UP_PAGE)
            # What the room's fan-out kept of the last seconds, or a read of the log.
            page, source = fanout().recent(self.group, self.last_seq, upto), "kept"
            if page is None:
                page, source = await _log_between((self.room_id, self.last_seq, upto)), "log"
            metrics.CATCH_UP_ENTRIES.labels(source).inc(len(page))
            if not page:
                return
            notes = [entry.affects for entry in page if entry.affects]
            close = await self._moderated(notes) if notes else None
            for entry in page:
                await self._send_numbered(entry.seq, entry.ack_id, entry.text)
            if close is not None:
                await self.close_with(CLOSE_FORBIDDEN, close)
                return

    async def _send_numbered(self, seq: int, ack_id: str, frame: str) -> None:
        if self._unacked:  # it reached the room, so Kafka has it: the sender's ack goes first
            await self._ack(ack_id)
        await self.send_shared(frame)
        self.last_seq = seq

    async def heartbeat(self) -> None:
        await presence_touch(
            room_id=self.room_id, user_id=self.user_id, socket_id=self.channel_name
        )
        # Re-joining is idempotent and survives group expiry or a Redis restart.
        await fanout().refresh(asyncio.get_running_loop().time())
        tail = await _room_tail(self.room_id) or 0
        # Fill up to the tail the previous beat saw, not this one: in a busy room the newest
        # are usually still on their way, and reading them here would cost a page of the log
        # per socket per beat for frames that arrive anyway.
        behind, self._beat_tail = self._beat_tail, tail
        if behind > self.last_seq:
            async with self._deliver:
                await self._send_stored(upto_seq=behind)

    async def _announce(self, change: str) -> None:
        # Members are announced to the room through Kafka. An anonymous reader costs no Kafka
        # record and no frame to the room (it counts online through its Redis lease); on
        # arrival it alone is told the count, and the rooms lists showing the room get it.
        if not (self.user and self.user.is_authenticated):
            try:
                online = await presence_count(room_id=self.room_id)
            except RedisError:
                return
            message = events.presence_group_message(room_id=self.room_id, online=online)
            if change == "joined":
                await self.send(text_data=message["frame"])
            try:
                await get_channel_layer().group_send(events.watchers_group(self.room_id), message)
            except (RedisError, ConnectionError):
                pass  # the lists' next heartbeat reads the count
            return
        try:
            await presence_announce(
                room_id=self.room_id, change=change, nickname=self.user.display_name
            )
        except KafkaUnavailable:
            pass  # presence is best effort; counts come from Redis leases anyway


WATCH_LIMIT = 100  # rooms one list socket may follow (a page shows 20)


def _watched_ids(value: Any) -> list[int]:
    """``rooms.watch``'s ``room_ids``: a list of room ids (positive integers), at most
    WATCH_LIMIT, each once, in the order given."""
    if not isinstance(value, list) or len(value) > WATCH_LIMIT:
        raise ClientError(
            "invalid_payload", f"room_ids must be a list of at most {WATCH_LIMIT} room ids."
        )
    ids: dict[int, None] = {}
    for room_id in value:
        if isinstance(room_id, bool) or not isinstance(room_id, int) or not 0 < room_id < 2**63:
            raise ClientError("invalid_payload", "room_ids must be room ids (positive integers).")
        ids[room_id] = None
    return list(ids)


class RoomsWatchConsumer(EnvelopeConsumer):
    """``/ws/rooms/``: live counts (online, likes) of the rooms a list page shows."""

    channel_layer_alias = FANOUT_ONLY
    route = "rooms-watch"

    async def open(self):
        self.watching: list[int] = []
        self._sent: dict[int, tuple[int | None, int]] = {}  # room -> (online, likes) last sent
        await self.accept()

    async def disconnect(self, code):
        await super().disconnect(code)
        try:
            for room_id in getattr(self, "watching", ()):
                await fanout().leave(events.watchers_group(room_id), self)
        except (RedisError, ConnectionError):
            pass  # group memberships expire by themselves

    async def receive_envelope(self, content: dict[str, Any]) -> None:
        if content["type"] != events.ROOMS_WATCH:
            raise ClientError("unknown_type", f"Unknown type {content['type']!r}.")
        wanted = _watched_ids(content.get("room_ids"))
        for room_id in set(self.watching) - set(wanted):
            await fanout().leave(events.watchers_group(room_id), self)
            self.watching.remove(room_id)
        # Join before reading the counts, so no change falls between the two. (A join that
        # fails leaves the socket watching what it joined so far: disconnect leaves those.)
        for room_id in wanted:
            if room_id not in self.watching:
                await fanout().join(events.watchers_group(room_id), self)
                self.watching.append(room_id)
        self.watching = wanted
        self._sent = {}
        await self._send_counts(answer=True)

    async def _send_counts(self, *, answer: bool = False) -> None:
        """The watched rooms' counts that differ from what this socket last sent; as the
        answer to ``rooms.watch``, every watched room that exists."""
        rooms = await database_sync_to_async(selectors.room_counts)(room_ids=self.watching)
        changed = [
            room
            for room in rooms
            if self._sent.get(room["room_id"]) != (room["online"], room["like_count"])
        ]
        self._sent = {room["room_id"]: (room["online"], room["like_count"]) for room in rooms}
        if changed or answer:
            await self.send_envelope(events.counts_frame(changed))

    async def room_frame(self, message: dict[str, Any]) -> None:
        if not self._closing:
            await self.send_shared(message["frame"])

    async def heartbeat(self) -> None:
        # Re-joining is idempotent and survives group expiry or a Redis restart.
        await fanout().refresh(asyncio.get_running_loop().time())
        if self.watching:
            await self._send_counts()
