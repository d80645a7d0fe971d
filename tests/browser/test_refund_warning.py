"""Issue 16 in Chromium: the booking form says "no refund" for the chosen time before anything is charged,
and the checkout of a slot starting soon counts down to the start.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
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


def test_choosing_a_time_inside_the_cutoff_shows_the_no_refund_warning(site, page):
    theme = ThemeFactory(title="Last-minute room", price=2500, cancellation_cutoff_hours=24)
    soon = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(hours=3, minutes=20))
    later = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=3))

    page.goto(f"{site}/themes/{theme.pk}/")
    warning = page.locator("#book-refund-warning")
    expect(warning).to_be_hidden()

    page.locator(f"label[for=slot-{soon.pk}]").click()
    expect(warning).to_be_visible()
    expect(warning).to_have_text("Starts in 3 hours: this booking cannot be cancelled for a refund.")

    # The page lists one day's times: the later time is on its own day's page (the calendar's day link).
    later_day = timezone.localtime(later.starts_at, theme.merchant.tzinfo).date()
    page.goto(f"{site}/themes/{theme.pk}/?day={later_day:%Y-%m-%d}&month={later_day:%Y-%m}")
    page.locator(f"label[for=slot-{later.pk}]").click()
    expect(warning).to_be_hidden()


def test_checkout_of_a_slot_starting_soon_counts_down_to_the_start(site, page):
    theme = ThemeFactory(price=2500, cancellation_cutoff_hours=24)
    slot = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(minutes=4, seconds=30))
    customer = UserFactory()
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=1)

    log_in(page, site, customer.email, next_path=f"/bookings/{booking.pk}/checkout/")

    countdown = page.locator("#countdown")
    expect(countdown).to_have_text(re.compile(r"^[0-4]:\d\d$"))
    expect(page.locator("#hold")).to_contain_text("the slot starts at")
    expect(page.locator("#refund-policy")).to_have_text(
        "Starts in 4 minutes: this booking cannot be cancelled for a refund."
    )
