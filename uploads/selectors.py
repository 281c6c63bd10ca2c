from __future__ import annotations

from .models import Upload

RECENT = 24


def uploads_recent(*, owner, limit: int = RECENT) -> list[Upload]:
    """The member's latest uploads, newest first (the GIF picker's "my GIFs")."""
    return list(Upload.objects.filter(owner=owner).order_by("-created_at")[:limit])
