"""Uploads: check and store an image, and remove the ones nothing uses any more."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from zzalu.metrics import UPLOADS

from .images import Limits, TooLarge, UnsupportedMedia, image_process, megabytes
from .models import Upload

log = logging.getLogger(__name__)


def upload_limits() -> Limits:
    return Limits(
        max_bytes=settings.MEDIA_MAX_BYTES,
        max_pixels=settings.MEDIA_MAX_PIXELS,
        max_frames=settings.MEDIA_MAX_FRAMES,
        max_total_pixels=settings.MEDIA_MAX_TOTAL_PIXELS,
    )


def upload_length_check(length: int) -> None:
    """TooLarge for a request whose body alone is over the limit (a multipart envelope around
    the file is far under 64 KiB), before anything reads it."""
    if length > settings.MEDIA_MAX_BYTES + 65_536:
        UPLOADS.labels(result=TooLarge.code).inc()
        raise TooLarge(f"The file is larger than {megabytes(settings.MEDIA_MAX_BYTES)}.")


def upload_create(*, owner, file) -> Upload:
    """Store an uploaded file (anything with ``read``) as an Upload, or raise UnsupportedMedia /
    TooLarge having kept nothing of it."""
    limits = upload_limits()
    try:
        processed = image_process(file.read(limits.max_bytes + 1), limits)
    except (UnsupportedMedia, TooLarge) as exc:
        UPLOADS.labels(result=exc.code).inc()
        raise
    upload_id = uuid.uuid4()
    base = f"uploads/{upload_id.hex[:2]}/{upload_id.hex}"
    saved: list[str] = []
    try:
        saved.append(
            default_storage.save(f"{base}.{processed.extension}", ContentFile(processed.content))
        )
        saved.append(default_storage.save(f"{base}.thumb.webp", ContentFile(processed.thumb)))
        upload = Upload.objects.create(
            id=upload_id,
            owner=owner,
            file=saved[0],
            thumb=saved[1],
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            frames=processed.frames,
            bytes=len(processed.content),
        )
    except BaseException:
        _delete_files(saved)
        raise
    UPLOADS.labels(result="stored").inc()
    return upload


def uploads_sweep(*, grace: timedelta | None = None) -> int:
    """Delete uploads older than the grace period that nothing references (no message, room,
    contest day or profile: every relation pointing at Upload counts). Returns how many."""
    grace = timedelta(hours=settings.MEDIA_SWEEP_GRACE_HOURS) if grace is None else grace
    unused = Upload.objects.filter(created_at__lt=timezone.now() - grace)
    for relation in Upload._meta.related_objects:
        unused = unused.filter(**{f"{relation.name}__isnull": True})
    removed = 0
    for upload in unused.iterator():
        with transaction.atomic():  # `unused` again: a reference made since keeps it
            deleted, _ = unused.filter(pk=upload.pk).delete()
        if deleted:  # the row first: a failed file delete leaves an orphan file, not a dead link
            _delete_files([upload.file.name, upload.thumb.name])
            removed += 1
    return removed


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not delete %s from storage", name, exc_info=True)
