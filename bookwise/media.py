"""Serving uploaded files (theme photos) when they are stored on this server's filesystem.

Production stores uploads in an S3-compatible bucket (AWS_STORAGE_BUCKET_NAME):
browsers fetch them from the bucket or its CDN and this module serves nothing.
Without a bucket (development, a single small server), the files live under
MEDIA_ROOT and Django serves them here, in every environment, so a photo a
merchant uploaded never shows as a broken image. This is a convenience, not a
CDN: each request occupies an app worker while the file streams (whitenoise
does not serve files added after start). For real traffic set a bucket, or let
the front web server serve MEDIA_ROOT at MEDIA_URL.

Only what catalog.photos writes is served: re-encoded images under `themes/`,
with the content type of their extension, never a directory listing, never a
path outside MEDIA_ROOT. Names are random and never reused, so they may be
cached for a year.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.urls import URLPattern, re_path
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe

MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
SERVED_FOLDERS = ("themes",)


@require_safe
def serve_media(request: HttpRequest, path: str) -> FileResponse:
    name = PurePosixPath(path)
    content_type = MEDIA_TYPES.get(name.suffix.lower())
    if content_type is None or not name.parts or name.parts[0] not in SERVED_FOLDERS or ".." in name.parts:
        raise Http404("No such file.")
    try:
        full = default_storage.path(str(name))  # FileSystemStorage: refuses a path outside MEDIA_ROOT
    except (SuspiciousFileOperation, NotImplementedError):
        raise Http404("No such file.") from None
    try:
        handle = open(full, "rb")  # noqa: SIM115 (FileResponse closes it)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise Http404("No such file.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def media_urlpatterns() -> list[URLPattern]:
    """The route for MEDIA_URL when uploads are on this server's filesystem (a path, not another host)."""
    backend = settings.STORAGES.get("default", {}).get("BACKEND", "")
    url = settings.MEDIA_URL or ""
    if not url.startswith("/") or url.startswith("//"):
        return []
    if not backend or not issubclass(import_string(backend), FileSystemStorage):
        return []
    prefix = url.strip("/")
    return [re_path(rf"^{prefix}/(?P<path>.+)$", serve_media, name="media")] if prefix else []
