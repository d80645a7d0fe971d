"""Theme photos where people meet them: the merchant's Photos page, catalog cards, the theme page, the admin,
the media URL, the CSP and the demo data."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import AdminFactory
from bookwise.media_origins import media_origins
from catalog import photos
from catalog.models import ThemePhoto
from catalog.tests.factories import ThemeFactory
from catalog.tests.images import image_bytes, upload
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

CATALOG_URL = reverse("portal:catalog")


def _add(theme, size=(2000, 1000), alt="Players at the vault door") -> ThemePhoto:
    return photos.theme_photo_add(theme=theme, file=upload(image_bytes("JPEG", size)), alt_text=alt)


@pytest.fixture
def theme():
    return ThemeFactory(merchant=MerchantFactory(), title="The Vault")


@pytest.fixture
def owner_client(client, theme):
    client.force_login(theme.merchant.owner)
    return client


def _page(theme) -> str:
    return reverse("merchant:theme-photos", args=[theme.pk])


# --- The merchant portal ------------------------------------------------------------------------------


def test_merchant_uploads_a_photo_and_sees_it_listed(owner_client, theme):
    response = owner_client.post(
        _page(theme), {"image": upload(image_bytes("PNG", (1200, 800)), name="room.png"), "alt_text": "The vault"}
    )
    assert response.status_code == 302
    (photo,) = ThemePhoto.objects.filter(theme=theme)
    assert photo.alt_text == "The vault"
    assert default_storage.exists(photo.image.name)

    page = owner_client.get(_page(theme)).content.decode()
    assert 'alt="The vault"' in page
    assert photo.renditions["small"] in page
    assert 'enctype="multipart/form-data"' in page


def test_merchant_upload_errors_are_in_words(owner_client, theme):
    response = owner_client.post(
        _page(theme), {"image": upload(b"not an image at all", name="room.jpg"), "alt_text": "The vault"}
    )
    assert response.status_code == 400
    assert "This file is not a JPEG, PNG or WebP image." in response.content.decode()

    response = owner_client.post(_page(theme), {"image": upload(image_bytes("PNG", (64, 48))), "alt_text": ""})
    assert response.status_code == 400
    assert "Describe what the photo shows." in response.content.decode()
    assert not ThemePhoto.objects.exists()


def test_merchant_moves_renames_and_deletes_photos(owner_client, theme):
    first, second = _add(theme), _add(theme, alt="The map")

    owner_client.post(reverse("merchant:theme-photo-move", args=[theme.pk, second.pk]), {"direction": "up"})
    assert list(photos.theme_photos(theme_id=theme.pk).values_list("pk", flat=True)) == [second.pk, first.pk]

    owner_client.post(
        reverse("merchant:theme-photo-alt", args=[theme.pk, first.pk]), {f"photo-{first.pk}-alt_text": "Gold bars"}
    )
    first.refresh_from_db()
    assert first.alt_text == "Gold bars"

    owner_client.post(reverse("merchant:theme-photo-delete", args=[theme.pk, second.pk]))
    assert list(ThemePhoto.objects.filter(theme=theme)) == [first]


def test_the_photos_page_says_when_the_theme_is_full(owner_client, theme):
    for _ in range(6):
        photos.theme_photo_add(theme=theme, file=upload(image_bytes("PNG", (64, 48))), alt_text="A room")
    page = owner_client.get(_page(theme)).content.decode()
    assert "the most it can have" in page
    assert 'enctype="multipart/form-data"' not in page


def test_another_merchant_cannot_reach_the_photos_of_a_theme(client, theme):
    photo = _add(theme)
    client.force_login(MerchantFactory().owner)
    assert client.get(_page(theme)).status_code == 404
    assert client.post(reverse("merchant:theme-photo-delete", args=[theme.pk, photo.pk])).status_code == 404
    assert ThemePhoto.objects.filter(pk=photo.pk).exists()


def test_theme_list_and_edit_page_link_to_photos(owner_client, theme):
    assert _page(theme) in owner_client.get(reverse("merchant:theme-list")).content.decode()
    assert _page(theme) in owner_client.get(reverse("merchant:theme-edit", args=[theme.pk])).content.decode()


# --- Customer pages -----------------------------------------------------------------------------------


def test_catalog_card_shows_the_first_photo_with_srcset(client, theme):
    second = _add(theme, alt="Second")
    first = _add(theme, alt="First: the vault door")
    photos.theme_photos_reorder(theme=theme, ids=[first.pk, second.pk])

    html = client.get(CATALOG_URL).content.decode()

    (img,) = re.findall(r"<img [^>]+>", html)
    assert 'alt="First: the vault door"' in img
    assert 'loading="lazy"' in img
    assert 'sizes="' in img
    assert 'width="480" height="240"' in img
    srcset = re.search(r'srcset="([^"]+)"', img).group(1)
    assert [c.rsplit(" ", 1)[1] for c in srcset.split(", ")] == ["480w", "960w", "1600w", "2000w"]
    assert first.renditions["small"] in srcset
    assert "Second" not in html


def test_catalog_reads_photos_in_one_query_whatever_the_number_of_themes(client):
    def count() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(CATALOG_URL, {"ordering": "price"}).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        _add(ThemeFactory(merchant=MerchantFactory()), size=(64, 48))
    few = count()
    for _ in range(8):
        theme = ThemeFactory(merchant=MerchantFactory())
        _add(theme, size=(64, 48))
        _add(theme, size=(64, 48))
    assert count() == few


def test_theme_page_shows_every_photo_in_order(client, theme):
    a = _add(theme, alt="A: the door")
    b = _add(theme, alt="B: the lock")
    photos.theme_photos_reorder(theme=theme, ids=[b.pk, a.pk])

    html = client.get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()

    imgs = re.findall(r"<img [^>]+>", html)
    assert [re.search(r'alt="([^"]+)"', img).group(1) for img in imgs] == ["B: the lock", "A: the door"]
    assert all("srcset=" in img for img in imgs)
    assert 'loading="eager"' in imgs[0]


def test_a_theme_without_photos_looks_as_before(client, theme):
    assert "<img" not in client.get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()
    assert "<img" not in client.get(CATALOG_URL).content.decode()


# --- Media URL, CSP, admin, demo ------------------------------------------------------------------------


def test_media_url_serves_stored_photos_and_nothing_else(client, theme, settings):
    photo = _add(theme)
    response = client.get(settings.MEDIA_URL + photo.image.name)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert "immutable" in response["Cache-Control"]
    for path in ("themes/../../etc/passwd", "themes/x.html", "other/x.jpg", f"themes/{theme.pk}/missing.jpg"):
        assert client.get(settings.MEDIA_URL + path).status_code == 404, path


def test_csp_img_src_allows_the_bucket_origin():
    assert media_origins(media_url="/media/") == []
    assert media_origins(media_url="/media/", bucket="b", custom_domain="cdn.example.com") == [
        "https://cdn.example.com"
    ]
    assert media_origins(media_url="/media/", bucket="b", endpoint_url="https://fly.storage.tigris.dev") == [
        "https://fly.storage.tigris.dev",
        "https://b.fly.storage.tigris.dev",
    ]
    assert "https://b.s3.amazonaws.com" in media_origins(media_url="/media/", bucket="b", region="eu-west-1")
    assert media_origins(media_url="https://media.example.com/m/") == ["https://media.example.com"]


def test_admin_theme_page_shows_photo_thumbnails_without_inline_styles(client, theme):
    photo = _add(theme)
    client.force_login(AdminFactory())
    url = reverse("admin:catalog_theme_change", args=[theme.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert photo.renditions["small"] in html
    assert 'style="' not in re.search(r'<img src="[^"]*' + re.escape(photo.renditions["small"]) + "[^>]*>", html).group(
        0
    )


def test_seed_demo_gives_every_theme_photos():
    from catalog.models import Theme

    call_command("seed_demo", "--not-production")
    themes = Theme.objects.all()
    assert themes
    for theme in themes:
        count = ThemePhoto.objects.filter(theme=theme).count()
        assert 1 <= count <= 3, theme.title
    photo = ThemePhoto.objects.first()
    assert photo.alt_text.startswith("Illustration for")
    assert all(default_storage.exists(name) for name in photos.photo_file_names(photo))


@pytest.mark.django_db(transaction=True)
def test_admin_deleting_a_photo_inline_deletes_its_files(rf):
    from django.contrib import admin as django_admin

    from catalog.admin import ThemeAdmin, ThemePhotoInline
    from catalog.models import Theme

    theme = ThemeFactory(merchant=MerchantFactory())
    photo = _add(theme)
    names = photos.photo_file_names(photo)
    request = rf.post("/")
    request.user = AdminFactory()
    formset_class = ThemePhotoInline(Theme, django_admin.site).get_formset(request, obj=theme)
    prefix = formset_class.get_default_prefix()
    data = {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-0-id": str(photo.pk),
        f"{prefix}-0-theme": str(theme.pk),
        f"{prefix}-0-DELETE": "on",
    }
    formset = formset_class(data, instance=theme, prefix=prefix)
    assert formset.is_valid(), formset.errors

    ThemeAdmin(Theme, django_admin.site).save_formset(request, None, formset, change=True)

    assert not ThemePhoto.objects.filter(pk=photo.pk).exists()
    assert not any(default_storage.exists(name) for name in names)
