"""Chat event names, group names and envelope builders: the chat half of the wire format.

Kafka records on ``chat.events`` (keyed by room id):
  ``chat.message``  a member's message, before the relay numbered it (no ``seq``)
  ``chat.removed``  a moderator removed a stored message
  ``room.presence`` a socket joined or left a room

Group messages (channel layer -> ChatConsumer), already encoded once by the relay:
  ``chat.frames``   {"room_id", "seqs", "event_ids", "frames": [text, ...]} numbered messages
  ``room.frame``    {"frame": text} anything else for every socket in the room
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zzalu import envelope

CHAT_MESSAGE = "chat.message"
CHAT_REMOVED = "chat.removed"
CHAT_ACK = "chat.ack"
CHAT_GAP = "chat.gap"
ROOM_PRESENCE = "room.presence"

GROUP_FRAMES = "chat.frames"
GROUP_FRAME = "room.frame"


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def message_record(
    *,
    event_id: str,
    room_id: int,
    sender: dict[str, Any],
    body: str,
    gif_url: str | None,
    client_msg_id: str,
    sent_at: datetime,
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
    )


def message_frame(message) -> dict[str, Any]:
    """A stored ChatMessage as every socket and the history API see it."""
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
        body="" if message.is_removed else message.body,
        gif_url=None if message.is_removed else (message.gif_url or None),
        client_msg_id=message.client_msg_id,
        sent_at=envelope.iso(message.sent_at),
        removed=message.is_removed,
    )


def removed_record(*, room_id: int, event_id: str, seq: int) -> dict[str, Any]:
    return envelope.record(CHAT_REMOVED, room_id=room_id, event_id=event_id, seq=seq)


def removed_frame(*, room_id: int, event_id: str, seq: int) -> dict[str, Any]:
    return envelope.make(CHAT_REMOVED, room_id=room_id, event_id=event_id, seq=seq)


def presence_record(*, room_id: int, change: str, nickname: str | None) -> dict[str, Any]:
    """``change`` is "joined" or "left"; anonymous readers change the count but have no name."""
    who = {"nickname": nickname} if nickname else None
    return envelope.record(ROOM_PRESENCE, room_id=room_id, **{change: who})


def presence_frame(*, room_id: int, online: int, change: str, who: dict | None) -> dict[str, Any]:
    frame = envelope.make(ROOM_PRESENCE, room_id=room_id, online=online)
    if who:
        frame[change] = who
    return frame


def ack_frame(*, client_msg_id: str, event_id: str) -> dict[str, Any]:
    return envelope.make(CHAT_ACK, client_msg_id=client_msg_id, event_id=event_id)


def gap_frame(*, after_seq: int, before_seq: int) -> dict[str, Any]:
    """Messages after ``after_seq`` and before ``before_seq`` were not replayed: the history
    API has them."""
    return envelope.make(CHAT_GAP, after_seq=after_seq, before_seq=before_seq)


def frames_group_message(*, room_id: int, messages) -> dict[str, Any]:
    """One channel-layer message carrying a run of numbered frames, each encoded once."""
    return {
        "type": GROUP_FRAMES,
        "room_id": room_id,
        "seqs": [m.seq for m in messages],
        "event_ids": [str(m.event_id) for m in messages],
        "frames": [envelope.encode_text(message_frame(m)) for m in messages],
    }


def frame_group_message(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": GROUP_FRAME, "frame": envelope.encode_text(frame)}
