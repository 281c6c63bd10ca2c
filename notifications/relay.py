"""Relay handler for ``notifications.events``: store each notification once and tell the
recipient's open sockets (``/ws/me/``), with their unread count."""

from __future__ import annotations

from zzalu.relay import decode_record

from . import events
from .services import (
    notification_from_record,
    notifications_announced,
    notifications_store,
    unread_counts,
)

REQUIRED = {
    events.NOTIFICATION_CREATED: (
        "notification_id", "recipient_id", "kind", "actor", "text", "url", "count", "at",
    ),
}  # fmt: skip


def handle_batch(records: list, *, announce) -> int:
    incoming = [notification_from_record(decode_record(r, REQUIRED)) for r in records]
    changed = notifications_store(incoming)
    if not changed:
        return 0
    unread = unread_counts({n.recipient_id for n in changed})
    announce(
        [
            (
                events.user_group(n.recipient_id),
                events.group_message(events.created_frame(n, unread=unread[n.recipient_id])),
            )
            for n in changed
        ]
    )
    notifications_announced(changed)
    return len(changed)
