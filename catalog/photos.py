"""Theme photos: uploads checked by their content, cleaned, resized and stored through Django's storage API.

What an upload must be, decided from its bytes only (never its name, extension
or the Content-Type the client claims):

- at most `MAX_PHOTO_BYTES`;
- an image Pillow identifies as JPEG, PNG or WebP from its header (only these
  three decoders are ever tried: an SVG, a GIF, HTML, a PDF or a ZIP is not one);
- at most `MAX_PHOTO_PIXELS`, read from the header *before* any pixel is decoded,
  so an "image bomb" (a tiny file claiming huge dimensions) is refused unread;
- fully decodable (Pillow's `verify`, then a real `load`).

Nothing of the uploaded bytes is ever stored or served. The pixels are
decoded, turned upright from the EXIF orientation, and re-encoded as new WebP
files without any metadata: EXIF (GPS position, camera serial numbers), XMP,
ICC and comments are gone, and so is anything a polyglot carried after or
inside the image (a PNG followed by HTML, a JPEG with a ZIP or PHP appended):
such a file is accepted when its image part is a real image, and made safe
because only freshly encoded pixels are kept, under a name ending in the
encoded format (served with that image type, never as HTML). What is stored per photo:

- the cleaned "original", at most `PHOTO_ORIGINAL_MAX_SIDE` pixels on its longer side, as JPEG
  (WebP when it has transparency);
- renditions `RENDITIONS` (480, 960 and 1600 pixels wide, never upscaled: an
  image narrower than a size gets no rendition of that size, except the smallest).

Files get random names under `themes/<theme id>/`, through `default_storage`
(the filesystem in development, an S3-compatible bucket in production).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import IO, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Prefetch, QuerySet
from PIL import Image, ImageOps, UnidentifiedImageError

from bookwise.errors import DomainError, InvalidInput
from catalog.limits import (
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    MAX_PHOTOS_PER_THEME,
    PHOTO_ALT_TEXT_MAX_LENGTH,
    PHOTO_ORIGINAL_MAX_SIDE,
)
from catalog.models import Theme, ThemePhoto

logger = logging.getLogger(__name__)

# Decided by content: the only decoders Pillow may use to read an upload.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
# (name, width in pixels), smallest first.
RENDITIONS: tuple[tuple[str, int], ...] = (("small", 480), ("medium", 960), ("large", 1600))
RENDITION_QUALITY = 80
# WebP's encoder effort (0-6): 2 is several times faster than the default 4 for a few percent more bytes.
RENDITION_METHOD = 2
ORIGINAL_QUALITY = 88

# What a broken, hostile or unexpected file can make Pillow raise while it is opened, verified or decoded.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    ZeroDivisionError,
    MemoryError,
)


def _refuse(message: str) -> DomainError:
    return DomainError("invalid_image", message, http_status=400)


# --- Checking and cleaning an upload ------------------------------------------------------------


def _too_many_pixels(width: int | None = None, height: int | None = None) -> DomainError:
    size = f"{width} × {height} pixels" if width and height else "too many pixels"
    return _refuse(f"The image is {size}: at most {MAX_PHOTO_PIXELS // 1_000_000} megapixels, please.")


@dataclass(frozen=True)
class CleanPhoto:
    """An accepted upload, re-encoded: the files to store and the original's size and file extension."""

    original: bytes
    original_extension: str
    width: int
    height: int
    renditions: dict[str, bytes]


