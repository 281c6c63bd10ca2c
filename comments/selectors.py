"""Title-hakwon reads."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import AwardRecord, Comment, CommentLike, TitleHakwon

COMMENT_ORDERINGS = {
    "latest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "popular": ("-like_count", "-created_at", "-id"),
}


def hakwon_today(now: datetime | None = None) -> date:
    """Today's date where the contest runs (Asia/Seoul by default)."""
    return (now or timezone.now()).astimezone(ZoneInfo(settings.HAKWON_TIME_ZONE)).date()


def hakwon_list(*, state: str | None = None) -> QuerySet[TitleHakwon]:
    """Days that opened: days the admin scheduled ahead (not open yet) stay hidden."""
    hakwons = (
        TitleHakwon.objects.exclude(state=TitleHakwon.State.NOT_OPEN)
        .select_related("image")
        .annotate(comment_count=Count("comments", filter=Q(comments__is_deleted=False)))
        .order_by("-open_date")
    )
    if state:
        hakwons = hakwons.filter(state=state)
    return hakwons


def hakwon_get(*, hakwon_id: int) -> TitleHakwon | None:
    return hakwon_list().filter(pk=hakwon_id).first()


def hakwon_of_today() -> TitleHakwon | None:
    return hakwon_list().filter(open_date=hakwon_today()).first()


def hakwon_exists(*, hakwon_id: int) -> bool:
    return TitleHakwon.objects.filter(pk=hakwon_id).exists()


def comment_list(*, hakwon_id: int) -> QuerySet[Comment]:
    """Top-level captions of a hakwon; the caller orders and paginates."""
    return Comment.objects.filter(hakwon_id=hakwon_id, parent=None).select_related("author")


def reply_list(*, parent_id: int) -> QuerySet[Comment]:
    return (
        Comment.objects.filter(parent_id=parent_id)
        .select_related("author")
        .order_by("created_at", "id")
    )


def comment_best(*, hakwon_id: int, limit: int = 3) -> list[Comment]:
    return list(
        comment_list(hakwon_id=hakwon_id)
        .filter(like_count__gt=0, is_deleted=False)
        .order_by("-like_count", "created_at", "id")[:limit]
    )


def comment_get(*, comment_id: int) -> Comment | None:
    return Comment.objects.select_related("author", "hakwon").filter(pk=comment_id).first()


def liked_ids(*, user, comment_ids: list[int]) -> set[int]:
    """Which of these comments the member likes (empty for anonymous readers)."""
    if not (user and user.is_authenticated) or not comment_ids:
        return set()
    return set(
        CommentLike.objects.filter(user=user, comment_id__in=comment_ids).values_list(
            "comment_id", flat=True
        )
    )


def award_list(*, username: str) -> QuerySet[AwardRecord]:
    return (
        AwardRecord.objects.filter(user__username=username)
        .select_related("hakwon", "comment", "user")
        .order_by("-hakwon__open_date", "rank")
    )


def recent_winners(*, limit: int = 7) -> list[TitleHakwon]:
    """Closed hakwons, newest first, each with its awards prefetched."""
    return list(
        TitleHakwon.objects.filter(state=TitleHakwon.State.DONE)
        .prefetch_related("awards__user", "awards__comment")
        .order_by("-open_date")[:limit]
    )
