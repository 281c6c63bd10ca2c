"""Title-hakwon event names, group names and envelope builders.

Kafka records on ``hakwon.events`` (keyed by hakwon id), written through the outbox and
forwarded by the relay to the sockets watching that hakwon, unchanged but for ``v``:
  ``comment.created`` / ``reply.created`` / ``comment.updated``  {"hakwon_id", "comment": {...}}
  ``comment.deleted``  {"hakwon_id", "comment_id", "parent_id", "placeholder"}
  ``comment.liked``    {"hakwon_id", "comment_id", "like_count"}
  ``hakwon.closed``    {"hakwon_id", "awards": [...]}
Group message (channel layer -> HakwonConsumer):
  ``hakwon.frames``    {"event_ids": [...], "frames": [text, ...]}
"""

from __future__ import annotations

from typing import Any

from zzalu import envelope

COMMENT_CREATED = "comment.created"
REPLY_CREATED = "reply.created"
COMMENT_UPDATED = "comment.updated"
COMMENT_DELETED = "comment.deleted"
COMMENT_LIKED = "comment.liked"
HAKWON_CLOSED = "hakwon.closed"
ALL = (
    COMMENT_CREATED,
    REPLY_CREATED,
    COMMENT_UPDATED,
    COMMENT_DELETED,
    COMMENT_LIKED,
    HAKWON_CLOSED,
)

COMMENT_ACK = "comment.ack"
GROUP_FRAMES = "hakwon.frames"

DELETED_TEXT = ""


def hakwon_group(hakwon_id: int) -> str:
    return f"hakwon.{hakwon_id}"


def comment_text(comment) -> str:
    """What anyone is shown of a comment's text: nothing once it is deleted."""
    return DELETED_TEXT if comment.is_deleted else comment.content


def comment_data(comment) -> dict[str, Any]:
    """A comment as the API and the socket both show it (``liked`` is added per reader)."""
    return {
        "id": comment.pk,
        "hakwon_id": comment.hakwon_id,
        "parent_id": comment.parent_id,
        "author": comment.author.public_profile,
        "content": comment_text(comment),
        "is_edited": comment.is_edited,
        "is_deleted": comment.is_deleted,
        "like_count": comment.like_count,
        "reply_count": comment.reply_count,
        "created_at": envelope.iso(comment.created_at),
        "updated_at": envelope.iso(comment.updated_at),
    }


def award_data(award) -> dict[str, Any]:
    return {
        "rank": award.rank,
        "like_count": award.like_count,
        "member": award.user.public_profile,
        "comment_id": award.comment_id,
        "content": comment_text(award.comment),
    }


def frame_of(record: dict[str, Any]) -> dict[str, Any]:
    """What a watcher receives: the record without the contract version."""
    return {k: v for k, v in record.items() if k != "v"}


def frames_group_message(frames: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": GROUP_FRAMES,
        "event_ids": [f["event_id"] for f in frames],
        "frames": [envelope.encode_text(f) for f in frames],
    }


def ack_frame(*, action: str, client_msg_id: str | None, **fields: Any) -> dict[str, Any]:
    return envelope.make(COMMENT_ACK, action=action, client_msg_id=client_msg_id, **fields)
