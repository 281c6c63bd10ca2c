"""Notification reads."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Notification


def notification_inbox(*, user) -> QuerySet[Notification]:
    """The member's notifications, the most recently changed first."""
    return Notification.objects.filter(recipient=user).order_by("-updated_at", "-id")


def notification_unread_count(*, user) -> int:
    if not (user and user.is_authenticated):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
