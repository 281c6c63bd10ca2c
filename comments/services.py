"""Title-hakwon writes. The one place for the rules; REST and the hakwon socket both call these.

Every write commits together with its outbox event, which the sweeper publishes to
``hakwon.events`` after commit (keyed by hakwon, so watchers see one hakwon's events in order).
"""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from notifications.models import Notification
from notifications.services import Notice, notify_after_commit
from outbox.services import outbox_enqueue
from zzalu.errors import Conflict, Forbidden, InvalidInput, NotFound
from zzalu.kafka import topic_name
from zzalu.text import COMMENT, clean_input

from . import events
from .models import AwardRecord, Comment, CommentLike, TitleHakwon
from .selectors import hakwon_today

logger = logging.getLogger(__name__)


class HakwonClosed(InvalidInput):
    code = "hakwon_closed"


def _publish(hakwon_id: int, type_: str, **fields) -> None:
    outbox_enqueue(
        topic=topic_name("hakwon"), key=str(hakwon_id), type_=type_, hakwon_id=hakwon_id, **fields
    )


def _clean_content(content) -> str:
    content = clean_input(content, COMMENT, field="content")
    if not content:
        raise InvalidInput("Write something.", field="content")
    return content


def _require_open(hakwon: TitleHakwon) -> None:
    if hakwon.state != TitleHakwon.State.PROCEED:
        raise HakwonClosed("This title-hakwon is not open.")


# What a moderator needs, in the admin and through the API alike (the admin's actions declare
# the same permissions).
EDIT_COMMENTS_PERMISSION = "comments.change_comment"
DELETE_COMMENTS_PERMISSION = "comments.delete_comment"
RUN_HAKWONS_PERMISSION = "comments.change_titlehakwon"


def _require_author_or(comment: Comment, user, permission: str) -> None:
    if not (comment.author_id == user.pk or user.has_perm(permission)):
        raise Forbidden("Only the author or a moderator can do that.")


def _require_permission(user, permission: str) -> None:
    """``user`` None is the system itself (the scheduler), which may."""
    if user is not None and not user.has_perm(permission):
        raise Forbidden("You do not have the permission to do that.")


