"""The one envelope format: a flat JSON object whose ``type`` says what it is.

The same shape travels as a Kafka record value (``chat.events``, ``hakwon.events``), inside a
channel-layer group message and as a WebSocket text frame, so nothing is translated on the way.
Records on Kafka also carry ``v`` (the contract version, see docs/events.md).
"""

from datetime import UTC, datetime
from typing import Any

import orjson

VERSION = 1


def make(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, **fields}


def record(type_: str, **fields: Any) -> dict[str, Any]:
    """An envelope bound for Kafka: versioned."""
    return {"v": VERSION, "type": type_, **fields}


def encode(envelope: dict[str, Any]) -> bytes:
    return orjson.dumps(envelope)


def encode_text(envelope: dict[str, Any]) -> str:
    return orjson.dumps(envelope).decode()


def decode(raw: bytes | str) -> dict[str, Any]:
    """Parse an envelope; raises ValueError on anything that is not a JSON object with a type."""
    value = orjson.loads(raw)
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ValueError("not an envelope")
    return value


def iso(dt: datetime) -> str:
    """ISO-8601 in UTC with a Z, the only timestamp format on the wire."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
