"""Theme photos in a real browser: a merchant uploads one with its description, moves it first, and customers
see it on the catalog card and the theme page, loaded from the media URL under the Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD
from catalog.photos import theme_photo_add
from catalog.tests.factories import ThemeFactory
from catalog.tests.images import image_bytes, upload
from merchants.tests.factories import MerchantFactory
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def plain_http(settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "Lax"
    settings.COOKIE_PARTITIONED = False


def test_merchant_uploads_orders_and_customers_see_the_photos(page, live_server, plain_http, tmp_path):
    merchant = MerchantFactory(name="Vault Games")
    theme = ThemeFactory(merchant=merchant, title="The Vault")
    theme_photo_add(theme=theme, file=upload(image_bytes("PNG", (1200, 800))), alt_text="The lobby")
    photo_file = tmp_path / "vault.jpg"
    photo_file.write_bytes(image_bytes("JPEG", (2400, 1600)))

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(merchant.owner.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/merchant/")

    page.goto(f"{live_server.url}/merchant/themes/")
    page.get_by_role("link", name="Photos of The Vault").click()
    expect(page.get_by_role("heading", name="Photos of “The Vault”")).to_be_visible()

    # No file and no description: both errors in words.
    page.get_by_role("button", name="Upload photo").click()
    expect(page.get_by_text("Choose a photo to upload.").first).to_be_visible()

    page.locator("#id_image").set_input_files(str(photo_file))
    page.get_by_label("Description (alt text)").last.fill("Two players opening the vault door")
    page.get_by_role("button", name="Upload photo").click()
    expect(page.get_by_text("Photo added.")).to_be_visible()
    page.get_by_role("button", name="Move up photo 2").click()
    expect(page.get_by_text("Photo moved earlier.")).to_be_visible()
    first = page.locator(".photo-manage-item img").first
    expect(first).to_have_attribute("alt", "Two players opening the vault door")
    save_screenshot(page, "merchant-theme-photos")

    page.goto(f"{live_server.url}/")
    card_img = page.locator(".theme-card img").first
    expect(card_img).to_have_attribute("alt", "Two players opening the vault door")
    card_img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=card_img.element_handle())

    page.goto(f"{live_server.url}/themes/{theme.pk}/")
    gallery = page.locator(".theme-gallery img")
    expect(gallery).to_have_count(2)
    gallery.last.scroll_into_view_if_needed()  # lazy: loads once near the viewport
    page.wait_for_function(
        "() => [...document.querySelectorAll('.theme-gallery img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    save_screenshot(page, "theme-photos-gallery")
