"""Dead letters: records the relay can never handle, kept for people to look at and replay.

``dead_letter_write`` is the relay's failure path: the record goes to ``<topic>.dlq`` with its
original key and value and headers saying where it came from and why, then gets an index row.
``dead_letters_replay`` sends records back to their topic after a fix; the relay handles them
idempotently as ever, so a replay stores each at most once.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from zzalu import envelope
from zzalu.kafka import KafkaRejected, Record, dead_letter_topic, produce_sync

from .models import DeadLetter

ERROR_CHARS = 1000


def _printable(text: str) -> str:
    """Error text made safe to store and show: unprintable characters escaped, not kept."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\u{ord(c):04x}" for c in text)


def dead_letter_write(record: Record, exc: Exception, attempts: int) -> DeadLetter:
    """Write ``record`` to its dead-letter topic, then index it (raises while Kafka or the
    database is away: the relay retries, so a record may be dead-lettered twice, never lost)."""
    now = timezone.now()
    # An error message may quote the record itself (control characters and all).
    error = _printable(str(exc))[:ERROR_CHARS]
    headers = [
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
        ("dlq.exception.class", exc.__class__.__name__.encode()),
        ("dlq.exception.message", error.encode()),
        ("dlq.attempts", str(attempts).encode()),
        ("dlq.time", envelope.iso(now).encode()),
    ]
    value, key = record.value or b"", record.key
    try:
        produce_sync(dead_letter_topic(record.topic), key, value, headers=headers)
    except KafkaRejected:  # too large once headers are added: keep a part (all is in the row)
        headers.append(("dlq.truncated.from", f"{len(key or b'')}+{len(value)}".encode()))
        keep = settings.KAFKA_MAX_RECORD_BYTES // 4
        produce_sync(dead_letter_topic(record.topic), key and key[:keep], value[:keep],
                     headers=headers)  # fmt: skip
    letter, _ = DeadLetter.objects.get_or_create(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        defaults={
            "key": record.key,
            "value": record.value,
            "error_class": exc.__class__.__name__[:200],
            "error": error,
            "attempts": attempts,
            "dead_at": now,
        },
    )
    return letter


def dead_letters_replay(*, letters: QuerySet[DeadLetter]) -> int:
    """Send each letter's record back to its topic with its key (acknowledged before it is
    marked replayed); returns how many were sent."""
    sent = 0
    for letter in letters.order_by("dead_at", "pk"):
        value = bytes(letter.value) if letter.value is not None else b""
        key = bytes(letter.key) if letter.key is not None else None
        produce_sync(letter.topic, key, value)
        DeadLetter.objects.filter(pk=letter.pk).update(replayed_at=timezone.now())
        sent += 1
    return sent


def dead_letters_purge(*, letters: QuerySet[DeadLetter]) -> int:
    """Forget letters (the dead-letter topic keeps its copy until its retention ends)."""
    deleted, _ = letters.delete()
    return deleted
