"""Relay handler for ``chat.events``: store messages and changes once, number them in the room's
one sequence, announce per room."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from itertools import groupby
from typing import Any

from notifications.services import notify_now
from zzalu.errors import InvalidInput
from zzalu.relay import PoisonRecord, decode_record
from zzalu.text import NICKNAME, clean_text

from . import events
from .changes import IncomingChange, change_apply
from .mentions import chat_notices
from .moderation import IncomingModeration, moderation_apply
from .presence import online_counts
from .services import IncomingMessage, message_store_batch

logger = logging.getLogger(__name__)

REQUIRED = {
    events.CHAT_MESSAGE: ("event_id", "room_id", "sender", "client_msg_id", "sent_at"),
    **dict.fromkeys(
        events.CHANGES, ("change_id", "room_id", "event_id", "actor", "client_msg_id", "at")
    ),
    events.CHAT_REMOVED: ("room_id", "event_id"),
    events.CHAT_MODERATION: ("action_id", "room_id", "kind", "actor", "target", "at"),
    events.ROOM_PRESENCE: ("room_id",),
}


@dataclass
class ChatBatch:
    # In log order.
    items: list[IncomingMessage | IncomingChange | IncomingModeration] = field(default_factory=list)
    presence: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def room_ids(self) -> set[int]:
        return {item.room_id for item in self.items}


def parse_batch(records: list, *, skip_poison: bool = False) -> ChatBatch:
    """Records as a batch to store. A record that can never be stored raises PoisonRecord (the
    relay dead-letters it and handles the rest without it), or is logged and left out."""
    batch = ChatBatch()
    for record in records:
        try:
            _parse_into(batch, record)
        except PoisonRecord as exc:
            if not skip_poison:
                raise
            logger.error("skipping record at %s/%s: %s", record.partition, record.offset, exc)
    return batch


def _parse_into(batch: ChatBatch, record) -> None:
    event = decode_record(record, REQUIRED)
    try:
        if event["type"] == events.CHAT_MESSAGE:
            batch.items.append(IncomingMessage(event, record.partition, record.offset))
        elif event["type"] == events.ROOM_PRESENCE:
            batch.presence[int(event["room_id"])].append(_presence_change(event))
        elif event["type"] == events.CHAT_MODERATION:
            batch.items.append(IncomingModeration.from_record(event))
        else:
            batch.items.append(IncomingChange.from_record(event))
    except InvalidInput as exc:
        raise PoisonRecord(f"{event['type']}: {exc.detail}") from exc
    except (LookupError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise PoisonRecord(f"{event['type']}: {exc!r}") from exc


def _presence_change(event: dict[str, Any]) -> dict[str, Any]:
    """Only what a presence frame shows: who came or went, by a nickname that keeps the text
    rule (a record from elsewhere must not put anything else in front of every socket)."""
    for change in ("joined", "left"):
        if change in event:
            who = event[change]
            if who is None:
                return {change: None}
            return {change: {"nickname": clean_text(who["nickname"], NICKNAME)}}
    raise ValueError("presence without joined or left")


def store_batch(batch: ChatBatch, *, strict: bool = True) -> list[events.Numbered]:
    """Apply a batch to the database in log order: each run of messages stored once and
    numbered in one insert, each change applied and numbered on its own.

    Every record gets the next seq of its room in log order, however the log was cut into
    batches, so replaying the log through this function (rebuild_chat_history) gives the same
    seqs. Returns the batch's numbered entries (by room, then seq), including those stored
    before (a redelivery is announced again).
    """
    entries: dict[tuple[int, int], events.Numbered] = {}
    for are_messages, run in groupby(batch.items, key=lambda i: isinstance(i, IncomingMessage)):
        if are_messages:
            numbered = map(
                events.Numbered.of_message, message_store_batch(items=list(run), strict=strict)
            )
        else:
            numbered = (e for e in map(partial(_apply, strict=strict), run) if e is not None)
        entries.update(((e.frame["room_id"], e.seq), e) for e in numbered)
    return [entries[key] for key in sorted(entries)]


def _apply(item: IncomingChange | IncomingModeration, *, strict: bool) -> events.Numbered | None:
    if isinstance(item, IncomingModeration):
        action = moderation_apply(item, strict=strict)
        return None if action is None else events.Numbered.of_action(action)
    change = change_apply(item, strict=strict)
    return None if change is None else events.Numbered.of_change(change)


def handle_batch(records: list, *, announce) -> int:
    """Store and announce one polled batch; returns the number of entries announced."""
    batch = parse_batch(records)
    entries = store_batch(batch)
    notices = chat_notices([e.frame for e in entries])
    if notices:  # stored before the room hears of it: a retried batch notifies once
        notify_now(notices)
    # Presence first: someone who joins and speaks in one batch is seen arriving, then talking.
    outgoing = _presence_messages(batch.presence)
    by_room: dict[int, list[events.Numbered]] = defaultdict(list)
    for entry in entries:
        by_room[entry.frame["room_id"]].append(entry)
    for room_id, room_entries in by_room.items():
        group_message = events.frames_group_message(room_id=room_id, entries=room_entries)
        outgoing.append((events.room_group(room_id), group_message))
    announce(outgoing)
    return len(entries)


def _presence_messages(changes: dict[int, list[dict[str, Any]]]):
    """One message per room per batch: the current count, naming the change when there was one
    (and the count alone for the rooms lists that show the room). The web processes' fan-out
    coalesces them further, to one frame a second per room: a crowd joining at once would
    otherwise cost (sockets x joins) deliveries.
    """
    if not changes:
        return []
    counts = online_counts(list(changes))
    out = []
    for room_id, room_changes in changes.items():
        change, who = None, None
        if len(room_changes) == 1:
            event = room_changes[0]
            change = "joined" if "joined" in event else "left"
            who = event.get(change)
        online = counts[room_id]
        message = events.presence_group_message(
            room_id=room_id, online=online, change=change, who=who
        )
        out.append((events.room_group(room_id), message))
        # The rooms lists showing the room: the count only (who came is the room's news).
        count_only = events.presence_group_message(room_id=room_id, online=online)
        out.append((events.watchers_group(room_id), count_only))
    return out
