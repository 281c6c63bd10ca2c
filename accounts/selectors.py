"""Member reads: what a member's profile page shows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Sum

from chat.models import ChatRoom
from comments.models import AwardRecord, Comment, TitleHakwon
from comments.selectors import award_list

from .models import User

PROFILE_ROOMS = 12
PROFILE_CAPTIONS = 10


@dataclass(frozen=True)
class MemberProfile:
    member: User
    owned_rooms: list[ChatRoom]
    # Rooms of others the member is in (not banned from): for the member's own eyes only
    # (opening a room while logged in joins it, so the list says what they have read).
    joined_rooms: list[ChatRoom]
    captions: list[Comment]  # the newest captions, each with its hakwon
    caption_count: int
    caption_likes: int  # likes on all of the member's captions
    awards: list[AwardRecord]


def member_get(*, username: str) -> User | None:
    return User.objects.select_related("avatar").filter(username=username, is_active=True).first()


def member_rooms(
    *, user: User, joined: bool = True, limit: int = PROFILE_ROOMS
) -> tuple[list[ChatRoom], list[ChatRoom]]:
    """The rooms the member made and (with ``joined``) the others they joined, most active
    first."""
    rooms = ChatRoom.objects.order_by("-last_activity_at", "-id")
    owned = list(rooms.filter(owner=user)[:limit])
    if not joined:
        return owned, []
    # One filter() call: the membership that matches is the one that is not banned.
    others = rooms.filter(members__user=user, members__banned_at=None).exclude(owner=user)
    return owned, list(others[:limit])


def member_captions(*, user: User, limit: int = PROFILE_CAPTIONS) -> list[Comment]:
    """The member's captions (not replies, not deleted) on days that opened, newest first."""
    return list(_captions(user).select_related("hakwon").order_by("-created_at", "-id")[:limit])


def member_profile(*, username: str, viewer=None) -> MemberProfile | None:
    """Everything the profile page shows, in a fixed number of queries whatever the member
    has (rooms, captions and awards each come in one)."""
    member = member_get(username=username)
    if member is None:
        return None
    owned, joined = member_rooms(user=member, joined=viewer == member)
    totals = _captions(member).aggregate(count=Count("id"), likes=Sum("like_count"))
    return MemberProfile(
        member=member,
        owned_rooms=owned,
        joined_rooms=joined,
        captions=member_captions(user=member),
        caption_count=totals["count"],
        caption_likes=totals["likes"] or 0,
        awards=list(award_list(username=member.username)),
    )


def _captions(user: User):
    return Comment.objects.filter(author=user, parent=None, is_deleted=False).exclude(
        hakwon__state=TitleHakwon.State.NOT_OPEN
    )
