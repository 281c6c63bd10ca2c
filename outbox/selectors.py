"""Outbox reads: what is waiting and what died (for metrics and the dead-letter tools)."""

from django.db.models import Count, Q

from .models import OutboxEvent


def outbox_counts() -> dict[str, int]:
    counts = OutboxEvent.objects.filter(published_at__isnull=True).aggregate(
        pending=Count("pk", filter=Q(dead_at__isnull=True)),
        dead=Count("pk", filter=Q(dead_at__isnull=False)),
    )
    return {"pending": counts["pending"], "dead": counts["dead"]}
