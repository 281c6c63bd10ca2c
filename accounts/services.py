"""Member writes."""

from django.db import IntegrityError, transaction

from zzalu.errors import InvalidInput

from .models import User


def user_create(*, username: str, password: str, nickname: str = "", **profile) -> User:
    user = User(username=username, nickname=nickname or username, **profile)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # lost a race with a signup of the same name
        raise InvalidInput("This username is already taken.", field="username") from exc
    return user


def profile_update(
    *, user: User, nickname: str, profile_path: str = "", profile_message: str = ""
) -> User:
    """What other members see; the nickname falls back to the username, as at signup."""
    user.nickname = nickname.strip() or user.username
    user.profile_path = profile_path
    user.profile_message = profile_message.strip()
    user.save(update_fields=["nickname", "profile_path", "profile_message"])
    return user
