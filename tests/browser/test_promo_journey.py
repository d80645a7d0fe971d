"""Promo codes in a real browser (issue 13): a merchant creates a code, a customer applies it on the booking
form, sees the discounted total before paying, pays the discounted price; the merchant sees its use and revenue.

Same harness as test_journeys.py: headless Debian Chromium, Django's live server, a real localstripe.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus, PromoCode
from catalog.services import slot_create
from catalog.tests.factories import ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.models import Payment, PaymentStatus
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot
from tests.browser.test_journeys import log_in

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


def _hour(days: int, hour: int, tz) -> datetime:
    day = timezone.localdate(timezone=tz) + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, time(hour)), tz)


def test_a_merchant_creates_a_code_and_a_customer_pays_the_discounted_price(site, page):
    merchant = MerchantFactory(name="Harbour Games", timezone="Europe/Lisbon")
    theme = ThemeFactory(merchant=merchant, title="The Lighthouse Keeper", price=2500, currency="eur", max_party=6)
    slot = slot_create(theme=theme, starts_at=_hour(2, 19, merchant.tzinfo), capacity=6, price=3000)  # a peak price

    # The merchant creates SPRING20 on the "Promo codes" page.
    log_in(page, site, merchant.owner.email, next_path="/merchant/")
    page.get_by_role("navigation", name="Merchant").get_by_role("link", name="Promo codes").click()
    page.locator("#id_code").fill("SPRING20")
    page.get_by_label("Percent off").fill("20")
    page.get_by_label("Maximum uses").fill("50")
    page.get_by_role("button", name="Create code").click()
    expect(page.locator(".messages")).to_contain_text("Promo code SPRING20 created")
    expect(page.locator("#promo-code-table")).to_contain_text("0 / 50")
    page.context.clear_cookies()

    customer = UserFactory(full_name="Grace Hopper")
    log_in(page, site, customer.email, next_path=f"/themes/{theme.pk}/")
    page.locator(f'label[for="slot-{slot.pk}"]').click()
    page.get_by_label("Party size").fill("2")
    # A wrong code is refused in words, next to the field; nothing is booked.
    page.get_by_label("Have a code?").fill("SPRNG20")
    page.get_by_role("button", name="Apply code").click()
    expect(page.locator("#id_promo_code_error")).to_have_text("Unknown code: check its spelling.")
    # "Apply" shows the discounted total before anything is booked.
    page.get_by_label("Have a code?").fill("spring20")
    page.get_by_role("button", name="Apply code").click()
    expect(page.locator("#promo-preview")).to_contain_text("Code SPRING20: €60.00 − €12.00 = €48.00 to pay")
    assert not Booking.objects.exists()
    save_screenshot(page, "promo-1-apply-code")

    page.get_by_role("button", name="Book 2 places").click()
    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    expect(page.locator("#booking-price")).to_have_text("€60.00")
    expect(page.locator("#booking-discount")).to_have_text("−€12.00 (code SPRING20)")
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill("4242424242424242")
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10001")
    save_screenshot(page, "promo-2-checkout")
    page.get_by_role("button", name="Pay €48.00").click()
    expect(page.locator("#payment-done-heading")).to_have_text("Booking confirmed")

    booking = Booking.objects.get(customer=customer)
    assert (booking.status, booking.amount, booking.discount) == (BookingStatus.CONFIRMED, 4800, 1200)
    assert Payment.objects.get(booking=booking).status == PaymentStatus.SUCCEEDED
    assert Payment.objects.get(booking=booking).amount == 4800
    assert PromoCode.objects.get(code="SPRING20").redemptions == 1

    # The merchant sees the use and the revenue.
    page.context.clear_cookies()
    log_in(page, site, merchant.owner.email, next_path="/merchant/promo-codes/")
    row = page.locator("#promo-code-table tbody tr", has_text="SPRING20")
    expect(row.locator(".promo-uses")).to_contain_text("1 / 50")
    expect(row.locator(".promo-revenue")).to_have_text("€48.00")
    save_screenshot(page, "promo-3-merchant-page")
