"""The checkout page shows the real outcome of a payment whose hold runs out while it is being confirmed.

A hold that runs out between the card being charged and the webhook shows as
"expired" to the status poll, but the late payment still confirms the booking
when its places are free (and is refunded otherwise): the page must keep
waiting and then say what actually happened. The hold is made to run out at
the exact moment the pay request has charged the card, by wrapping the card
confirmation the pay view calls in the live server (the call itself is real:
localstripe charges the card and sends its webhook a second later). An earlier
version intercepted the request in the browser (Playwright's page.route) and
expired the hold from the route handler; on a loaded CI machine the handler
was sometimes not the one that answered, so the hold never ran out.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookings import views as booking_views
from bookings.models import Booking, BookingStatus, BookingStatusChange
from bookings.services import booking_join
from catalog.tests.factories import SlotFactory, ThemeFactory
from payments.models import Payment, PaymentStatus, Refund
from payments.tests.stripe_helpers import CARD_OK
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)


def log_in(page, site: str, email: str, *, next_path: str) -> None:
    page.goto(f"{site}/accounts/login/?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def pay_while_the_hold_runs_out(page, monkeypatch, booking: Booking, *, meanwhile=None) -> list[int]:
    """Pay with a good card; once it is charged, the hold runs out (and `meanwhile` runs), then the page is answered."""
    ran_out: list[int] = []
    confirm_card = booking_views.payment_confirm_card

    def confirm_then_run_out(*args, **kwargs):
        state = confirm_card(*args, **kwargs)  # the real call: the card is charged, the webhook follows in ~1 s
        ran_out.append(
            Booking.objects.filter(pk=booking.pk, status=BookingStatus.PENDING_PAYMENT).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            )
        )
        if meanwhile is not None:
            meanwhile()
        return state

    # The live server runs in this process: the pay view looks the function up at each request.
    monkeypatch.setattr(booking_views, "payment_confirm_card", confirm_then_run_out)
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(CARD_OK)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    page.get_by_role("button", name="Pay $50.00").click()
    return ran_out


def test_a_hold_that_runs_out_while_paying_is_shown_confirmed_when_the_late_payment_confirms_it(
    site, page, monkeypatch
):
    slot = SlotFactory(theme=ThemeFactory(price=2500), starts_at=timezone.now() + timedelta(days=2), capacity=4)
    customer = UserFactory()
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)
    log_in(page, site, customer.email, next_path=f"/bookings/{booking.pk}/checkout/")

    ran_out = pay_while_the_hold_runs_out(page, monkeypatch, booking)

    expect(page.locator("#payment-done-heading")).to_have_text("Booking confirmed")
    assert ran_out == [1]  # the poll saw an expired hold before the webhook came
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert BookingStatusChange.objects.filter(booking=booking, reason="late payment, seats still free").exists()
    assert Payment.objects.get(booking=booking).status == PaymentStatus.SUCCEEDED
    save_screenshot(page, "checkout-late-payment-confirmed")


def test_a_late_payment_whose_places_were_taken_is_shown_refunded(site, page, monkeypatch):
    slot = SlotFactory(theme=ThemeFactory(price=2500), starts_at=timezone.now() + timedelta(days=2), capacity=2)
    customer = UserFactory()
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)
    log_in(page, site, customer.email, next_path=f"/bookings/{booking.pk}/checkout/")

    def someone_else_takes_the_places() -> None:
        booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    ran_out = pay_while_the_hold_runs_out(page, monkeypatch, booking, meanwhile=someone_else_takes_the_places)

    expect(page.locator("#payment-done-heading")).to_have_text("Booking not confirmed")
    expect(page.locator("#payment-done-text")).to_contain_text("Your booking is expired, so your payment")
    assert ran_out == [1]
    assert Refund.objects.filter(payment__booking=booking, reason="late_payment").exists()
    save_screenshot(page, "checkout-late-payment-refunded")
