"""Journeys of how experiences are sold (issue 12): private rooms with tickets at a peak price, a customer
moving to a cheaper time and being refunded the difference, a merchant's weekly schedule with peak prices.

Same harness as test_journeys.py: headless Debian Chromium, Django's live server, a real localstripe.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join
from catalog.models import BookingMode, Slot
from catalog.services import slot_create
from catalog.tests.factories import ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.models import Payment, PaymentStatus, Refund
from payments.tests.stripe_helpers import refunds_for_intent
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot
from tests.browser.test_journeys import log_in, pay_by_card

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium chromium-driver).",
    ),
]

expect.set_options(timeout=TIMEOUT_MS)

TIERS = [
    {"code": "adult", "label": "Adult", "price": 2500},
    {"code": "child", "label": "Child", "price": 1500},
]


def _hour(days: int, hour: int, tz) -> datetime:
    """A whole local hour `days` from today in `tz`, as an aware datetime."""
    day = timezone.localdate(timezone=tz) + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, time(hour)), tz)


def test_a_family_books_two_adults_and_a_child_on_a_private_room_at_a_peak_price_and_pays(site, page):
    merchant = MerchantFactory(name="Harbour Games", timezone="Europe/Lisbon")
    theme = ThemeFactory(
        merchant=merchant,
        title="The Cartographer's Study",
        price=2500,
        currency="usd",
        min_party=2,
        max_party=6,
        booking_mode=BookingMode.PRIVATE,
        private_price=9000,
        price_tiers=TIERS,
    )
    tz = merchant.tzinfo
    ordinary = slot_create(theme=theme, starts_at=_hour(2, 11, tz), capacity=6)
    peak = slot_create(theme=theme, starts_at=_hour(2, 19, tz), capacity=6, price=12000)
    family = UserFactory(full_name="Ada Lovelace")

    log_in(page, site, family.email, next_path=f"/themes/{theme.pk}/")
    expect(page.locator("#private-note")).to_contain_text("Private: your group only")
    expect(page.locator("#theme-price")).to_have_text("$90.00 for the group (up to 6 people)")
    # Only the time whose price differs from the theme's says its own price.
    expect(page.locator(f'label[for="slot-{peak.pk}"]')).to_contain_text("$120.00")
    expect(page.locator(f'label[for="slot-{ordinary.pk}"]')).not_to_contain_text("$")

    page.locator(f'label[for="slot-{peak.pk}"]').click()
    page.get_by_label("Adult").fill("2")
    page.get_by_label("Child").fill("1")
    # The live total (static/js/book.js) follows the chosen time: the peak price for the group.
    expect(page.locator("#book-total")).to_have_text("Total $120.00; you pay on the next page.")
    page.locator(f'label[for="slot-{ordinary.pk}"]').click()
    expect(page.locator("#book-total")).to_have_text("Total $90.00; you pay on the next page.")
    page.locator(f'label[for="slot-{peak.pk}"]').click()
    save_screenshot(page, "selling-1-theme-page-tickets")
    page.get_by_role("button", name="Book 3 places").click()

    # The checkout page shows what the server priced (bookings.pricing), the tickets in words.
    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    expect(page.locator(".theme-facts")).to_contain_text("3 people (2 adults, 1 child)")
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill("4242424242424242")
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10001")
    page.get_by_role("button", name="Pay $120.00").click()

    expect(page.locator("#payment-done-heading")).to_have_text("Booking confirmed")
    booking = Booking.objects.get(customer=family)
    assert (booking.status, booking.slot_id, booking.party_size, booking.amount) == (
        BookingStatus.CONFIRMED,
        peak.pk,
        3,
        12000,
    )
    assert booking.tickets == [{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}]
    payment = Payment.objects.get(booking=booking)
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, 12000)
    save_screenshot(page, "selling-1-family-private-room-peak-price")

    # The room is theirs: the next group finds the time full.
    page.goto(f"{site}/themes/{theme.pk}/")
    expect(page.locator(f'label[for="slot-{peak.pk}"]')).to_contain_text("Full")


def test_a_merchant_creates_a_weekly_schedule_with_peak_prices(site, page):
    merchant = MerchantFactory(name="Harbour Games", city="Porto", timezone="Europe/Lisbon")
    theme = ThemeFactory(merchant=merchant, title="Tram 28 Tasting Tour", price=3000, currency="usd", max_party=6)
    first_day = timezone.localdate(timezone=merchant.tzinfo) + timedelta(days=1)
    last_day = first_day + timedelta(days=6)  # any 7 days hold each weekday once

    log_in(page, site, merchant.owner.email, next_path=f"/merchant/themes/{theme.pk}/slots/")
    page.get_by_role("link", name="Create a weekly schedule").click()

    # First the ordinary evenings, Sunday to Thursday, at the theme's price.
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Last day").fill(last_day.isoformat())
    for weekday in ("Monday", "Tuesday", "Wednesday", "Thursday", "Sunday"):
        page.get_by_label(weekday).check()
    page.get_by_label("Start times").fill("18:00")
    page.get_by_label("Capacity (people per slot)").fill("14")
    page.get_by_role("button", name="Preview schedule").click()
    expect(page.locator("#preview-heading + p")).to_contain_text("5 slots will be created")
    page.get_by_role("button", name="Create 5 slots").click()
    expect(page.get_by_text("Created 5 slots; skipped 0.")).to_be_visible()

    # Then the peak: Friday and Saturday at 18:00 for 35.00.
    page.get_by_role("link", name="Create a weekly schedule").click()
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Last day").fill(last_day.isoformat())
    for weekday in ("Friday", "Saturday"):
        page.get_by_label(weekday).check()
    page.get_by_label("Start times").fill("18:00")
    page.get_by_label("Capacity (people per slot)").fill("14")
    page.get_by_label("Price (optional)").fill("35.00")
    page.get_by_role("button", name="Preview schedule").click()
    expect(page.locator("#preview-heading + p")).to_contain_text("2 slots will be created at $35.00")
    page.get_by_role("button", name="Create 2 slots").click()
    expect(page.get_by_text("Created 2 slots; skipped 0.")).to_be_visible()

    # The slot list shows which slots have a peak price.
    expect(page.locator(".slot-peak-price")).to_have_count(2)
    expect(page.locator(".slot-peak-price").first).to_have_text("$35.00")
    save_screenshot(page, "selling-3-merchant-weekly-schedule-peak-prices")

    slots = list(Slot.objects.filter(theme=theme))
    assert len(slots) == 7
    for slot in slots:
        local = timezone.localtime(slot.starts_at, merchant.tzinfo)
        assert local.strftime("%H:%M") == "18:00"
        assert slot.price == (3500 if local.weekday() in (4, 5) else None)

    # A customer sees the peak price next to those times, the theme's price stays the catalog's.
    friday = next(s for s in slots if timezone.localtime(s.starts_at, merchant.tzinfo).weekday() == 4)
    monday = next(s for s in slots if timezone.localtime(s.starts_at, merchant.tzinfo).weekday() == 0)
    # The theme page lists one day's times: open each day from the calendar's links.
    for slot, price in ((friday, "$35.00 per person"), (monday, None)):
        day = timezone.localtime(slot.starts_at, merchant.tzinfo).date()
        page.goto(f"{site}/themes/{theme.pk}/?day={day:%Y-%m-%d}&month={day:%Y-%m}")
        label = page.locator(f'label[for="slot-{slot.pk}"]')
        if price:
            expect(label).to_contain_text(price)
        else:
            expect(label).not_to_contain_text("$")


def test_a_customer_reschedules_to_a_cheaper_time_and_sees_the_refund(site, page):
    merchant = MerchantFactory(name="Harbour Games", timezone="Europe/Lisbon")
    theme = ThemeFactory(merchant=merchant, title="Tram 28 Tasting Tour", price=3000, currency="usd")
    tz = merchant.tzinfo
    peak = slot_create(theme=theme, starts_at=_hour(5, 18, tz), capacity=10, price=4000)
    cheaper = slot_create(theme=theme, starts_at=_hour(6, 11, tz), capacity=10)
    customer = UserFactory(full_name="Grace Hopper")
    booking = booking_join(slot_id=peak.pk, customer=customer, party_size=2)
    pay_by_card(booking)
    assert booking.amount == 8000

    log_in(page, site, customer.email, next_path="/bookings/")
    page.get_by_role("link", name=f"Change time of booking #{booking.pk}").click()
    # The other time says what it costs and how much cheaper it is.
    expect(page.locator(f'label[for="slot-{cheaper.pk}"]')).to_contain_text("$60.00")
    expect(page.locator(f'label[for="slot-{cheaper.pk}"]')).to_contain_text("$20.00 cheaper")
    page.locator(f'label[for="slot-{cheaper.pk}"]').click()
    page.get_by_role("button", name="Move my booking").click()

    expect(page.get_by_text("The price difference, $20.00, is being refunded to your card.")).to_be_visible()
    save_screenshot(page, "selling-2-customer-reschedules-cheaper")
    booking.refresh_from_db()
    assert (booking.slot_id, booking.status, booking.amount) == (cheaper.pk, BookingStatus.CONFIRMED, 6000)
    refund = Refund.objects.get(payment__booking=booking)
    assert refund.amount == 2000
    # The refund reaches Stripe (Celery runs eagerly): localstripe holds one refund of exactly the difference.
    payment = Payment.objects.get(booking=booking)
    assert [r["amount"] for r in refunds_for_intent(payment.stripe_payment_intent_id)] == [2000]
    assert booking.refunded_amount == 2000
