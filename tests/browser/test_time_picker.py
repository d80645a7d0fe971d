"""Issue 14 in Chromium: picking a time from the month calendar with the keyboard only, and the
subscribed calendar link on My bookings.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot
from tests.browser.test_journeys import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)


def _local(day, hour, tz) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=tz)


def test_a_customer_picks_a_day_and_a_time_with_the_keyboard_and_books(site, page):
    merchant = MerchantFactory(name="Harbour Games", timezone="Europe/Lisbon")
    theme = ThemeFactory(merchant=merchant, title="The Lighthouse Keeper", price=0, max_party=4)
    tz = merchant.tzinfo
    first = timezone.localtime(timezone.now(), tz).date() + timedelta(days=2)
    second = first + timedelta(days=1)
    SlotFactory(theme=theme, starts_at=_local(first, 18, tz), ends_at=_local(first, 19, tz))
    morning = SlotFactory(theme=theme, starts_at=_local(second, 10, tz), ends_at=_local(second, 11, tz))
    evening = SlotFactory(theme=theme, starts_at=_local(second, 20, tz), ends_at=_local(second, 21, tz), capacity=2)
    customer = UserFactory(full_name="Ada Lovelace")

    log_in(page, site, customer.email, next_path=f"/themes/{theme.pk}/")
    expect(page.locator(".month-calendar caption")).to_contain_text(f"{first:%B %Y}")
    # The first day with open times is chosen.
    expect(page.locator("#times legend")).to_have_text(f"Times on {first:%A} {first.day} {first:%B}")
    save_screenshot(page, "picker-1-theme-month-calendar")

    # Keyboard only: focus the next day's link (named "Tuesday 2 December, 2 times available") and follow it.
    day_link = page.get_by_role("link", name=f"{second:%A} {second.day} {second:%B}, 2 times available")
    day_link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#times legend")).to_have_text(f"Times on {second:%A} {second.day} {second:%B}")
    expect(page.get_by_role("link", name=re.compile(f"^{second:%A} {second.day} {second:%B}"))).to_have_attribute(
        "aria-current", "true"
    )

    # The times are a labelled radio group: arrows move between them, the label says seats left.
    expect(page.get_by_role("radio", name=re.compile(r"10:00–11:00"))).to_be_enabled()
    page.locator(f"#slot-{morning.pk}").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator(f"#slot-{evening.pk}")).to_be_checked()
    expect(page.locator(f'label[for="slot-{evening.pk}"]')).to_contain_text("2 seats left")
    page.keyboard.press("Tab")
    expect(page.locator("#id_party_size")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Enter")

    expect(page.get_by_text("You are booked on The Lighthouse Keeper")).to_be_visible()
    booking = Booking.objects.get(customer=customer)
    assert (booking.slot_id, booking.party_size, booking.status) == (evening.pk, 2, BookingStatus.CONFIRMED)

    # The booked-out evening is now shown as full, its day still open for the morning.
    page.goto(f"{site}/themes/{theme.pk}/?day={second:%Y-%m-%d}&month={second:%Y-%m}")
    expect(page.locator(f'label[for="slot-{evening.pk}"]')).to_contain_text("Full")
    expect(page.locator(f"#slot-{evening.pk}")).to_be_disabled()
    page.set_viewport_size({"width": 390, "height": 844})
    save_screenshot(page, "picker-2-theme-month-calendar-phone")

    # My bookings: a personal calendar link, created on demand.
    page.goto(f"{site}/bookings/")
    page.get_by_role("button", name="Create calendar link").click()
    link = page.get_by_label("Your personal calendar link")
    expect(link).to_have_value(re.compile(r"/feeds/customers/[A-Za-z0-9_-]{43}\.ics$"))
    feed = page.request.get(site + urlsplit(link.input_value()).path)
    assert feed.status == 200
    assert f"UID:booking-{booking.pk}@bookwise" in feed.text()
