"""Notification records and frames.

Kafka records on ``notifications.events`` (keyed by the recipient's id):
  ``notification.created``  {notification_id, recipient_id, kind, actor, text, url, count, at}

Frames on the member's own socket ``/ws/me/`` (group ``user.<id>``):
  ``notification.created``  {"notification": {...}, "unread"} a new (or newly grown) one
  ``notification.read``     {"ids": [...] | "all": true, "unread"} read elsewhere (another tab)
  ``notification.unread``   {"unread"} on connecting
"""

from __future__ import annotations

from typing import Any

from zzalu import envelope

NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_READ = "notification.read"
NOTIFICATION_UNREAD = "notification.unread"
GROUP_FRAME = "user.frame"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def notification_data(notification) -> dict[str, Any]:
    """A stored Notification as the API and the socket show it."""
    actor = None
    if notification.actor_nickname:
        actor = {"id": notification.actor_id, "nickname": notification.actor_nickname}
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "actor": actor,
        "text": notification.text,
        "url": notification.url,
        "count": notification.count,
        "created_at": envelope.iso(notification.created_at),
        "updated_at": envelope.iso(notification.updated_at),
        "read": notification.read_at is not None,
    }


def created_frame(notification, *, unread: int) -> dict[str, Any]:
    return envelope.make(
        NOTIFICATION_CREATED, notification=notification_data(notification), unread=unread
    )


def read_frame(*, ids: list[int] | None, unread: int) -> dict[str, Any]:
    return envelope.make(
        NOTIFICATION_READ, **({"ids": ids} if ids is not None else {"all": True}), unread=unread
    )


def unread_frame(*, unread: int) -> dict[str, Any]:
    return envelope.make(NOTIFICATION_UNREAD, unread=unread)


def group_message(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": GROUP_FRAME, "frame": envelope.encode_text(frame)}
