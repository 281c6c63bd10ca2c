"""Uploaded files served by the app itself (local runs; compose's nginx serves the same path
from the shared volume). Only names the app wrote, only image types, never anything a browser
could run: nosniff, a sandboxing CSP, and cached for a year (names are never reused)."""

import re

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe

from .images import EXTENSIONS, FORMATS

NAME = re.compile(r"uploads/[0-9a-f]{2}/[0-9a-f]{32}(?:\.thumb)?\.(gif|png|jpg|webp)")
CONTENT_TYPES = {EXTENSIONS[fmt]: content_type for fmt, content_type in FORMATS.items()}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@require_safe
def media_file(request, name: str):
    match = NAME.fullmatch(name)
    if not match:
        raise Http404
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(handle, content_type=CONTENT_TYPES[match.group(1)])
    for header, value in HEADERS.items():
        response[header] = value
    return response
