"""Relay handler for ``hakwon.events``: forward each hakwon's events to its watchers.

Like counts are read fresh from the database when forwarded, and several likes of one comment
in a batch collapse into the last one: however events interleave, the last ``comment.liked`` a
watcher gets carries the committed count.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from zzalu.relay import PoisonRecord, decode_record

from . import events
from .models import Comment

logger = logging.getLogger(__name__)


# Every hakwon event names its hakwon (the group to tell) and carries an event id.
REQUIRED = dict.fromkeys(events.ALL, ("event_id", "hakwon_id"))


def handle_batch(records: list, *, announce) -> int:
    by_hakwon: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        event = decode_record(record, REQUIRED)
        try:
            by_hakwon[int(event["hakwon_id"])].append(events.frame_of(event))
        except (ValueError, TypeError, OverflowError) as exc:
            raise PoisonRecord(f"{event['type']}: {exc}") from exc
    frames = {hakwon_id: _coalesce_likes(evs) for hakwon_id, evs in by_hakwon.items()}
    _refresh_like_counts([f for fs in frames.values() for f in fs])
    announce(
        [
            (events.hakwon_group(hakwon_id), events.frames_group_message(fs))
            for hakwon_id, fs in frames.items()
            if fs
        ]
    )
    return sum(len(fs) for fs in frames.values())


def _coalesce_likes(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep only the last ``comment.liked`` per comment (in its place), drop repeated events."""
    last_like = {
        f["comment_id"]: i for i, f in enumerate(frames) if f["type"] == events.COMMENT_LIKED
    }
    seen, kept = set(), []
    for i, frame in enumerate(frames):
        if frame["event_id"] in seen:
            continue
        seen.add(frame["event_id"])
        if frame["type"] == events.COMMENT_LIKED and last_like[frame["comment_id"]] != i:
            continue
        kept.append(frame)
    return kept


def _refresh_like_counts(frames: list[dict[str, Any]]) -> None:
    likes = [f for f in frames if f["type"] == events.COMMENT_LIKED]
    if not likes:
        return
    counts = dict(
        Comment.objects.filter(pk__in={f["comment_id"] for f in likes}).values_list(
            "pk", "like_count"
        )
    )
    for frame in likes:
        frame["like_count"] = counts.get(frame["comment_id"], frame["like_count"])
