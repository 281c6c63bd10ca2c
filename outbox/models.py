from django.db import models


class OutboxEvent(models.Model):
    """An event committed with the write that caused it, waiting to be published to Kafka."""

    topic = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Times the broker refused this row for good (not counting times it was unreachable).
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # Set after OUTBOX_MAX_ATTEMPTS refusals: the row is skipped, the next rows go on.
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                name="outbox_unpublished",
                condition=models.Q(published_at__isnull=True, dead_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.payload.get('type', '?')} #{self.pk}"
