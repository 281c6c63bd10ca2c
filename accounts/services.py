"""Member writes."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from uploads.services import upload_create
from zzalu.errors import InvalidInput
from zzalu.text import NICKNAME, PROFILE_MESSAGE, URL, USERNAME, clean_input

from .models import User


def user_create(
    *,
    username: str,
    password: str,
    nickname: str = "",
    profile_path: str = "",
    profile_message: str = "",
) -> User:
    username = clean_input(username, USERNAME, field="username")
    user = User(
        username=username,
        nickname=clean_input(nickname, NICKNAME, field="nickname") or username,
        profile_path=clean_input(profile_path, URL, field="profile_path"),
        profile_message=clean_input(profile_message, PROFILE_MESSAGE, field="profile_message"),
    )
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # lost a race with a signup of the same name
        raise InvalidInput("This username is already taken.", field="username") from exc
    return user


@transaction.atomic
def profile_update(
    *,
    user: User,
    nickname: str,
    profile_path: str = "",
    profile_message: str = "",
    avatar_file=None,
    avatar_remove: bool = False,
) -> User:
    """What other members see; the nickname falls back to the username, as at signup.
    ``avatar_file`` uploads a new profile image, ``avatar_remove`` drops the uploaded one
    (either way after the text passed its checks: a refused file changes nothing)."""
    nickname = clean_input(nickname, NICKNAME, field="nickname") or user.username
    profile_path = clean_input(profile_path, URL, field="profile_path")
    profile_message = clean_input(profile_message, PROFILE_MESSAGE, field="profile_message")
    if avatar_file is not None or avatar_remove:
        avatar_set(user=user, file=avatar_file)
    user.nickname, user.profile_path = nickname, profile_path
    user.profile_message = profile_message
    user.save(update_fields=["nickname", "profile_path", "profile_message"])
    return user


def avatar_set(*, user: User, file=None) -> User:
    """The member's uploaded profile image: ``file`` (anything with ``read``) stored through
    uploads.services.upload_create, or none (None). A refused file raises UnsupportedMedia or
    TooLarge, and the avatar stays as it was."""
    user.avatar = upload_create(owner=user, file=file) if file is not None else None
    user.save(update_fields=["avatar"])
    return user


def refresh_tokens_revoke(*, user_id: int) -> int:
    """Blacklist every refresh token the member still holds (logout, a password change): a
    refresh with any of them answers 401 from now on. Returns how many were revoked."""
    live = OutstandingToken.objects.filter(
        user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(revoked)
