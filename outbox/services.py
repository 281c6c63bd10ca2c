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

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from redis import RedisError

from zzalu import envelope
from zzalu.kafka import KafkaRejected, KafkaUnavailable, produce_nowait
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


def outbox_pending() -> QuerySet[OutboxEvent]:
    return OutboxEvent.objects.filter(published_at__isnull=True, dead_at__isnull=True)


def outbox_publish_pending(*, limit: int = 200, timeout: float = 5.0) -> int:
    """Publish unpublished events in id order; returns how many were published or died.

    Stops at the first event the broker does not acknowledge in time: the rest are marked
    only on a later attempt. Events are produced pipelined, so some behind a failed one may
    reach Kafka first and be published again later (receivers drop repeated event ids).
    An event the broker refuses for good (KafkaRejected, e.g. too large) counts an attempt;
    after ``OUTBOX_MAX_ATTEMPTS`` it is marked dead (``manage.py dead_letters``) and the
    events behind it go on. Raises KafkaUnavailable when nothing could be published.
    """
    pending = list(outbox_pending().order_by("id")[:limit])
    if not pending:
        return 0
    sent = []
    failure: Exception | None = None
    for event in pending:
        try:
            value = envelope.encode(event.payload)
            sent.append((event, produce_nowait(event.topic, event.key, value)))
        except (KafkaUnavailable, KafkaRejected) as exc:
            failure = exc  # this one and later ones wait (or this one counts an attempt)
            break
    published: list[int] = []
    for event, future in sent:
        try:
            future.result(timeout)
        except Exception as exc:  # KafkaUnavailable, KafkaRejected or a timeout
            failure = exc
            break
        published.append(event.pk)
    if published:
        OutboxEvent.objects.filter(pk__in=published).update(published_at=timezone.now())
    if failure is None:
        return len(published)
    failed = pending[len(published)]
    if isinstance(failure, KafkaRejected):
        return len(published) + _outbox_refused(failed, failure)
    OutboxEvent.objects.filter(pk=failed.pk).update(last_error=str(failure)[:500])
    if not published:
        raise KafkaUnavailable(str(failure))
    return len(published)


def _outbox_refused(event: OutboxEvent, failure: Exception) -> int:
    """Count a refusal; mark the row dead at the limit. Returns 1 if it died."""
    dead = event.attempts + 1 >= settings.OUTBOX_MAX_ATTEMPTS
    OutboxEvent.objects.filter(pk=event.pk).update(
        attempts=F("attempts") + 1,
        last_error=str(failure)[:500],
        dead_at=timezone.now() if dead else None,
    )
    if dead:
        logger.error("outbox event #%s is dead after %d refusals: %s", event.pk,
                     event.attempts + 1, failure)  # fmt: skip
    return int(dead)


def outbox_dead_revive(*, rows: QuerySet[OutboxEvent]) -> int:
    """Queue dead rows again (after a fix), with a fresh count of attempts."""
    return rows.filter(dead_at__isnull=False).update(dead_at=None, attempts=0)


def outbox_dead_purge(*, rows: QuerySet[OutboxEvent]) -> int:
    deleted, _ = rows.filter(dead_at__isnull=False).delete()
    return deleted
