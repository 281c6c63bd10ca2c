"""The ``chat.message`` frame the direct and floor arms deliver: the real frame's shape without a
stored ``seq``, so the load generator reads every arm the same way. No Django here: the floor
server imports it too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def message_frame(*, room_id: int, sender: dict | None, send: dict[str, Any]) -> dict[str, Any]:
    """The frame for a ``chat.send`` (``send``) in ``room_id``."""
    return {
        "type": "chat.message",
        "event_id": str(uuid.uuid4()),
        "room_id": room_id,
        "seq": None,
        "kind": "TALK",
        "sender": sender,
        "body": send.get("body") or "",
        "gif_url": send.get("gif_url"),
        "client_msg_id": send.get("client_msg_id"),
        "sent_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
