"""The transactional outbox: events are written in the same transaction as the change they
describe, and published to Kafka after commit by the sweeper, in id order.

One publisher at a time (a Redis lease) keeps the order per key; after a commit the sweeper is
woken through Redis, so the common case takes milliseconds, and it also polls, so nothing waits
on a lost wake-up. A row is marked published only after the broker acknowledged it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from redis import RedisError

from zzalu import envelope
from zzalu.kafka import KafkaUnavailable, produce_nowait
from zzalu.redis import get_redis, key

from .models import OutboxEvent

logger = logging.getLogger(__name__)


def wake_channel() -> str:
    return key("outbox", "wake")


def outbox_enqueue(*, topic: str, key: str, type_: str, **fields: Any) -> OutboxEvent:
    """Record an event inside the caller's transaction; it is published after commit."""
    payload = envelope.record(type_, event_id=str(uuid.uuid4()), **fields)
    event = OutboxEvent.objects.create(topic=topic, key=key, payload=payload)
    transaction.on_commit(outbox_wake)
    return event


def outbox_wake() -> None:
    try:
        get_redis().publish(wake_channel(), b"1")
    except RedisError:
        logger.info("could not wake the outbox sweeper; it will poll")


def outbox_publish_pending(*, limit: int = 200, timeout: float = 5.0) -> int:
    """Publish unpublished events in id order; returns how many were published.

    Stops at the first event the broker does not acknowledge: the rest wait for the next
    attempt, so an event is never published ahead of an earlier one with the same key.
    Raises KafkaUnavailable when nothing could be published.
    """
    pending = list(OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")[:limit])
    if not pending:
        return 0
    sent = []
    try:
        for event in pending:
            sent.append(
                (event, produce_nowait(event.topic, event.key, envelope.encode(event.payload)))
            )
    except KafkaUnavailable:
        if not sent:
            raise
    published: list[int] = []
    failure: Exception | None = None
    for event, future in sent:
        try:
            future.result(timeout)
        except Exception as exc:  # KafkaError or timeout: this one and later ones wait
            failure = exc
            break
        published.append(event.pk)
    now = timezone.now()
    if published:
        OutboxEvent.objects.filter(pk__in=published).update(published_at=now)
    if failure is not None:
        failed = sent[len(published)][0]
        OutboxEvent.objects.filter(pk=failed.pk).update(
            attempts=F("attempts") + 1, last_error=str(failure)[:500]
        )
        if not published:
            raise KafkaUnavailable(str(failure))
    return len(published)
