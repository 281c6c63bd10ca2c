"""Chat reads."""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from redis import RedisError

from uploads.models import Upload
from zzalu import envelope
from zzalu.text import SEARCH, clean_input

from . import events
from .models import (
    ChatMessage,
    ChatRoom,
    MessageChange,
    MessageReport,
    ModerationAction,
    Reaction,
    RoomLike,
    RoomMember,
)
from .presence import online_counts

logger = logging.getLogger(__name__)

ROOM_ORDERINGS = {
    "recent": ("-last_activity_at", "-id"),
    "likes": ("-like_count", "-last_activity_at", "-id"),
}


def room_list(*, search: str = "", ordering: str = "recent", member=None) -> QuerySet[ChatRoom]:
    """Rooms by name or tag (only the ones ``member`` joined, when given); InvalidInput for a
    search term that breaks the text rule (e.g. over 100 characters: a long ``icontains`` is a
    cheap way to make the database work)."""
    rooms = ChatRoom.objects.select_related("owner", "image").prefetch_related("tags")
    if member is not None:
        rooms = rooms.filter(members__user=member)
    search = clean_input(search, SEARCH, field="search").lstrip("#")
    if search:
        rooms = rooms.filter(Q(name__icontains=search) | Q(tags__name__iexact=search)).distinct()
    return rooms.order_by(*ROOM_ORDERINGS.get(ordering, ROOM_ORDERINGS["recent"]))


def room_get(*, room_id: int) -> ChatRoom | None:
    return (
        ChatRoom.objects.select_related("owner", "image")
        .prefetch_related("tags")
        .filter(pk=room_id)
        .first()
    )


def room_exists(*, room_id: int) -> bool:
    return ChatRoom.objects.filter(pk=room_id).exists()


def room_last_seq(*, room_id: int) -> int | None:
    return ChatRoom.objects.filter(pk=room_id).values_list("last_seq", flat=True).first()


def rooms_last_seq(room_ids: list[int]) -> list[int | None]:
    """room_last_seq of each room (None: no such room), one query for all."""
    tails = dict(ChatRoom.objects.filter(pk__in=set(room_ids)).values_list("pk", "last_seq"))
    return [tails.get(room_id) for room_id in room_ids]


def room_online_counts(*, room_ids: list[int]) -> dict[int, int | None]:
    """Online counts, or None per room while Redis is unreachable (pages still render)."""
    try:
        return online_counts(room_ids)
    except RedisError:
        logger.warning("presence unavailable: Redis is unreachable")
        return dict.fromkeys(room_ids)


def room_counts(*, room_ids: list[int]) -> list[dict[str, int | None]]:
    """What a rooms list shows live of each room: ``{"room_id", "online", "like_count"}``, for
    the rooms of ``room_ids`` that exist (``online`` None while Redis is unreachable). One
    query and one Redis round trip."""
    likes = dict(ChatRoom.objects.filter(pk__in=room_ids).values_list("pk", "like_count"))
    online = room_online_counts(room_ids=list(likes))
    return [
        {"room_id": room_id, "online": online[room_id], "like_count": likes[room_id]}
        for room_id in room_ids
        if room_id in likes
    ]


def room_liked_ids(*, user, room_ids: list[int]) -> set[int]:
    """Which of these rooms the member likes (empty for anonymous readers)."""
    if not (user and user.is_authenticated) or not room_ids:
        return set()
    return set(
        RoomLike.objects.filter(user=user, room_id__in=room_ids).values_list("room_id", flat=True)
    )


def room_unread_counts(*, user, room_ids: list[int]) -> dict[int, int]:
    """Unread messages per room the member joined (others' messages after their marker, not
    deleted); rooms they did not join are left out. One query for the markers, one to count."""
    if not (user and user.is_authenticated) or not room_ids:
        return {}
    markers = dict(
        RoomMember.objects.filter(user=user, room_id__in=room_ids).values_list(
            "room_id", "last_read_seq"
        )
    )
    if not markers:
        return {}
    after_marker = Q()
    for room_id, seq in markers.items():
        after_marker |= Q(room_id=room_id, seq__gt=seq)
    counts = dict(
        ChatMessage.objects.filter(after_marker, is_deleted=False)
        .exclude(sender=user)
        .order_by()
        .values("room_id")
        .annotate(unread=Count("id"))
        .values_list("room_id", "unread")
    )
    return {room_id: counts.get(room_id, 0) for room_id in markers}


