"""The waitlist journey in a real browser (API.md "Waitlist"): join a full slot's queue, get the offer, pay from it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookings.models import BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import booking_cancel_and_refund
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot
from tests.concurrency import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)


def log_in(page, site: str, email: str, *, next_path: str = "/") -> None:
    page.goto(f"{site}/accounts/login/?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_customer_joins_the_waitlist_of_a_full_slot_gets_the_offer_by_email_and_pays_from_its_link(
    site, page, mailoutbox
):
    theme = ThemeFactory(title="Harbour Lights Escape Room", price=2500, currency="usd")
    starts_at = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    slot = SlotFactory(theme=theme, capacity=2, starts_at=starts_at)
    leaving = ConfirmedBookingFactory(slot=slot, party_size=2, amount=0, customer=UserFactory(full_name="Bo"))
    customer = UserFactory(full_name="Ada Lovelace")

    log_in(page, site, customer.email, next_path=f"/themes/{theme.pk}/")
    form = page.locator(f"#waitlist-slot-{slot.pk}")
    expect(form).to_contain_text("is full")
    form.get_by_label("People").fill("2")
    form.get_by_role("button", name="Join the waitlist").click()

    expect(page.get_by_text("You are on the waitlist")).to_be_visible()
    entry = WaitlistEntry.objects.get(customer=customer)
    row = page.locator(f"#waitlist-entry-{entry.pk}")
    expect(row).to_contain_text("#1 in line")
    save_screenshot(page, "waitlist-1-customer-waits")

    # Another customer cancels: their two seats are offered to the queue in the same transaction.
    booking_cancel_and_refund(booking_id=leaving.pk, by=leaving.customer)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
    offer = wait_for(lambda: [m for m in mailoutbox if m.to == [customer.email]])
    assert offer[0].subject == f"A place opened up: {theme.title}"
    link = re.search(re.escape(settings.SITE_URL.rstrip("/")) + r"(/bookings/\d+/checkout/)", offer[0].body)
    assert link is not None, offer[0].body
    assert link.group(1) == f"/bookings/{entry.booking_id}/checkout/"

    page.goto(site + link.group(1))
    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill("4242424242424242")
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10001")
    page.get_by_role("button", name="Pay $50.00").click()

    expect(page.locator("#payment-done-heading")).to_have_text("Booking confirmed")
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED
    assert entry.booking.status == BookingStatus.CONFIRMED
    save_screenshot(page, "waitlist-2-offer-paid")
