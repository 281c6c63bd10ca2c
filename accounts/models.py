from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A Zzalu member. ``nickname`` is what other members see; ``username`` is for logging in."""

    nickname = models.CharField(max_length=30)
    profile_path = models.URLField(max_length=500, blank=True)
    # An uploaded profile image; shown instead of profile_path when set.
    avatar = models.ForeignKey(
        "uploads.Upload", on_delete=models.SET_NULL, null=True, blank=True, related_name="avatars"
    )
    profile_message = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return self.nickname or self.username

    @property
    def display_name(self) -> str:
        return self.nickname or self.username

    @property
    def public_profile(self) -> dict:
        """What other members see of a member, in events and API payloads alike."""
        return {
            "id": self.pk,
            "username": self.username,
            "nickname": self.display_name,
            "profile_path": self.profile_path,
        }
