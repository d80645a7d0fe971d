"""Theme photos (catalog.photos): validation by content, cleaning, renditions, storage, limits, order."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import ExifTags, Image

from bookwise.errors import DomainError
from catalog import photos
from catalog.limits import MAX_PHOTOS_PER_THEME
from catalog.models import ThemePhoto
from catalog.tests.factories import ThemeFactory
from catalog.tests.images import gps_exif, image_bytes, png_bomb, png_header_claiming, upload
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db


def _open_stored(name: str) -> Image.Image:
    with default_storage.open(name) as handle:
        image = Image.open(BytesIO(handle.read()))
        image.load()
        return image


def _stored_names(theme_id: int) -> set[str]:
    folder = f"themes/{theme_id}"
    if not default_storage.exists(folder):
        return set()
    return {f"{folder}/{name}" for name in default_storage.listdir(folder)[1]}


def _add(theme, data: bytes | None = None, *, name: str = "photo.jpg", alt: str = "The vault door") -> ThemePhoto:
    return photos.theme_photo_add(theme=theme, file=upload(data or image_bytes(), name=name), alt_text=alt)


def _refused(theme, data: bytes, name: str = "photo.jpg") -> DomainError:
    with pytest.raises(DomainError) as caught:
        _add(theme, data, name=name)
    assert caught.value.http_status == 400
    assert caught.value.code == "invalid_image"
    assert not ThemePhoto.objects.filter(theme=theme).exists()
    assert _stored_names(theme.pk) == set()
    return caught.value


# --- Accepted images ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_are_stored_cleaned_with_renditions(fmt):
    theme = ThemeFactory()

    photo = _add(theme, image_bytes(fmt, (2000, 1000)), name=f"photo.{fmt.lower()}")

    assert (photo.width, photo.height, photo.alt_text, photo.position) == (2000, 1000, "The vault door", 0)
    assert photo.image.name.startswith(f"themes/{theme.pk}/")
    assert set(photo.renditions) == {"small", "medium", "large"}
    widths = {name: _open_stored(stored).size for name, stored in photo.renditions.items()}
    assert widths == {"small": (480, 240), "medium": (960, 480), "large": (1600, 800)}
    assert {_open_stored(stored).format for stored in photo.renditions.values()} == {"WEBP"}
    assert _open_stored(photo.image.name).size == (2000, 1000)
    assert _stored_names(theme.pk) == {photo.image.name, *photo.renditions.values()}


def test_file_names_are_random_and_never_the_uploaded_name():
    theme = ThemeFactory()
    first = _add(theme, name="my-holiday.jpg")
    second = _add(theme, name="my-holiday.jpg")
    assert "holiday" not in first.image.name
    assert first.image.name != second.image.name
    assert second.position == 1


def test_a_small_image_is_never_upscaled():
    photo = _add(ThemeFactory(), image_bytes("PNG", (600, 400)))
    assert set(photo.renditions) == {"small"}
    assert _open_stored(photo.renditions["small"]).size == (480, 320)
    assert _open_stored(photo.image.name).size == (600, 400)
    tiny = _add(ThemeFactory(), image_bytes("PNG", (200, 100)))
    assert _open_stored(tiny.renditions["small"]).size == (200, 100)


def test_a_huge_original_is_stored_at_most_2400_pixels():
    photo = _add(ThemeFactory(), image_bytes("JPEG", (4000, 3000)))
    assert (photo.width, photo.height) == (2400, 1800)


def test_exif_gps_and_serial_are_stripped_and_orientation_applied():
    data = image_bytes("JPEG", (1200, 600), exif=gps_exif(orientation=6))
    assert Image.open(BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the upload carries a position

    photo = _add(ThemeFactory(), data)

    # Orientation 6 = rotate 90° clockwise to display: the stored pixels are upright (portrait).
    assert (photo.width, photo.height) == (600, 1200)
    for name in [photo.image.name, *photo.renditions.values()]:
        stored = _open_stored(name)
        assert not stored.getexif(), name
        assert "exif" not in stored.info
        assert "xmp" not in stored.info
        assert "icc_profile" not in stored.info
        with default_storage.open(name) as handle:
            raw = handle.read()
        assert b"SpyCam" not in raw
        assert b"SN-123456" not in raw


def test_a_png_named_jpg_is_fine_content_decides():
    photo = _add(ThemeFactory(), image_bytes("PNG", (800, 600)), name="camera.jpg")
    assert photo.width == 800


def test_a_transparent_png_keeps_its_transparency_as_webp():
    photo = _add(ThemeFactory(), image_bytes("PNG", (800, 600), mode="RGBA"))
    assert photo.image.name.endswith(".webp")
    assert _open_stored(photo.image.name).mode == "RGBA"


# --- Refused files ------------------------------------------------------------------------------------


def test_a_text_file_named_jpg_is_refused():
    error = _refused(ThemeFactory(), b"just some text, not a picture\n" * 10, name="photo.jpg")
    assert "not a JPEG, PNG or WebP" in error.message


def test_an_svg_is_refused():
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    _refused(ThemeFactory(), svg, name="photo.svg")


def test_a_gif_is_refused():
    _refused(ThemeFactory(), image_bytes("GIF", (100, 100)), name="photo.png")


def test_an_image_bomb_is_refused_before_decoding():
    theme = ThemeFactory()
    bomb = png_bomb()
    assert len(bomb) < 100_000  # kilobytes on disk, 64 megapixels once decoded
    error = _refused(theme, bomb, name="bomb.png")
    assert "megapixels" in error.message
    # A header claiming 10 gigapixels: Pillow's own bomb guard fires first, still a clear 400.
    error = _refused(theme, png_header_claiming(100_000, 100_000), name="bomb.png")
    assert "megapixels" in error.message


def test_a_truncated_image_is_refused():
    data = image_bytes("PNG", (800, 600))
    _refused(ThemeFactory(), data[: len(data) // 2])


def test_a_file_over_the_byte_limit_is_refused_without_reading_it(settings, monkeypatch):
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 1000)
    error = _refused(ThemeFactory(), image_bytes("PNG", (800, 600)) + b"\0" * 2000)
    assert "larger than" in error.message


@pytest.mark.parametrize(
    "payload",
    [b"<html><script>alert(document.cookie)</script></html>", b"<?php system($_GET['c']); ?>", b"PK\x03\x04zipdata"],
)
def test_a_polyglot_is_made_safe_only_re_encoded_pixels_are_stored(payload):
    """A real image with HTML, PHP or a ZIP appended: the image part is accepted, the rest never stored."""
    data = image_bytes("JPEG", (800, 600)) + payload
    photo = _add(ThemeFactory(), data, name="photo.php.jpg")

    for name in [photo.image.name, *photo.renditions.values()]:
        assert name.endswith((".jpg", ".webp"))
        with default_storage.open(name) as handle:
            raw = handle.read()
        assert payload not in raw
        assert b"<script" not in raw
        assert b"<?php" not in raw


def test_alt_text_is_required():
    theme = ThemeFactory()
    with pytest.raises(DomainError) as caught:
        _add(theme, alt="   ")
    assert caught.value.code == "alt_text_required"
    assert _stored_names(theme.pk) == set()


# --- The limit of six, and races ------------------------------------------------------------------------


def test_a_seventh_photo_is_refused_with_409_and_stores_nothing():
    theme = ThemeFactory()
    small = image_bytes("PNG", (64, 48))
    for _ in range(MAX_PHOTOS_PER_THEME):
        _add(theme, small)
    before = _stored_names(theme.pk)

    with pytest.raises(DomainError) as caught:
        _add(theme, small)

    assert (caught.value.code, caught.value.http_status) == ("too_many_photos", 409)
    assert ThemePhoto.objects.filter(theme=theme).count() == MAX_PHOTOS_PER_THEME
    assert _stored_names(theme.pk) == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_never_make_more_than_six():
    theme = ThemeFactory()
    small = image_bytes("PNG", (64, 48))
    for _ in range(MAX_PHOTOS_PER_THEME - 2):
        _add(theme, small)

    results = run_together([lambda: _add(theme, small) for _ in range(4)])

    winners = [r for r in results if isinstance(r, ThemePhoto)]
    losers = [r for r in results if isinstance(r, DomainError)]
    assert len(winners) == 2, results
    assert len(losers) == 2, results
    assert {loser.code for loser in losers} == {"too_many_photos"}
    assert ThemePhoto.objects.filter(theme=theme).count() == MAX_PHOTOS_PER_THEME
    # The losers' files were deleted: only the six photos' files are left.
    expected = set()
    for photo in ThemePhoto.objects.filter(theme=theme):
        expected |= set(photos.photo_file_names(photo))
    assert _stored_names(theme.pk) == expected
    assert sorted(ThemePhoto.objects.filter(theme=theme).values_list("position", flat=True)) == list(range(6))


# --- Delete, reorder, alt text --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_delete_removes_the_row_and_its_files_and_renumbers():
    theme = ThemeFactory()
    first, second, third = (_add(theme, image_bytes("PNG", (1000, 500))) for _ in range(3))
    names = photos.photo_file_names(first)
    assert len(names) == 3
    assert all(default_storage.exists(name) for name in names)

    photos.theme_photo_delete(photo=first)

    assert not ThemePhoto.objects.filter(pk=first.pk).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert all(default_storage.exists(name) for name in photos.photo_file_names(second))
    assert list(photos.theme_photos(theme_id=theme.pk).values_list("pk", "position")) == [
        (second.pk, 0),
        (third.pk, 1),
    ]


def test_delete_keeps_the_files_when_the_transaction_rolls_back():
    from django.db import transaction

    photo = _add(ThemeFactory())
    names = photos.photo_file_names(photo)
    with transaction.atomic():
        photos.theme_photo_delete(photo=photo)
        transaction.set_rollback(True)
    assert ThemePhoto.objects.filter(pk=photo.pk).exists()
    assert all(default_storage.exists(name) for name in names)


def test_reorder_and_move():
    theme = ThemeFactory()
    a, b, c = (_add(theme, image_bytes("PNG", (64, 48))) for _ in range(3))

    photos.theme_photos_reorder(theme=theme, ids=[c.pk, a.pk, b.pk])
    assert list(photos.theme_photos(theme_id=theme.pk).values_list("pk", flat=True)) == [c.pk, a.pk, b.pk]

    photos.theme_photo_move(photo=b, offset=-1)
    assert list(photos.theme_photos(theme_id=theme.pk).values_list("pk", flat=True)) == [c.pk, b.pk, a.pk]
    photos.theme_photo_move(photo=c, offset=-1)  # already first: stays
    assert list(photos.theme_photos(theme_id=theme.pk).values_list("pk", flat=True)) == [c.pk, b.pk, a.pk]


@pytest.mark.parametrize("ids", ["empty", "missing", "duplicate", "foreign"])
def test_reorder_must_name_every_photo_once(ids):
    theme = ThemeFactory()
    a, b = (_add(theme, image_bytes("PNG", (64, 48))) for _ in range(2))
    other = _add(ThemeFactory(), image_bytes("PNG", (64, 48)))
    ids = {"empty": [], "missing": [a.pk], "duplicate": [a.pk, a.pk, b.pk], "foreign": [a.pk, b.pk, other.pk]}[ids]
    with pytest.raises(DomainError) as caught:
        photos.theme_photos_reorder(theme=theme, ids=ids)
    assert (caught.value.code, caught.value.http_status) == ("invalid_photo_order", 400)


def test_update_alt_text():
    photo = _add(ThemeFactory())
    photos.theme_photo_update_alt(photo=photo, alt_text="  Two players   at the vault  ")
    photo.refresh_from_db()
    assert photo.alt_text == "Two players at the vault"


def test_srcset_lists_each_rendition_and_the_original_with_its_width():
    photo = _add(ThemeFactory(), image_bytes("JPEG", (2000, 1000)))
    srcset = photos.photo_srcset(photo)
    assert [part.rsplit(" ", 1)[1] for part in srcset.split(", ")] == ["480w", "960w", "1600w", "2000w"]
    assert srcset.startswith("/media/themes/")


def test_first_photo_prefetch_reads_one_query_for_many_themes():
    themes = [ThemeFactory() for _ in range(4)]
    for theme in themes[:3]:
        for _ in range(2):
            _add(theme, image_bytes("PNG", (64, 48)))
    from catalog.models import Theme

    with CaptureQueriesContext(connection) as ctx:
        loaded = list(
            Theme.objects.filter(pk__in=[t.pk for t in themes]).prefetch_related(photos.first_photo_prefetch())
        )
        firsts = {theme.pk: [p.pk for p in theme.first_photos] for theme in loaded}
    assert len(ctx.captured_queries) == 2
    assert all(len(firsts[t.pk]) == 1 for t in themes[:3])
    assert firsts[themes[3].pk] == []
