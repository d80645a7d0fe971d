"""A merchant on a phone (375x812): logs in, lands on the dashboard, opens this week, checks someone in.

Every page of the way fits the screen: no horizontal scrolling (the tables become stacked
cards below 640 px), and no Content-Security-Policy violation or JavaScript error.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from tests.browser.conftest import CHROMIUM, REPORT_CSP_VIOLATIONS, TIMEOUT_MS, is_csp_violation, save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def phone(browser, live_server, settings):
    """A phone-sized page (touch, mobile viewport); JavaScript errors and CSP violations fail the test."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # SameSite=None (the widget's iframe) needs Secure: plain-http pages keep Lax, unpartitioned cookies.
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "Lax"
    settings.COOKIE_PARTITIONED = False
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: is_csp_violation(message.text) and problems.append(message.text))
    yield page
    context.close()
    assert problems == [], f"JavaScript errors or CSP violations: {problems}"


def assert_fits_the_screen(page) -> None:
    """Nothing scrolls sideways: not the page, and not a table inside its scrolling wrapper either."""
    widths = page.evaluate(
        """() => ({
          scroll: document.documentElement.scrollWidth,
          inner: window.innerWidth,
          wraps: [...document.querySelectorAll(".table-wrap")]
            .filter((w) => w.scrollWidth > w.clientWidth)
            .map((w) => w.scrollWidth + " > " + w.clientWidth),
        })"""
    )
    # A mobile browser widens its layout viewport to fit wide content: innerWidth must stay the phone's width.
    assert widths["inner"] == PHONE["width"], f"{page.url} is laid out wider than the phone: {widths}"
    assert widths["scroll"] <= widths["inner"], f"{page.url} scrolls sideways: {widths}"
    assert widths["wraps"] == [], f"{page.url} has tables wider than the screen: {widths}"


def test_a_merchant_on_a_phone_logs_in_opens_this_week_and_checks_someone_in(live_server, phone):
    merchant = MerchantFactory(name="Alfama Adventures", timezone="Europe/Lisbon")
    theme = ThemeFactory(merchant=merchant, title="The Very Long Named Cellar of the Alchemist", price=2500)
    now = timezone.now()
    started = SlotFactory(theme=theme, starts_at=now - timedelta(minutes=10), capacity=8)
    walkin = ConfirmedBookingFactory(
        slot=started, party_size=2, customer=UserFactory(full_name="Wanda Walkin", email="wanda.walkin@example.com")
    )
    later = SlotFactory(theme=theme, starts_at=now + timedelta(days=1), capacity=8)
    ConfirmedBookingFactory(slot=later, party_size=3, customer=UserFactory(full_name="Paula Paid"))
    BookingFactory(slot=later, party_size=2, customer=UserFactory(full_name="Hilde Held"))
    page = phone

    # A wrong password first: the error summary takes the focus.
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(merchant.owner.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("[data-error-summary]")).to_be_focused()

    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/merchant/")
    expect(page.get_by_role("heading", name="Alfama Adventures")).to_be_visible()
    expect(page.get_by_text("3 paid + 2 held / 8")).to_be_visible()
    assert_fits_the_screen(page)

    page.get_by_role("navigation", name="Merchant").get_by_role("link", name="This week").click()
    expect(page.get_by_role("heading", name="This week", exact=True)).to_be_visible()
    assert_fits_the_screen(page)
    today = timezone.localdate(now, merchant.tzinfo)
    if timezone.localdate(started.starts_at, merchant.tzinfo) < today - timedelta(days=today.weekday()):
        page.get_by_role("link", name="← Previous week").click()  # run just after midnight on a Monday
    check_in = page.get_by_role("button", name="Check in Wanda Walkin")
    check_in.scroll_into_view_if_needed()
    expect(check_in).to_be_in_viewport()
    check_in.click()
    expect(page.get_by_text("Wanda Walkin marked attended.")).to_be_visible()
    expect(page.locator(f"#booking-{walkin.pk}").get_by_text("Checked in")).to_be_visible()
    walkin.refresh_from_db()
    assert walkin.status == BookingStatus.ATTENDED
    assert_fits_the_screen(page)

    page.goto(f"{live_server.url}/merchant/themes/{theme.pk}/slots/")
    expect(page.get_by_text("3 paid + 2 held / 8")).to_be_visible()
    cancel = page.get_by_role("link", name="Cancel slot").first
    cancel.scroll_into_view_if_needed()
    expect(cancel).to_be_in_viewport()
    assert_fits_the_screen(page)

    page.goto(f"{live_server.url}/merchant/slots/{started.pk}/participants/")
    expect(page.get_by_text("wanda.walkin@example.com")).to_be_visible()
    no_show = page.get_by_role("button", name="Mark Wanda Walkin no-show")
    no_show.scroll_into_view_if_needed()
    expect(no_show).to_be_in_viewport()
    assert_fits_the_screen(page)
    save_screenshot(page, "merchant-phone")
