from django.conf import settings
from django.db import models


class Notification(models.Model):
    """Something a member should look at: a mention, a reply, likes on their caption, an award.

    Stored by the relay from ``notifications.events``; ``notification_id`` comes from the event
    that caused it, so a replayed record changes nothing (likes on one caption share one row,
    whose ``count`` grows and which becomes unread again).
    """

    class Kind(models.TextChoices):
        MENTION = "mention"
        REPLY = "reply"
        COMMENT_REPLY = "comment_reply"
        COMMENT_LIKES = "comment_likes"
        AWARD = "award"

    notification_id = models.UUIDField(unique=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_nickname = models.CharField(max_length=30, blank=True)
    text = models.CharField(max_length=200, blank=True)  # an excerpt of what was said
    url = models.CharField(max_length=500)  # where it happened, on this site
    count = models.PositiveIntegerField(default=1)  # likes: how many like the caption now
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set once the recipient's sockets were told; a redelivered record re-announces only a
    # notification whose announcement failed.
    announced = models.BooleanField(default=False)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-updated_at", "-id"], name="notifications_inbox"),
            models.Index(
                fields=["recipient"],
                name="notifications_unread",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.kind} for {self.recipient_id}"