def member_last_read_seq(*, user, room_id: int) -> int | None:
    if not (user and user.is_authenticated):
        return None
    return (
        RoomMember.objects.filter(user=user, room_id=room_id)
        .values_list("last_read_seq", flat=True)
        .first()
    )


def rooms_with_message_counts() -> QuerySet[ChatRoom]:
    return ChatRoom.objects.annotate(message_count=Count("messages"))


def message_history(
    *,
    room_id: int,
    before_seq: int | None = None,
    after_seq: int | None = None,
    limit: int | None = None,
) -> list[ChatMessage]:
    """A page of messages, oldest first.

    With ``after_seq``: the oldest ones after it (catching up). Otherwise the newest ones,
    before ``before_seq`` when given (scrolling back).
    """
    limit = min(limit or settings.CHAT_HISTORY_PAGE, settings.CHAT_HISTORY_MAX)
    messages = ChatMessage.objects.filter(room_id=room_id).select_related("reply_to", "gif_upload")
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    if after_seq is not None:
        return list(messages.filter(seq__gt=after_seq).order_by("seq")[:limit])
    return list(reversed(messages.order_by("-seq")[:limit]))


def history_frames(*, messages: list[ChatMessage], user) -> list[dict]:
    """Messages as the history API and the room page show them: the ``chat.message`` frame
    plus ``reactions`` ([{"emoji", "count", "me"}], in the order they were first used)."""
    counts: dict[int, dict[str, dict]] = {m.pk: {} for m in messages}
    me = user.pk if user and user.is_authenticated else None
    rows = Reaction.objects.filter(message__in=counts).order_by("id")
    for message_id, emoji, user_id in rows.values_list("message_id", "emoji", "user_id"):
        chip = counts[message_id].setdefault(emoji, {"emoji": emoji, "count": 0, "me": False})
        chip["count"] += 1
        chip["me"] = chip["me"] or user_id == me
    return [{**events.message_frame(m), "reactions": list(counts[m.pk].values())} for m in messages]


def room_recent_gifs(*, room_id: int, limit: int = 24) -> list[Upload]:
    """Uploaded GIFs sent in the room, newest first, each once (deleted messages left out)."""
    sent = (
        ChatMessage.objects.filter(room_id=room_id, gif_upload__isnull=False, is_deleted=False)
        .order_by("-seq")
        .values_list("gif_upload_id", flat=True)[: limit * 4]
    )
    ids = list(dict.fromkeys(sent))[:limit]
    uploads = Upload.objects.in_bulk(ids)
    return [uploads[pk] for pk in ids if pk in uploads]


def log_between(*, room_id: int, after_seq: int, upto_seq: int) -> list[events.Numbered]:
    """The room's log with after_seq < seq <= upto_seq — messages (as they are now), changes
    and moderation actions in seq order: what a socket replays to catch up or to fill a gap."""
    messages = ChatMessage.objects.filter(
        room_id=room_id, seq__gt=after_seq, seq__lte=upto_seq
    ).select_related("reply_to", "gif_upload")
    changes = MessageChange.objects.filter(
        room_id=room_id, seq__gt=after_seq, seq__lte=upto_seq
    ).select_related("message")
    actions = ModerationAction.objects.filter(room_id=room_id, seq__gt=after_seq, seq__lte=upto_seq)
    entries = [events.Numbered.of_message(m) for m in messages]
    entries += [events.Numbered.of_change(c) for c in changes]
    entries += [events.Numbered.of_action(a) for a in actions]
    return sorted(entries, key=lambda e: e.seq)


SHARED_SPAN = 400  # the longest span of a room's log read once for several sockets
# How long a span read for opening sockets serves the next ones. Whatever changed in it since
# is in the log after it, and a socket replays that too: a longer time costs no correctness.
RECENT_SECONDS = 5.0


