import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Upload(models.Model):
    """An image a member uploaded, stored through Django's storage API as a clean re-encoded
    copy (``file``) and a still thumbnail (``thumb``). Rooms, contest days, profiles and chat
    messages point at it; ``manage.py uploads_sweep`` removes what nothing points at."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="uploads"
    )
    file = models.FileField(max_length=200)
    thumb = models.FileField(max_length=200)
    content_type = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    frames = models.PositiveIntegerField(default=1)
    bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self):
        return f"{self.file.name} ({self.width}x{self.height}, {self.frames} frames)"

    @property
    def url(self) -> str:
        return self.file.url

    @property
    def thumb_url(self) -> str:
        return self.thumb.url

    def as_dict(self) -> dict:
        """What the API and chat frames say about it (sizes let pages reserve the space)."""
        return {
            "id": str(self.id),
            "url": self.url,
            "thumb_url": self.thumb_url,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "bytes": self.bytes,
        }
