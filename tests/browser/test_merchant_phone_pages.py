"""Every merchant page fits a phone (375x812): no sideways scrolling, tables stacked as cards (issue 16).

The journey in test_merchant_phone.py covers the dashboard, this week, a slot list and the
participants; this one opens the rest: the application form, the theme list, the theme form
(new and edit, with its ticket-tier and refund-tier tables), the weekly schedule with its
preview tables, the settings, payouts, and a slot's capacity and cancel pages.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from tests.browser import test_merchant_phone
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS
from tests.browser.test_merchant_phone import assert_fits_the_screen

phone = test_merchant_phone.phone  # the same phone-sized page fixture (JS errors and CSP violations fail)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)

LONG_TITLE = "The Extraordinarily Long Named Underground Cellar of the Alchemist and His Apprentices"


def log_in(page, site: str, email: str) -> None:
    page.goto(f"{site}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)


def fits(page) -> None:
    """assert_fits_the_screen, naming the elements that stick out on failure."""
    offenders = page.evaluate(
        """() => [...document.querySelectorAll("body *")]
          .filter((e) => !e.closest("thead, .visually-hidden"))
          .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
          .slice(0, 8)
          .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "")
            + " " + Math.round(e.getBoundingClientRect().right) + "px")"""
    )
    assert offenders == [], f"{page.url}: wider than the screen: {offenders}"
    assert_fits_the_screen(page)


def stacked(page, selector: str) -> None:
    """The table is shown as cards: its rows are blocks and its header row is hidden from sight."""
    table = page.locator(selector).first
    expect(table).to_be_visible()
    assert table.evaluate("t => getComputedStyle(t.querySelector('tbody tr')).display") == "block"
    assert table.evaluate("t => t.querySelector('thead').getBoundingClientRect().width") <= 1


def test_a_would_be_merchant_applies_on_a_phone(live_server, phone):
    customer = UserFactory(full_name="Ana Applicant")
    log_in(phone, live_server.url, customer.email)

    phone.goto(f"{live_server.url}/merchant/")
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    expect(phone.get_by_role("button", name="Send application")).to_be_visible()
    fits(phone)


def test_every_merchant_page_fits_a_phone(live_server, phone):
    merchant = MerchantFactory(name="Alfama Adventures", timezone="Europe/Lisbon")
    theme = ThemeFactory(
        merchant=merchant,
        title=LONG_TITLE,
        price=3000,
        price_tiers=[
            {"code": "adult", "label": "Adult", "price": 3000},
            {"code": "child", "label": "Child under twelve years", "price": 1500},
        ],
    )
    ThemeFactory(merchant=merchant, title="Tram 28 Tasting Tour")
    slot = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=3), capacity=8)
    site = live_server.url
    page = phone
    log_in(page, site, merchant.owner.email)

    page.goto(f"{site}/merchant/themes/")
    expect(page.get_by_role("link", name=LONG_TITLE, exact=True)).to_be_visible()
    stacked(page, "table.stack-table")
    fits(page)

    for path in ("/merchant/themes/new/", f"/merchant/themes/{theme.pk}/edit/"):
        page.goto(site + path)
        stacked(page, "#ticket-tiers table")
        stacked(page, "#refund-tiers table")
        # Each row's inputs stay inside the screen and usable.
        code = page.locator("#ticket-tiers tbody tr").first.locator("input").first
        code.scroll_into_view_if_needed()
        expect(code).to_be_in_viewport()
        fits(page)
    expect(page.locator("#ticket-tiers input[value='Child under twelve years']")).to_be_visible()

    page.goto(f"{site}/merchant/themes/{theme.pk}/slots/schedule/")
    fits(page)
    first_day = timezone.localdate(timezone=merchant.tzinfo) + timedelta(days=1)
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Last day").fill((first_day + timedelta(days=13)).isoformat())
    for weekday in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        page.get_by_label(weekday).check()
    local_start = timezone.localtime(slot.starts_at, merchant.tzinfo).strftime("%H:%M")
    page.get_by_label("Start times").fill(f"10:00, {local_start}")
    page.get_by_label("Capacity (people per slot)").fill("8")
    page.get_by_role("button", name="Preview schedule").click()
    expect(page.locator("tr.plan-create").first).to_be_visible()
    expect(page.locator("tr.plan-overlap").first).to_be_visible()  # the existing slot's time
    stacked(page, "table:has(tr.plan-create)")
    stacked(page, "table:has(tr.plan-overlap)")
    fits(page)

    for path in (
        "/merchant/settings/",
        "/merchant/payouts/",
        f"/merchant/slots/{slot.pk}/capacity/",
        f"/merchant/slots/{slot.pk}/cancel/",
    ):
        response = page.goto(site + path)
        assert response is not None
        assert response.status == 200, f"{path}: HTTP {response.status}"
        submit = page.locator("main form button[type=submit]").last
        submit.scroll_into_view_if_needed()
        expect(submit).to_be_in_viewport()
        fits(page)