class _RecentLogs:
    """The part of each room's log that sockets opening in the last RECENT_SECONDS read,
    extended as the room's tail moves: a crowd opening a busy room reads each entry once, not
    once per batch of them. Entries keep the state they were read in (an edit or a deletion
    made since follows as its own entry, as it does for the sockets that were open)."""

    KEEP = 64  # rooms kept before the spans read more than RECENT_SECONDS ago are dropped

    def __init__(self):
        self.spans: dict[int, tuple[float, int, int, list[events.Numbered]]] = {}
        self.lock = threading.Lock()  # (called from the database thread; the lock is cheap)

    def read(self, room_id: int, after_seq: int, upto_seq: int) -> list[events.Numbered]:
        now = time.monotonic()
        with self.lock:
            read_at, low, high, entries = self.spans.get(room_id, (0.0, 0, 0, []))
            if now - read_at > RECENT_SECONDS or upto_seq - min(low, after_seq) > SHARED_SPAN:
                read_at, low, high, entries = now, after_seq, after_seq, []
            if after_seq < low:  # an older socket's catch-up
                entries = log_between(room_id=room_id, after_seq=after_seq, upto_seq=low) + entries
                low = after_seq
            if upto_seq > high:
                entries = entries + log_between(room_id=room_id, after_seq=high, upto_seq=upto_seq)
                high = upto_seq
            self.spans[room_id] = (read_at, low, high, entries)
            if len(self.spans) > self.KEEP:
                fresh = self.spans.items()
                self.spans = {room: span for room, span in fresh if now - span[0] <= RECENT_SECONDS}
            return entries


_recent = _RecentLogs()


def logs_between(ranges: list[tuple[int, int, int]]) -> list[list[events.Numbered]]:
    """log_between of each (room_id, after_seq, upto_seq). Sockets opening together want about
    the same part of their room's log: the span their ranges cover is read once when it is at
    most SHARED_SPAN long (and what the room's sockets read in the last RECENT_SECONDS is not
    read again: _RecentLogs), and each gets its slice."""
    spans: dict[int, tuple[int, int]] = {}
    for room_id, after_seq, upto_seq in ranges:
        low, high = spans.get(room_id, (after_seq, upto_seq))
        spans[room_id] = (min(low, after_seq), max(high, upto_seq))
    shared = {
        room_id: _recent.read(room_id, low, high)
        for room_id, (low, high) in spans.items()
        if high - low <= SHARED_SPAN
    }
    seqs = {room_id: [entry.seq for entry in log] for room_id, log in shared.items()}
    answers = []
    for room_id, after_seq, upto_seq in ranges:
        if room_id not in shared:
            answers.append(log_between(room_id=room_id, after_seq=after_seq, upto_seq=upto_seq))
            continue
        at = seqs[room_id]
        answers.append(shared[room_id][bisect_right(at, after_seq) : bisect_right(at, upto_seq)])
    return answers


def room_roster(*, room: ChatRoom, viewer) -> dict:
    """Who runs the room (owner, moderators) and its slow mode for everyone; who is muted or
    banned for those who may act on it (owner, moderators, staff)."""
    from .moderation import role_in  # the rules live with moderation

    def person(user_id, nickname):
        return {"id": user_id, "nickname": nickname}

    members = RoomMember.objects.filter(room=room).select_related("user").order_by("user__nickname")
    roster = {
        "owner": person(room.owner_id, room.owner.display_name) if room.owner else None,
        "moderators": [
            person(m.user_id, m.user.display_name) for m in members.filter(is_moderator=True)
        ],
        "slow_mode_seconds": room.slow_mode_seconds,
        "my_role": role_in(room, viewer),
    }
    if roster["my_role"] is not None:
        now = timezone.now()
        roster["muted"] = [
            {**person(m.user_id, m.user.display_name), "until": envelope.iso(m.muted_until)}
            for m in members.filter(muted_until__gt=now)
        ]
        roster["banned"] = [
            {**person(m.user_id, m.user.display_name), "reason": m.ban_reason}
            for m in members.filter(banned_at__isnull=False)
        ]
    return roster


def room_reports(*, room_id: int, unresolved: bool = True):
    reports = MessageReport.objects.filter(message__room_id=room_id).select_related(
        "message", "reporter"
    )
    return reports.filter(resolved_at__isnull=True) if unresolved else reports
