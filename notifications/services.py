"""Notifications: how one travels and is stored.

Whatever causes a notification hands a ``Notice`` over: chat mentions and replies from the relay
(``notify_now``: produced and acknowledged before the relay's batch counts as handled),
title-hakwon replies, likes and awards inside the write's transaction (``notify_after_commit``:
through the outbox). Either way it becomes a ``notification.created`` record on
``notifications.events`` keyed by the recipient, which the relay stores once
(``notifications_store``) and sends to the recipient's own socket.
"""

from __future__ import annotations

import concurrent.futures
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from outbox.services import outbox_enqueue
from zzalu import envelope
from zzalu.errors import InvalidInput
from zzalu.kafka import KafkaUnavailable, produce_nowait, topic_name
from zzalu.relay import PoisonRecord, row_id
from zzalu.text import BODY, NICKNAME, clean_input

from . import events
from .models import Notification

NAMESPACE = uuid.UUID("0b7e4f4e-1c55-4d0a-9a57-3e3f0f6b2d10")
EXCERPT = 100


@dataclass(frozen=True)
class Notice:
    recipient_id: int
    kind: str  # Notification.Kind
    source: str  # what caused it: one notification per (recipient, kind, source)
    actor: dict[str, Any] | None  # {"id", "nickname"} of who did it
    text: str
    url: str  # a path on this site
    count: int = 1
    at: datetime = field(default_factory=timezone.now)

    def record(self) -> dict[str, Any]:
        notification_id = uuid.uuid5(NAMESPACE, f"{self.kind}:{self.recipient_id}:{self.source}")
        return envelope.record(events.NOTIFICATION_CREATED, **self.fields(notification_id))

    def fields(self, notification_id: uuid.UUID) -> dict[str, Any]:
        return {
            "notification_id": str(notification_id),
            "recipient_id": self.recipient_id,
            "kind": self.kind,
            "actor": self.actor,
            "text": self.text[:EXCERPT],
            "url": self.url,
            "count": self.count,
            "at": envelope.iso(self.at),
        }


def notify_now(notices: list[Notice]) -> None:
    """Produce from a worker and wait until Kafka has every record (KafkaUnavailable: the
    caller retries; the ids keep a retried notice from being stored twice)."""
    futures = [
        produce_nowait(
            topic_name("notifications"), str(n.recipient_id), envelope.encode(n.record())
        )
        for n in notices
    ]
    for future in futures:
        try:
            future.result(settings.KAFKA_ACK_TIMEOUT)
        except concurrent.futures.TimeoutError as exc:
            raise KafkaUnavailable("a notification was not acknowledged in time") from exc


def notify_after_commit(notices: list[Notice]) -> None:
    """Inside the transaction of the write that caused them: published after commit."""
    for notice in notices:
        record = notice.record()
        outbox_enqueue(
            topic=topic_name("notifications"),
            key=str(notice.recipient_id),
            type_=record.pop("type"),
            **{k: v for k, v in record.items() if k != "v"},
        )


# --- the relay side ------------------------------------------------------------------------------


SITE_PATH = re.compile(r"/(?![/\\])[^\s\\]{0,499}")


def _site_path(value: Any) -> str:
    """A path on this site, and nothing a browser could read as another host ("//x",
    "/\\x", a path with spaces or control characters)."""
    if not isinstance(value, str) or not SITE_PATH.fullmatch(value):
        raise ValueError("url must be a path on this site")
    return value


def notification_from_record(record: dict[str, Any]) -> Notification:
    """An unsaved Notification from a record, or PoisonRecord for one that can never be."""
    try:
        actor = record["actor"]
        at = envelope.parse_iso(record["at"])
        if at.tzinfo is None:
            raise ValueError("at without a time zone")
        envelope.iso(at)  # OverflowError for the far ends of the calendar
        count = record["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count < 2**31:
            raise ValueError("count out of range")
        if record["kind"] not in Notification.Kind.values:
            raise ValueError(f"kind {record['kind']!r}"[:100])
        actor_id = None if actor is None else actor.get("id")
        return Notification(
            notification_id=uuid.UUID(str(record["notification_id"])),
            recipient_id=row_id(record["recipient_id"]),
            kind=record["kind"],
            actor_id=None if actor_id is None else row_id(actor_id),
            actor_nickname=""
            if actor is None
            else clean_input(actor.get("nickname") or "", NICKNAME, field="nickname"),
            text=clean_input(record["text"], BODY, field="text")[:EXCERPT],
            url=_site_path(record["url"]),
            count=count,
            created_at=at,
            updated_at=at,
        )
    except InvalidInput as exc:
        raise PoisonRecord(f"notification: {exc.detail}") from exc
    except (LookupError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise PoisonRecord(f"notification: {exc!r}"[:300]) from exc


def notifications_store(incoming: list[Notification]) -> list[Notification]:
    """Store notifications once each; returns the ones to announce: new, changed, or stored
    before but never announced (the announcement of their first delivery failed).

    A record seen before changes nothing, except likes on one caption, which share one row:
    a newer record updates its count and makes it unread again (two in one batch are announced
    once, with the newer count). Notifications for members
    the database no longer has, or by actors it no longer has, are dropped / kept anonymous.
    """
    users = get_user_model().objects
    ids = {n.recipient_id for n in incoming} | {n.actor_id for n in incoming if n.actor_id}
    known = set(users.filter(pk__in=ids).values_list("pk", flat=True))
    existing = {
        n.notification_id: n
        for n in Notification.objects.filter(
            notification_id__in=[n.notification_id for n in incoming]
        )
    }
    changed: dict[str, Notification] = {}  # by notification_id, in first-seen order
    for notification in incoming:
        if notification.recipient_id not in known:
            continue
        if notification.actor_id not in known:
            notification.actor_id = None
        stored = existing.get(notification.notification_id)
        if stored is None:
            notification.save()
            existing[notification.notification_id] = notification
            changed[notification.notification_id] = notification
        elif (notification.updated_at, notification.count) > (stored.updated_at, stored.count):
            # likes: the newer count wins (times are to the millisecond: a tie goes to the
            # higher count)
            stored.count, stored.updated_at, stored.read_at = (
                notification.count, notification.updated_at, None,
            )  # fmt: skip
            stored.actor_id, stored.actor_nickname = (
                notification.actor_id, notification.actor_nickname,
            )  # fmt: skip
            stored.announced = False
            fields = ["count", "updated_at", "read_at", "actor", "actor_nickname", "announced"]
            stored.save(update_fields=fields)
            changed[stored.notification_id] = stored
        elif not stored.announced:
            changed[stored.notification_id] = stored  # its announcement failed: tell them now
    return list(changed.values())


def unread_counts(recipient_ids: set[int]) -> dict[int, int]:
    counts = dict(
        Notification.objects.filter(recipient_id__in=recipient_ids, read_at__isnull=True)
        .order_by()
        .values("recipient_id")
        .annotate(unread=Count("id"))
        .values_list("recipient_id", "unread")
    )
    return {recipient_id: counts.get(recipient_id, 0) for recipient_id in recipient_ids}


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark some (``ids``) or all of the member's notifications read; returns the unread
    count after. Ids of other members' notifications are ignored."""
    mine = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        mine = mine.filter(pk__in=ids)
    mine.update(read_at=timezone.now())
    return unread_counts({user.pk})[user.pk]


def notifications_announced(notifications: list[Notification]) -> None:
    Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(announced=True)
