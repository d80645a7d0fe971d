"""Theme photos through the API: multipart upload, storage, errors, delete, order, and the theme's `photos`."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from catalog.limits import MAX_PHOTOS_PER_THEME
from catalog.models import ThemePhoto
from catalog.photos import photo_file_names
from catalog.tests.factories import ThemeFactory
from catalog.tests.images import image_bytes, png_header_claiming, upload
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def photos_url(theme) -> str:
    return f"/api/v1/themes/{theme.pk}/photos/"


@pytest.fixture
def theme():
    return ThemeFactory(merchant=MerchantFactory())


@pytest.fixture
def owner(theme):
    return bearer_client(theme.merchant.owner)


def _post(client, theme, data: bytes | None = None, *, name="room.jpg", alt="Players at the vault door"):
    body = {"image": upload(data or image_bytes("JPEG", (2000, 1000)), name=name), "alt_text": alt}
    return client.post(photos_url(theme), body, format="multipart")


def test_upload_stores_the_files_and_answers_the_contract(owner, theme):
    response = _post(owner, theme)

    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "url", "alt_text", "position", "renditions"} <= set(body)
    assert body["alt_text"] == "Players at the vault door"
    assert body["position"] == 0
    assert set(body["renditions"]) == {"small", "medium", "large"}
    assert body["url"].startswith("http://testserver/media/themes/")
    photo = ThemePhoto.objects.get(pk=body["id"])
    for name in photo_file_names(photo):
        assert default_storage.exists(name)
    # The URL serves the stored file (filesystem storage: bookwise/media.py), as an image.
    served = owner.get(body["renditions"]["small"].removeprefix("http://testserver"))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/webp"
    assert b"".join(served.streaming_content)[:4] == b"RIFF"


def test_the_theme_page_lists_photos_in_order(owner, theme, api_client):
    first = _post(owner, theme).json()
    second = _post(owner, theme, image_bytes("PNG", (800, 600)), alt="The map room").json()
    owner.post(f"{photos_url(theme)}order/", {"ids": [second["id"], first["id"]]}, format="json")

    body = api_client.get(f"/api/v1/themes/{theme.pk}/").json()

    assert [p["id"] for p in body["photos"]] == [second["id"], first["id"]]
    assert [p["position"] for p in body["photos"]] == [0, 1]
    assert body["photos"][0]["alt_text"] == "The map room"
    assert set(body["photos"][0]["renditions"]) == {"small"}  # 800 px wide: no larger rendition


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"this is text, renamed to look like a photo", "photo.jpg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "photo.svg"),
        (png_header_claiming(50_000, 50_000), "bomb.png"),
        (image_bytes("GIF", (50, 50)), "anim.gif"),
    ],
    ids=["text", "svg", "bomb", "gif"],
)
def test_anything_but_a_real_image_is_400_invalid_image(owner, theme, data, name):
    response = _post(owner, theme, data, name=name)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_image"
    assert response.json()["detail"]
    assert not ThemePhoto.objects.filter(theme=theme).exists()


def test_missing_image_or_alt_text_is_400(owner, theme):
    assert owner.post(photos_url(theme), {"alt_text": "x"}, format="multipart").status_code == 400
    response = owner.post(photos_url(theme), {"image": upload(image_bytes()), "alt_text": ""}, format="multipart")
    assert response.status_code == 400
    assert "alt_text" in response.json()


def test_a_json_body_is_415(owner, theme):
    assert owner.post(photos_url(theme), {"alt_text": "x"}, format="json").status_code == 415


def test_seventh_photo_is_409_too_many_photos(owner, theme):
    small = image_bytes("PNG", (64, 48))
    for _ in range(MAX_PHOTOS_PER_THEME):
        assert _post(owner, theme, small, name="a.png").status_code == 201
    response = _post(owner, theme, small, name="a.png")
    assert response.status_code == 409
    assert response.json()["code"] == "too_many_photos"


@pytest.mark.django_db(transaction=True)
def test_delete_removes_the_photo_and_its_files(owner, theme):
    body = _post(owner, theme).json()
    photo = ThemePhoto.objects.get(pk=body["id"])
    names = photo_file_names(photo)

    response = owner.delete(f"{photos_url(theme)}{photo.pk}/")

    assert response.status_code == 204
    assert not ThemePhoto.objects.filter(pk=photo.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_a_photo_of_another_theme_is_404(owner, theme):
    other = ThemeFactory(merchant=theme.merchant)
    body = _post(owner, other).json()
    assert owner.delete(f"{photos_url(theme)}{body['id']}/").status_code == 404


def test_patch_alt_text(owner, theme):
    body = _post(owner, theme).json()
    response = owner.patch(f"{photos_url(theme)}{body['id']}/", {"alt_text": "Two players"}, format="json")
    assert response.status_code == 200
    assert response.json()["alt_text"] == "Two players"


def test_another_merchant_and_customers_may_not_upload(theme, customer_client):
    other = bearer_client(MerchantFactory().owner)
    assert _post(other, theme).status_code == 403
    assert _post(customer_client, theme).status_code == 403
    assert not ThemePhoto.objects.exists()
