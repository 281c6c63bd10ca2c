"""Chat event names, group names and envelope builders: the chat half of the wire format.

Kafka records on ``chat.events`` (keyed by room id), each before the relay numbered it:
  ``chat.message``  a member's message
  ``chat.edited``   the author changed a message's body
  ``chat.deleted``  the author or staff deleted a message
  ``chat.reaction`` a member added (``added``) or took back an emoji on a message
  ``chat.moderation`` an owner, moderator or staff acted (mute, kick, ban, slow mode, roles)
  ``chat.removed``  (version 1 logs only: read as a ``chat.deleted`` by staff)
  ``room.presence`` a socket joined or left a room

The socket frames of the first four carry the record's fields plus the room's ``seq`` (one
sequence per room for messages and changes alike); ``chat.message`` frames show the message
as it is now, and ``chat.reaction`` frames the emoji's ``count`` after the change.

Group messages (channel layer -> each web process's fan-out -> ChatConsumer), already encoded
once by the relay:
  ``chat.frames``   {"room_id", "seqs", "ack_ids", "frames": [text, ...]} numbered frames
  ``room.frame``    {"frame": text} anything else for every socket in the room; presence
                    also carries ``coalesce`` (zzalu.fanout: at most one a second per room)

Two frames never touch Kafka or the log: ``room.typing`` and ``room.likes`` (a room's like
count after a like or unlike committed), sent through the channel layer by the web process.

The rooms list's socket (``/ws/rooms/``, RoomsWatchConsumer) joins one watchers group per room
it shows (``room.<id>.watch``): it gets each room's ``room.likes`` and a count-only
``room.presence``, never the room's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from zzalu import envelope

CHAT_MESSAGE = "chat.message"
CHAT_EDITED = "chat.edited"
CHAT_DELETED = "chat.deleted"
CHAT_REACTION = "chat.reaction"
CHAT_REMOVED = "chat.removed"  # version 1 logs
CHANGES = (CHAT_EDITED, CHAT_DELETED, CHAT_REACTION)
CHAT_MODERATION = "chat.moderation"
# A moderation action's frame, by its kind (chat.models.ModerationAction.Kind).
ACTION_FRAMES = {
    "muted": "room.member_muted",
    "unmuted": "room.member_muted",
    "kicked": "room.member_kicked",
    "banned": "room.member_banned",
    "unbanned": "room.member_banned",
    "slow_mode": "room.slow_mode",
    "moderator_added": "room.member_role",
    "moderator_removed": "room.member_role",
}
CHAT_ACK = "chat.ack"
CHAT_GAP = "chat.gap"
ROOM_PRESENCE = "room.presence"
ROOM_TYPING = "room.typing"
ROOM_LIKES = "room.likes"
ROOMS_WATCH = "rooms.watch"  # client -> server on /ws/rooms/
ROOMS_COUNTS = "rooms.counts"

GROUP_FRAMES = "chat.frames"
GROUP_FRAME = "room.frame"


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def watchers_group(room_id: int) -> str:
    """The rooms list's sockets that show this room (its counts only)."""
    return f"room.{room_id}.watch"


def message_record(
    *,
    event_id: str,
    room_id: int,
    sender: dict[str, Any],
    body: str,
    gif_url: str | None,
    client_msg_id: str,
    sent_at: datetime,
    reply_to: str | None = None,
    gif_id: str | None = None,
) -> dict[str, Any]:
    return envelope.record(
        CHAT_MESSAGE,
        event_id=event_id,
        room_id=room_id,
        kind="TALK",
        sender=sender,
        body=body,
        gif_url=gif_url,
        client_msg_id=client_msg_id,
        sent_at=envelope.iso(sent_at),
        reply_to=reply_to,
        gif_id=gif_id,
    )


REPLY_EXCERPT = 80


def _reply_frame(original) -> dict[str, Any] | None:
    if original is None:
        return None
    return {
        "event_id": str(original.event_id),
        "sender": {"id": original.sender_id, "nickname": original.sender_nickname},
        "excerpt": "" if original.is_deleted else original.body[:REPLY_EXCERPT],
        "deleted": original.is_deleted,
    }


def message_frame(message) -> dict[str, Any]:
    """A stored ChatMessage as it is now, as every socket and the history API see it (load
    ``reply_to`` and ``gif_upload`` with it: select_related)."""
    gif = message.gif_upload.as_dict() if message.gif_upload_id else None
    return envelope.make(
        CHAT_MESSAGE,
        event_id=str(message.event_id),
        room_id=message.room_id,
        seq=message.seq,
        kind=message.kind,
        sender={
            "id": message.sender_id,
            "username": message.sender_username,
            "nickname": message.sender_nickname,
            "profile_path": message.sender_profile_path,
        },
        body="" if message.is_deleted else message.body,
        gif_url=None if message.is_deleted else (gif["url"] if gif else message.gif_url or None),
        gif=None if message.is_deleted else gif,
        client_msg_id=message.client_msg_id,
        sent_at=envelope.iso(message.sent_at),
        reply_to=_reply_frame(message.reply_to) if message.reply_to_id else None,
        mentions=message.mentions,
        edited_at=envelope.iso(message.edited_at) if message.edited_at else None,
        deleted=message.is_deleted,
        deleted_by=message.deleted_by or None,
    )


def change_record(type_: str, **fields: Any) -> dict[str, Any]:
    """A change to a message as the web process hands it to Kafka: ``change_id`` (the
    change's own idempotency key), ``room_id``, ``event_id`` (the message), ``actor``,
    ``client_msg_id``, ``at`` and the fields of its kind."""
    assert type_ in CHANGES
    return envelope.record(type_, **fields)


