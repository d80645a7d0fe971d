"""axe-core on the pages people use most: no serious or critical accessibility violation (issue 14).

The demo data (`seed_demo`) plus one unpaid hold of the demo customer (for the checkout),
served by the live server with localstripe, checked in Debian's Chromium at desktop and phone
width: the catalog, a theme page, the checkout, "My bookings" (customer) and the merchant
dashboard (the demo merchant). axe-core is vendored from npm in tests/browser/vendor/
(test-only, never served; version and licence in its README.md).

A failure lists each violation: its rule, impact, the elements (CSS selectors) and axe's help link.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from bookings.services import booking_join
from catalog.models import Slot, Theme
from merchants.models import Merchant
from portal.demo import CUSTOMER_EMAIL, DEMO_PASSWORD, MERCHANT_EMAIL
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_VERSION = "4.14.1"
FAILING_IMPACTS = ("serious", "critical")
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


@pytest.fixture
def demo(site):
    """seed_demo's accounts and data, and a fresh unpaid hold of the demo customer for the checkout page."""
    call_command("seed_demo", "--not-production", stdout=io.StringIO())
    merchant = Merchant.objects.get(owner__email=MERCHANT_EMAIL)
    customer = User.objects.get(email=CUSTOMER_EMAIL)
    theme = Theme.objects.filter(merchant=merchant, is_active=True).order_by("pk").first()
    slot = (
        Slot.objects.filter(theme=theme, starts_at__gt=timezone.now() + timedelta(days=1)).order_by("starts_at").first()
    )
    hold = booking_join(slot_id=slot.pk, customer=customer, party_size=max(theme.min_party, 1))
    return {
        "customer": {
            "catalog": reverse("portal:catalog"),
            "theme": reverse("portal:theme-detail", args=[theme.pk]),
            "checkout": reverse("portal:checkout", args=[hold.pk]),
            "my-bookings": reverse("portal:my-bookings"),
        },
        "merchant": {"merchant-dashboard": reverse("merchant:home")},
    }


@pytest.fixture(params=list(SIZES))
def axe_page(request, browser):
    """A page whose context bypasses the Content-Security-Policy, for this test only.

    `page.add_script_tag(path=...)` inserts axe's source as an inline <script>, which the
    site's `script-src 'self'` refuses (as it should: no inline script runs in BookWise).
    `bypass_csp=True` lets the test's own script in; the CSP itself is checked by
    test_csp.py and by every other browser test, whose pages fail on any violation.
    """
    context = browser.new_context(
        viewport=SIZES[request.param], is_mobile=request.param == "phone", locale="en-GB", bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.size_name = request.param
    yield page
    context.close()


def log_in(page, site: str, email: str) -> None:
    page.goto(f"{site}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)


def axe_violations(page) -> list[dict]:
    """Run axe-core's default rules (WCAG 2.x A/AA and best practices) on the page as it stands."""
    page.add_script_tag(path=str(AXE))
    assert page.evaluate("axe.version") == AXE_VERSION
    return page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")


def describe(name: str, violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        more = f" (+{len(violation['nodes']) - 5} more)" if len(violation["nodes"]) > 5 else ""
        lines.append(
            f"{name}: {violation['id']} [{violation['impact']}] {violation['help']} -- {targets}{more} "
            f"-- {violation['helpUrl']}"
        )
    return "\n".join(lines)


def test_key_pages_have_no_serious_or_critical_accessibility_violations(site, demo, axe_page):
    page = axe_page
    failures: list[str] = []
    checked: list[str] = []
    for role, pages in demo.items():
        page.context.clear_cookies()
        log_in(page, site, CUSTOMER_EMAIL if role == "customer" else MERCHANT_EMAIL)
        for name, path in pages.items():
            response = page.goto(site + path, wait_until="load")
            assert response is not None, f"{name} ({path}): no answer"
            assert response.status == 200, f"{name} ({path}): HTTP {response.status}"
            page.wait_for_load_state("networkidle")
            found = [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]
            checked.append(name)
            if found:
                failures.append(describe(f"{name} ({page.size_name})", found))

    assert checked == ["catalog", "theme", "checkout", "my-bookings", "merchant-dashboard"]
    assert not failures, "Serious or critical accessibility violations:\n" + "\n".join(failures)