def read_upload(file: IO[bytes]) -> bytes:
    """The upload's bytes, refusing more than MAX_PHOTO_BYTES without reading further."""
    size = getattr(file, "size", None)
    if isinstance(size, int) and size > MAX_PHOTO_BYTES:
        raise _refuse(f"The image is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    if hasattr(file, "seek"):
        with contextlib.suppress(OSError, ValueError):
            file.seek(0)
    data = file.read(MAX_PHOTO_BYTES + 1)
    if not isinstance(data, bytes):
        raise _refuse("Send the image as a file.")
    if len(data) > MAX_PHOTO_BYTES:
        raise _refuse(f"The image is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise _refuse("The file is empty.")
    return data


def _open(data: bytes) -> Image.Image:
    # Pillow warns (and raises past twice its own limit) about huge images; a warning here is a refusal.
    # Our own, lower bound below is the one that decides, from the header alone.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(BytesIO(data), formats=ALLOWED_FORMATS)


def _rendition_sizes(width: int, height: int) -> list[tuple[str, int, int]]:
    """(name, width, height) of the renditions of an image of this size: never upscaled.

    The smallest always exists (at the image's own width when it is narrower);
    a larger one only when the image is wider than it.
    """
    sizes = []
    for index, (name, target) in enumerate(RENDITIONS):
        if target < width or index == 0:
            w = min(target, width)
            sizes.append((name, w, max(1, round(height * w / width))))
    return sizes


def rendition_width(*, photo_width: int, name: str) -> int:
    """The width of a stored rendition `name` of a photo `photo_width` pixels wide."""
    target = dict(RENDITIONS).get(name, photo_width)
    return min(target, photo_width) if photo_width else target


def _upright_rgb(image: Image.Image) -> Image.Image:
    """The decoded pixels, turned upright by their EXIF orientation, as RGB or RGBA."""
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale PNG: scale to 8 bits (a plain convert would clip everything above 255 to white).
        upright = upright.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    converted = upright.convert("RGBA" if has_alpha else "RGB")
    if has_alpha and converted.getchannel("A").getextrema()[0] == 255:
        converted = converted.convert("RGB")  # an alpha channel that is fully opaque: none
    return converted


def _fresh(image: Image.Image) -> Image.Image:
    """A new image with the same pixels and nothing else: no info, EXIF, XMP, ICC or comments to carry over."""
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return clean


def _webp(image: Image.Image, *, quality: int) -> bytes:
    out = BytesIO()
    image.save(out, format="WEBP", quality=quality, method=RENDITION_METHOD)
    return out.getvalue()


def _encode_original(image: Image.Image) -> tuple[bytes, str]:
    """The original as JPEG (fast to encode at full size, opened everywhere); WebP keeps a transparent one."""
    if image.mode == "RGBA":
        return _webp(image, quality=ORIGINAL_QUALITY), "webp"
    out = BytesIO()
    image.save(out, format="JPEG", quality=ORIGINAL_QUALITY, optimize=True, progressive=True)
    return out.getvalue(), "jpg"


def clean_photo(data: bytes) -> CleanPhoto:
    """Check an upload by its content and re-encode it (see the module's docstring), or raise 400 invalid_image."""
    try:
        probe = _open(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except _DECODE_ERRORS:
        raise _refuse("This file is not a JPEG, PNG or WebP image.") from None
    with probe:
        if probe.format not in ALLOWED_FORMATS:
            raise _refuse("This file is not a JPEG, PNG or WebP image.")
        width, height = probe.size
        if width < 1 or height < 1:
            raise _refuse("The image has no pixels.")
        if width * height > MAX_PHOTO_PIXELS:
            raise _too_many_pixels(width, height)
        try:
            probe.verify()
        except _DECODE_ERRORS:
            raise _refuse("The image is damaged or incomplete.") from None
    try:
        # verify() leaves the file unusable: open it again to decode the pixels.
        with _open(data) as image:
            if image.format == "JPEG":
                longest = max(width, height)
                # Decode a JPEG at a reduced scale when that still covers the largest size stored (fast, less memory).
                ratio = PHOTO_ORIGINAL_MAX_SIDE / longest
                if ratio < 1:
                    image.draft("RGB", (max(1, int(width * ratio)), max(1, int(height * ratio))))
            image.load()
            upright = _upright_rgb(image)
    except DomainError:
        raise
    except _DECODE_ERRORS:
        raise _refuse("The image is damaged or incomplete.") from None
    upright.thumbnail((PHOTO_ORIGINAL_MAX_SIDE, PHOTO_ORIGINAL_MAX_SIDE), Image.Resampling.LANCZOS)
    original = _fresh(upright)
    renditions = {}
    for name, w, h in _rendition_sizes(*original.size):
        resized = (
            original if (w, h) == original.size else original.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=2.0)
        )
        renditions[name] = _webp(resized, quality=RENDITION_QUALITY)
    original_bytes, extension = _encode_original(original)
    return CleanPhoto(
        original=original_bytes,
        original_extension=extension,
        width=original.width,
        height=original.height,
        renditions=renditions,
    )


# --- Storage -----------------------------------------------------------------------------------


def _store(*, theme_id: int, clean: CleanPhoto) -> tuple[str, dict[str, str]]:
    """Save the files under random names; return the original's name and the renditions' names."""
    stem = f"themes/{theme_id}/{secrets.token_urlsafe(12)}"
    saved: list[str] = []
    try:
        original = default_storage.save(f"{stem}.{clean.original_extension}", ContentFile(clean.original))
        saved.append(original)
        renditions: dict[str, str] = {}
        for name, content in clean.renditions.items():
            width = rendition_width(photo_width=clean.width, name=name)
            renditions[name] = default_storage.save(f"{stem}-{width}.webp", ContentFile(content))
            saved.append(renditions[name])
    except Exception:
        _delete_files(saved)
        raise
    return original, renditions


def photo_file_names(photo: ThemePhoto) -> list[str]:
    """Every stored file of a photo: the original and its renditions."""
    names = [photo.image.name] if photo.image.name else []
    names += [name for name in (photo.renditions or {}).values() if isinstance(name, str) and name]
    return names


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a file left behind costs storage, never the request
            logger.exception("Could not delete the stored photo file %s", name)


def storage_url(name: str) -> str:
    """The URL of a stored file: MEDIA_URL + name on the filesystem, the bucket's (or CDN's) URL on S3."""
    return str(default_storage.url(name))


def photo_url(photo: ThemePhoto) -> str:
    return storage_url(photo.image.name)


def photo_rendition_urls(photo: ThemePhoto) -> dict[str, str]:
    return {name: storage_url(stored) for name, stored in (photo.renditions or {}).items()}


def photo_srcset(photo: ThemePhoto) -> str:
    """`srcset` of a photo: each rendition and the original with its width, smallest first."""
    candidates: dict[int, str] = {}
    for name, stored in (photo.renditions or {}).items():
        candidates.setdefault(rendition_width(photo_width=photo.width, name=name), storage_url(stored))
    if photo.width:
        candidates.setdefault(photo.width, photo_url(photo))
    return ", ".join(f"{url} {width}w" for width, url in sorted(candidates.items()))


def photo_src(photo: ThemePhoto, *, name: str = "medium") -> str:
    """A good default `src`: the named rendition, else the largest smaller one, else the original."""
    renditions = photo.renditions or {}
    for candidate, _width in reversed(RENDITIONS[: [n for n, _ in RENDITIONS].index(name) + 1]):
        if candidate in renditions:
            return storage_url(renditions[candidate])
    return photo_url(photo)


def photo_size_for(photo: ThemePhoto, *, name: str = "medium") -> tuple[int, int]:
    """Width and height of what `photo_src` gives, for the <img> width/height attributes (no layout shift)."""
    renditions = photo.renditions or {}
    for candidate, _width in reversed(RENDITIONS[: [n for n, _ in RENDITIONS].index(name) + 1]):
        if candidate in renditions and photo.width:
            w = rendition_width(photo_width=photo.width, name=candidate)
            return w, max(1, round(photo.height * w / photo.width))
    return photo.width, photo.height


# --- Reads -------------------------------------------------------------------------------------


def theme_photos(*, theme_id: int) -> QuerySet[ThemePhoto]:
    """A theme's photos in the order the merchant chose."""
    return ThemePhoto.objects.filter(theme_id=theme_id).order_by("position", "id")


def first_photo_prefetch() -> Prefetch[Any]:
    """For a list of themes: each theme's first photo in `theme.first_photos` (one query for the whole page)."""
    return Prefetch("photos", queryset=ThemePhoto.objects.order_by("position", "id")[:1], to_attr="first_photos")


def photos_prefetch() -> Prefetch[Any]:
    """For a theme or a few: every photo, in order, in `theme.ordered_photos`."""
    return Prefetch("photos", queryset=ThemePhoto.objects.order_by("position", "id"), to_attr="ordered_photos")


# --- Writes ------------------------------------------------------------------------------------


def _lock_theme(theme_id: int) -> Theme:
    """Lock the theme row (FOR NO KEY UPDATE, as catalog.services does): serialises the photo writes of a theme."""
    return Theme.objects.select_for_update(of=("self",), no_key=True).get(pk=theme_id)


def _clean_alt_text(alt_text: str) -> str:
    text = " ".join(str(alt_text or "").split())
    if not text:
        raise InvalidInput(
            "alt_text_required",
            "Describe what the photo shows, for people who use a screen reader.",
            field="alt_text",
        )
    if len(text) > PHOTO_ALT_TEXT_MAX_LENGTH:
        raise InvalidInput(
            "alt_text_too_long", f"Keep the description to {PHOTO_ALT_TEXT_MAX_LENGTH} characters.", field="alt_text"
        )
    return text


def theme_photo_add(*, theme: Theme, file: IO[bytes], alt_text: str) -> ThemePhoto:
    """Add a photo at the end of the theme's photos: at most MAX_PHOTOS_PER_THEME (409 too_many_photos).

    The image is checked and encoded, and its files saved, before any lock: nothing
    slow and nothing leaving the process runs under the theme row lock. The count is
    then checked under that lock, so concurrent uploads never make a seventh photo;
    a refused or failed insert deletes the files it saved.
    """
    alt = _clean_alt_text(alt_text)
    clean = clean_photo(read_upload(file))
    if theme_photos(theme_id=theme.pk).count() >= MAX_PHOTOS_PER_THEME:
        raise _too_many()  # the common case, answered before anything is stored; re-checked under the lock
    original, renditions = _store(theme_id=theme.pk, clean=clean)
    try:
        with transaction.atomic():
            _lock_theme(theme.pk)
            photos = theme_photos(theme_id=theme.pk)
            if photos.count() >= MAX_PHOTOS_PER_THEME:
                raise _too_many()
            last = photos.aggregate(last=Max("position"))["last"]
            photo = ThemePhoto(
                theme_id=theme.pk,
                renditions=renditions,
                width=clean.width,
                height=clean.height,
                alt_text=alt,
                position=0 if last is None else last + 1,
            )
            photo.image.name = original
            photo.save()
    except BaseException:
        _delete_files([original, *renditions.values()])
        raise
    return photo


def _too_many() -> DomainError:
    return DomainError(
        "too_many_photos", f"A theme has at most {MAX_PHOTOS_PER_THEME} photos: delete one to add another."
    )


def theme_photo_delete(*, photo: ThemePhoto) -> None:
    """Delete a photo; its files go once the deletion is committed (a rollback keeps both)."""
    names = photo_file_names(photo)
    with transaction.atomic():
        _lock_theme(photo.theme_id)
        ThemePhoto.objects.filter(pk=photo.pk).delete()
        _renumber(theme_id=photo.theme_id, ids=list(theme_photos(theme_id=photo.theme_id).values_list("pk", flat=True)))
        transaction.on_commit(lambda: _delete_files(names), robust=True)


def _renumber(*, theme_id: int, ids: Sequence[int]) -> list[ThemePhoto]:
    """Positions 0..n-1 in the order of `ids` (caller holds the theme row lock)."""
    photos = {photo.pk: photo for photo in ThemePhoto.objects.filter(theme_id=theme_id)}
    changed = []
    for position, pk in enumerate(ids):
        photo = photos[pk]
        if photo.position != position:
            photo.position = position
            changed.append(photo)
    if changed:
        ThemePhoto.objects.bulk_update(changed, ["position"])
    return [photos[pk] for pk in ids]


def theme_photos_reorder(*, theme: Theme, ids: Sequence[int]) -> list[ThemePhoto]:
    """Put the theme's photos in the order of `ids`, which must name each of them exactly once (400 otherwise)."""
    with transaction.atomic():
        _lock_theme(theme.pk)
        current = set(theme_photos(theme_id=theme.pk).values_list("pk", flat=True))
        if len(ids) != len(set(ids)) or set(ids) != current:
            raise InvalidInput("invalid_photo_order", "List every photo of this theme exactly once.", field="ids")
        return _renumber(theme_id=theme.pk, ids=list(ids))


def theme_photo_move(*, photo: ThemePhoto, offset: int) -> list[ThemePhoto]:
    """Move a photo `offset` places earlier (negative) or later (positive) among its theme's photos."""
    with transaction.atomic():
        _lock_theme(photo.theme_id)
        ids = list(theme_photos(theme_id=photo.theme_id).values_list("pk", flat=True))
        if photo.pk not in ids:
            raise DomainError("photo_gone", "This photo was deleted.", http_status=404)
        index = ids.index(photo.pk)
        target = min(max(index + offset, 0), len(ids) - 1)
        ids.insert(target, ids.pop(index))
        return _renumber(theme_id=photo.theme_id, ids=ids)


def theme_photo_update_alt(*, photo: ThemePhoto, alt_text: str) -> ThemePhoto:
    photo.alt_text = _clean_alt_text(alt_text)
    photo.save(update_fields=["alt_text", "updated_at"])
    return photo
