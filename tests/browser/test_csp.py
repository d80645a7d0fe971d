"""The Content-Security-Policy in Chromium: the key pages load with no `securitypolicyviolation` event.

The page fixture (conftest) reports every violation in every page and frame,
and fails any browser test that saw one; here each key page is visited on
purpose, waited for until its scripts have run, and checked on the spot.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import AdminFactory, UserFactory
from bookings.services import booking_join
from catalog.tests.factories import SlotFactory, ThemeFactory
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS
from tests.browser.test_journeys import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)


def visit(page, url: str, ready: str) -> None:
    """Open `url`, wait until `ready` (a selector) shows and the network is quiet, then expect no violation."""
    response = page.goto(url)
    assert response is not None
    assert response.status == 200, url
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    expect(page.locator(ready).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.csp_violations == [], url


def test_customer_pages_load_without_csp_violations(site, page):
    theme = ThemeFactory(title="Harbour Lights Escape Room", price=2500)
    slot = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=2))
    customer = UserFactory()
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)

    visit(page, site + "/", ".theme-card")
    visit(page, f"{site}/themes/{theme.pk}/", "#book-form")
    visit(page, f"{site}/accounts/login/", "form")

    log_in(page, site, customer.email, next_path=f"/bookings/{booking.pk}/checkout/")
    # The card form is mounted by Stripe.js (localstripe's stand-in) and checkout.js.
    expect(page.locator("#card-element input").first).to_be_visible()
    expect(page.locator("#pay-button")).to_be_enabled()
    page.wait_for_load_state("networkidle")
    assert page.csp_violations == []


def test_merchant_dashboard_loads_without_csp_violations(site, page):
    theme = ThemeFactory()
    SlotFactory(theme=theme)

    log_in(page, site, theme.merchant.owner.email, next_path="/merchant/")
    expect(page.get_by_role("heading", name=theme.merchant.name)).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.csp_violations == []
    visit(page, f"{site}/merchant/themes/{theme.pk}/slots/", "main")


def test_admin_pages_load_without_csp_violations(site, page):
    admin = AdminFactory()
    slot = SlotFactory()

    log_in(page, site, admin.email, next_path="/admin/")
    expect(page.locator("#bookwise-summary")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.csp_violations == []

    visit(page, f"{site}/admin/catalog/theme/", "#result_list")
    visit(page, f"{site}/admin/catalog/theme/{slot.theme_id}/change/", "#theme_form")
    # Date and time widgets (calendar and clock links are built by the admin's JavaScript).
    visit(page, f"{site}/admin/catalog/slot/{slot.pk}/change/", ".datetimeshortcuts")
    page.locator(".datetimeshortcuts a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.csp_violations == []
    visit(page, f"{site}/admin/django_celery_beat/periodictask/add/", "#periodictask_form")


def test_api_docs_load_without_csp_violations(site, page):
    visit(page, f"{site}/api/v1/docs/", ".swagger-ui .opblock")
    # Open one operation: Swagger UI renders its parameters and responses.
    page.locator(".swagger-ui .opblock-summary").first.click()
    expect(page.locator(".swagger-ui .opblock-body").first).to_be_visible()
    assert page.csp_violations == []


def test_the_page_fixture_reports_a_violation(site, page):
    """The detector itself: a page with an inline style and script under the site's own policy."""
    policy = page.request.get(site + "/").headers["content-security-policy"]
    page.route(
        site + "/csp-probe/",
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "text/html", "Content-Security-Policy": policy},
            body='<!doctype html><p style="color: red">styled</p><script>document.title = "ran";</script>',
        ),
    )

    page.goto(site + "/csp-probe/")
    page.wait_for_load_state("networkidle")

    assert page.title() != "ran"
    assert any("style-src" in violation for violation in page.csp_violations), page.csp_violations
    assert any("script-src" in violation for violation in page.csp_violations), page.csp_violations
    page.csp_violations.clear()  # seen on purpose: the fixture must not fail the test for them