def change_frame(change) -> dict[str, Any]:
    """A stored MessageChange as every socket sees it (load ``message`` with it)."""
    common = {
        "room_id": change.room_id,
        "seq": change.seq,
        "event_id": str(change.message.event_id),
    }
    if change.kind == change.Kind.EDITED:
        return envelope.make(
            CHAT_EDITED, **common, body=change.body, edited_at=envelope.iso(change.at)
        )
    if change.kind == change.Kind.DELETED:
        return envelope.make(CHAT_DELETED, **common, deleted_by=change.deleted_by)
    return envelope.make(
        CHAT_REACTION,
        **common,
        emoji=change.emoji,
        count=change.count,
        added=change.kind == change.Kind.REACTED,
        user={"id": change.actor_id, "nickname": change.actor_nickname},
    )


def action_frame(action) -> dict[str, Any]:
    """A stored ModerationAction as every socket sees it."""
    fields: dict[str, Any] = {"room_id": action.room_id, "seq": action.seq}
    if action.target_nickname:
        fields["user"] = {"id": action.target_id, "nickname": action.target_nickname}
    kind = action.kind
    if kind in ("muted", "unmuted"):
        fields["until"] = envelope.iso(action.until) if kind == "muted" else None
    elif kind in ("banned", "unbanned"):
        fields.update(banned=kind == "banned", reason=action.reason)
    elif kind == "slow_mode":
        fields["seconds"] = action.seconds
    elif kind != "kicked":
        fields["role"] = "moderator" if kind == "moderator_added" else "member"
    by = {"id": action.actor_id, "nickname": action.actor_nickname, "role": action.actor_role}
    return envelope.make(ACTION_FRAMES[kind], **fields, by=by)


@dataclass(frozen=True)
class Numbered:
    """One entry of a room's log on its way to sockets: its seq, the id that acknowledges the
    sender (a message's event_id, a change's change_id, an action's action_id), its frame, and
    for moderation whom it concerns (``affects``: the member's id, 0 for the whole room)."""

    seq: int
    ack_id: str
    frame: dict[str, Any]
    affects: tuple[int, str] | None = None  # (member id or 0, action kind)

    @cached_property
    def text(self) -> str:
        """The frame encoded, once however many sockets an entry read for several is sent to."""
        return envelope.encode_text(self.frame)

    @classmethod
    def of_message(cls, message) -> Numbered:
        return cls(message.seq, str(message.event_id), message_frame(message))

    @classmethod
    def of_change(cls, change) -> Numbered:
        return cls(change.seq, str(change.change_id), change_frame(change))

    @classmethod
    def of_action(cls, action) -> Numbered:
        affects = (action.target_id or 0, action.kind)
        return cls(action.seq, str(action.action_id), action_frame(action), affects)


def presence_record(*, room_id: int, change: str, nickname: str | None) -> dict[str, Any]:
    """``change`` is "joined" or "left"; anonymous readers change the count but have no name."""
    who = {"nickname": nickname} if nickname else None
    return envelope.record(ROOM_PRESENCE, room_id=room_id, **{change: who})


def presence_frame(*, room_id: int, online: int, change: str, who: dict | None) -> dict[str, Any]:
    frame = envelope.make(ROOM_PRESENCE, room_id=room_id, online=online)
    if who:
        frame[change] = who
    return frame


def typing_frame(user) -> dict[str, Any]:
    """Someone is typing: through the channel layer only, never logged."""
    return envelope.make(ROOM_TYPING, user={"id": user.pk, "nickname": user.display_name})


def likes_frame(*, room_id: int, like_count: int) -> dict[str, Any]:
    """The room's like count now (absolute): through the channel layer only, never logged."""
    return envelope.make(ROOM_LIKES, room_id=room_id, like_count=like_count)


def counts_frame(rooms: list[dict[str, Any]]) -> dict[str, Any]:
    """Watched rooms' counts: ``[{"room_id", "online", "like_count"}, ...]``."""
    return envelope.make(ROOMS_COUNTS, rooms=rooms)


def ack_frame(*, client_msg_id: str, event_id: str) -> dict[str, Any]:
    return envelope.make(CHAT_ACK, client_msg_id=client_msg_id, event_id=event_id)


def gap_frame(*, after_seq: int, before_seq: int) -> dict[str, Any]:
    """Messages after ``after_seq`` and before ``before_seq`` were not replayed: the history
    API has them."""
    return envelope.make(CHAT_GAP, after_seq=after_seq, before_seq=before_seq)


def frames_group_message(*, room_id: int, entries: list[Numbered]) -> dict[str, Any]:
    """One channel-layer message carrying a run of numbered frames, each encoded once (and,
    for moderation, whom each action concerns: {seq: [member id or 0, kind]})."""
    message = {
        "type": GROUP_FRAMES,
        "room_id": room_id,
        "seqs": [e.seq for e in entries],
        "ack_ids": [e.ack_id for e in entries],
        "frames": [e.text for e in entries],
    }
    affects = {str(e.seq): list(e.affects) for e in entries if e.affects}
    if affects:
        message["affects"] = affects
    return message


def frame_group_message(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": GROUP_FRAME, "frame": envelope.encode_text(frame)}


def presence_group_message(
    *, room_id: int, online: int, change: str | None = None, who: dict | None = None
) -> dict[str, Any]:
    """A room's presence for its sockets, coalesced by each web process's fan-out (at most one
    a second per room; zzalu.fanout): the count naming who came or went, and the count alone
    for when several changes were folded into one frame."""
    count_only = envelope.encode_text(
        presence_frame(room_id=room_id, online=online, change="", who=None)
    )
    message = {"type": GROUP_FRAME, "frame": count_only, "coalesce": count_only}
    if who:
        message["frame"] = envelope.encode_text(
            presence_frame(room_id=room_id, online=online, change=change, who=who)
        )
    return message