def _hold_hakwon(hakwon_id: int) -> None:
    """Share-lock a hakwon's row until the transaction ends (PostgreSQL ``FOR SHARE``, which
    Django's ORM cannot write). Writes to one hakwon's comments hold it side by side, and
    hakwon_close (``FOR UPDATE``) waits for them: nothing lands after the awards."""
    if connection.vendor != "postgresql":
        return  # SQLite: a writing transaction holds the whole database
    table = connection.ops.quote_name(TitleHakwon._meta.db_table)
    column = connection.ops.quote_name(TitleHakwon._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {column} = %s FOR SHARE", [hakwon_id])


def _locked(comment: Comment) -> Comment:
    """Re-read a comment under a row lock, with what its events need.

    The lock is the comment's own row (``of=self``): joined, PostgreSQL would lock the author
    (a member liked by many would block every one of them, and their own login) and the hakwon
    (every like of a hakwon one after another). The hakwon is share-locked first, in the order
    hakwon_close locks hakwon then comments (its awards reference them), so the two cannot
    deadlock; its state, read after that lock, cannot change until this transaction ends.
    """
    _hold_hakwon(comment.hakwon_id)
    return (
        Comment.objects.select_for_update(of=("self",))
        .select_related("hakwon", "author")
        .get(pk=comment.pk)
    )


# --- comments and replies ---------------------------------------------------------------------


@transaction.atomic
def comment_create(*, hakwon: TitleHakwon, author, content: str) -> Comment:
    content = _clean_content(content)
    hakwon = TitleHakwon.objects.select_for_update().get(pk=hakwon.pk)
    _require_open(hakwon)
    comment = Comment.objects.create(hakwon=hakwon, author=author, content=content)
    _publish(hakwon.pk, events.COMMENT_CREATED, comment=events.comment_data(comment))
    return comment


@transaction.atomic
def reply_create(*, parent: Comment, author, content: str) -> Comment:
    content = _clean_content(content)
    parent = _locked(parent)
    if parent.parent_id is not None:
        raise InvalidInput("Replies cannot be replied to.", code="nested_reply")
    if parent.is_deleted:
        raise InvalidInput("That comment was deleted.", code="comment_deleted")
    _require_open(parent.hakwon)
    reply = Comment.objects.create(
        hakwon_id=parent.hakwon_id, author=author, parent=parent, content=content
    )
    Comment.objects.filter(pk=parent.pk).update(reply_count=F("reply_count") + 1)
    _publish(parent.hakwon_id, events.REPLY_CREATED, comment=events.comment_data(reply))
    if parent.author_id is not None and parent.author_id != author.pk:
        notify_after_commit([_notice(Notification.Kind.COMMENT_REPLY, parent, reply, author)])
    return reply


@transaction.atomic
def comment_edit(*, comment: Comment, user, content: str) -> Comment:
    comment = _locked(comment)
    _require_author_or(comment, user, EDIT_COMMENTS_PERMISSION)
    if comment.is_deleted:
        raise NotFound("That comment was deleted.")
    _require_open(comment.hakwon)
    comment.content = _clean_content(content)
    comment.is_edited = True
    comment.save(update_fields=["content", "is_edited", "updated_at"])
    _publish(comment.hakwon_id, events.COMMENT_UPDATED, comment=events.comment_data(comment))
    return comment


@transaction.atomic
def comment_delete(*, comment: Comment, user) -> None:
    """Authors delete while the hakwon is open; moderators (the delete permission) any time.

    A comment with replies becomes a placeholder so its thread stays readable; its text is
    blanked in the row itself, so no list, award or page can show it again.
    """
    comment = _locked(comment)
    _require_author_or(comment, user, DELETE_COMMENTS_PERMISSION)
    if comment.is_deleted:
        raise NotFound("That comment was already deleted.")
    if not user.has_perm(DELETE_COMMENTS_PERMISSION):
        _require_open(comment.hakwon)
    comment_id, placeholder = comment.pk, comment.reply_count > 0
    if placeholder:
        Comment.objects.filter(pk=comment.pk).update(is_deleted=True, content=events.DELETED_TEXT)
    else:
        comment.delete()
        if comment.parent_id:
            Comment.objects.filter(pk=comment.parent_id).update(reply_count=F("reply_count") - 1)
    _publish(
        comment.hakwon_id,
        events.COMMENT_DELETED,
        comment_id=comment_id,
        parent_id=comment.parent_id,
        placeholder=placeholder,
    )


# --- likes --------------------------------------------------------------------------------------


def _like_count(comment_id: int) -> int:
    return Comment.objects.values_list("like_count", flat=True).get(pk=comment_id)


def comment_like(*, comment: Comment, user) -> int:
    """Like once (Conflict if already liked; Forbidden for one's own comment: likes decide the
    awards); returns the new count."""
    try:
        with transaction.atomic():
            comment = _locked(comment)
            if comment.is_deleted:
                raise NotFound("That comment was deleted.")
            _require_open(comment.hakwon)
            if comment.author_id == user.pk:
                raise Forbidden("You cannot like your own comment.", code="own_comment")
            CommentLike.objects.create(comment=comment, user=user)
            Comment.objects.filter(pk=comment.pk).update(like_count=F("like_count") + 1)
            count = _like_count(comment.pk)
            _publish(
                comment.hakwon_id, events.COMMENT_LIKED, comment_id=comment.pk, like_count=count
            )
            if comment.author_id is not None:  # one notification per caption, its count grows
                notice = _notice(Notification.Kind.COMMENT_LIKES, comment, comment, user, count)
                notify_after_commit([notice])
    except IntegrityError as exc:
        raise Conflict("You already like this comment.", code="already_liked") from exc
    return count


@transaction.atomic
def comment_unlike(*, comment: Comment, user) -> int:
    """Take a like back (NotFound if there was none); returns the new count."""
    comment = _locked(comment)
    _require_open(comment.hakwon)
    deleted, _ = CommentLike.objects.filter(comment=comment, user=user).delete()
    if not deleted:
        raise NotFound("You do not like this comment.", code="not_liked")
    Comment.objects.filter(pk=comment.pk).update(like_count=F("like_count") - 1)
    count = _like_count(comment.pk)
    _publish(comment.hakwon_id, events.COMMENT_LIKED, comment_id=comment.pk, like_count=count)
    return count


# --- schedule -----------------------------------------------------------------------------------


@transaction.atomic
def hakwon_open(*, hakwon: TitleHakwon, user=None) -> bool:
    """Open a hakwon that has not opened yet; False if it was already open or closed.
    ``user``: the moderator asking (None: the scheduler)."""
    _require_permission(user, RUN_HAKWONS_PERMISSION)
    updated = TitleHakwon.objects.filter(pk=hakwon.pk, state=TitleHakwon.State.NOT_OPEN).update(
        state=TitleHakwon.State.PROCEED
    )
    return bool(updated)


@transaction.atomic
def hakwon_close(*, hakwon: TitleHakwon, user=None) -> list[AwardRecord]:
    """Close an open hakwon and award the three most-liked captions (ties: earlier first).

    Closing twice changes nothing: only an open hakwon is closed and awarded. ``user``: the
    moderator asking (None: the scheduler).
    """
    _require_permission(user, RUN_HAKWONS_PERMISSION)
    hakwon = TitleHakwon.objects.select_for_update().get(pk=hakwon.pk)
    if hakwon.state != TitleHakwon.State.PROCEED:
        return []
    winners = (
        Comment.objects.filter(hakwon=hakwon, parent=None, is_deleted=False, like_count__gt=0)
        .select_related("author")
        .order_by("-like_count", "created_at", "id")[:3]
    )
    awards = [
        AwardRecord(hakwon=hakwon, user=c.author, comment=c, rank=rank, like_count=c.like_count)
        for rank, c in enumerate(winners, start=1)
    ]
    AwardRecord.objects.bulk_create(awards)
    TitleHakwon.objects.filter(pk=hakwon.pk).update(state=TitleHakwon.State.DONE)
    _publish(hakwon.pk, events.HAKWON_CLOSED, awards=[events.award_data(a) for a in awards])
    notify_after_commit(
        [
            Notice(
                recipient_id=a.user_id,
                kind=Notification.Kind.AWARD,
                source=f"award:{hakwon.pk}:{a.rank}",
                actor=None,
                text=f"{a.rank}등",
                url=f"/hakwon/{hakwon.pk}/#comment-{a.comment_id}",
            )
            for a in awards
        ]
    )
    return awards


def _notice(kind: str, about: Comment, said: Comment, actor, count: int = 1) -> Notice:
    """A notification for ``about``'s author: ``said`` is what it shows (a reply, or the
    caption itself for likes)."""
    source = (
        f"likes:{about.pk}" if kind == Notification.Kind.COMMENT_LIKES else f"comment:{said.pk}"
    )
    return Notice(
        recipient_id=about.author_id,
        kind=kind,
        source=source,
        actor={"id": actor.pk, "nickname": actor.display_name},
        text=said.content,
        url=f"/hakwon/{about.hakwon_id}/#comment-{about.pk}",
        count=count,
    )


@transaction.atomic
def hakwon_tick(*, today: date | None = None) -> dict[str, list]:
    """Close every earlier open hakwon (with awards) and open today's, creating it if needed.

    Safe to run any number of times: a second run finds nothing to do.
    """
    today = today or hakwon_today()
    closed = []
    for hakwon in TitleHakwon.objects.filter(
        state=TitleHakwon.State.PROCEED, open_date__lt=today
    ).order_by("open_date"):
        hakwon_close(hakwon=hakwon)
        closed.append(hakwon)
    current, created = TitleHakwon.objects.get_or_create(
        open_date=today, defaults={"image_url": settings.HAKWON_DEFAULT_IMAGE_URL}
    )
    opened = [current] if hakwon_open(hakwon=current) else []
    if created:
        logger.info("created today's hakwon %s with the default image", today)
    return {"closed": closed, "opened": opened}
