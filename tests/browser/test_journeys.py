"""The key journeys in a real browser: headless Chromium, Django's live server, a real localstripe.

Each journey is one test with its own data (a transactional database,
flushed after each test) and ends with a screenshot in test-artifacts/.
What happens before the journey starts is set up with factories and the same
services the pages call; everything the journey is about is done by clicking
and typing in the pages.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join
from catalog.models import Slot, Theme
from catalog.services import slot_create
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import payment_reconcile
from merchants.tests.factories import MerchantFactory
from payments.models import Payment, PaymentStatus, RefundStatus
from payments.services import payment_confirm_card
from payments.tests.stripe_helpers import CARD_3DS, CARD_OK, card_token, refunds_for_intent
from reviews.models import Review
from reviews.services import review_create
from reviews.tests.factories import attend
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=(
            f"Debian's Chromium is not installed at {CHROMIUM}: `python scripts/dev.py test` installs it "
            "(apt-get install chromium chromium-driver). Playwright's own browsers are never downloaded."
        ),
    ),
]

expect.set_options(timeout=TIMEOUT_MS)


def log_in(page, site: str, email: str, *, next_path: str = "/") -> None:
    page.goto(f"{site}/accounts/login/?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def pay_by_card(booking: Booking) -> None:
    """Pay as the checkout page does (card token -> payment_confirm_card), then apply Stripe's answer at once.

    Applying it through the reconciliation service makes the booking confirmed
    before the journey starts, without waiting for localstripe's webhook (which
    arrives a second later and changes nothing).
    """
    state = payment_confirm_card(booking_id=booking.pk, customer=booking.customer, token_id=card_token(CARD_OK))
    assert state.status == "succeeded"
    payment_reconcile(payment_id=Payment.objects.get(booking=booking).pk)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_journey_1_a_new_customer_registers_searches_books_for_three_and_pays_by_card(site, page):
    theme = ThemeFactory(title="Harbour Lights Escape Room", price=2500, currency="usd", merchant__name="Harbour Games")
    # Within the theme page's schedule window (SlotFactory's own dates drift later as a session creates slots).
    starts_at = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    slot = SlotFactory(theme=theme, capacity=6, starts_at=starts_at)
    SlotFactory(theme=ThemeFactory(title="Clay and Wheel Pottery"))  # open too, but not what is searched

    page.goto(site + "/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label(re.compile(r"^Password")).fill("analytical-engine-1843")
    page.get_by_label("Confirm password").fill("analytical-engine-1843")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("your account is ready")).to_be_visible()

    page.get_by_label("Search", exact=True).fill("harbour")
    page.get_by_role("button", name="Search themes").click()
    results = page.locator(".theme-card")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("$25.00 per person")
    results.get_by_role("link", name=theme.title).click()

    page.locator(f'label[for="slot-{slot.pk}"]').click()
    page.locator("input[name=party_size]").fill("3")
    page.get_by_role("button", name="Book 3 places").click()

    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    # localstripe's stand-in Card Element: plain inputs named by their placeholders.
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill("4242424242424242")
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10001")
    save_screenshot(page, "journey-1-checkout-card-form")
    page.get_by_role("button", name="Pay $75.00").click()

    # The webhook confirms the booking; the page polls until it has.
    expect(page.locator("#payment-done-heading")).to_have_text("Booking confirmed")
    booking = Booking.objects.get(customer__email="ada@example.com")
    assert (booking.status, booking.slot_id, booking.party_size, booking.amount) == (
        BookingStatus.CONFIRMED,
        slot.pk,
        3,
        7500,
    )
    assert Payment.objects.get(booking=booking).status == PaymentStatus.SUCCEEDED

    page.get_by_role("link", name="See my bookings").click()
    row = page.locator(f"#booking-{booking.pk}")
    expect(row.locator(".badge")).to_have_text("Confirmed")
    expect(row).to_contain_text("3 people · $75.00")
    save_screenshot(page, "journey-1-customer-registers-books-and-pays")


def test_checkout_after_a_failed_3d_secure_check_another_card_confirms_the_booking(site, page):
    """The checkout's 3-D Secure branch: the server answers requires_action, Stripe.js runs the check."""
    theme = ThemeFactory(title="Harbour Lights Escape Room", price=2500)
    slot = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=2))
    customer = UserFactory()
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)

    log_in(page, site, customer.email, next_path=f"/bookings/{booking.pk}/checkout/")
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(CARD_3DS)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    page.get_by_role("button", name="Pay $50.00").click()
    # localstripe's stand-in for the bank's 3-D Secure page: the customer fails it.
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#payment-error")).to_have_text(
        "The payment was not confirmed by your bank. Try again or use another card."
    )
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING_PAYMENT

    card.locator("input[placeholder=number]").fill(CARD_OK)
    page.get_by_role("button", name="Pay $50.00").click()

    expect(page.locator("#payment-done-heading")).to_have_text("Booking confirmed")
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


def test_journey_2_a_merchant_creates_a_theme_and_weekly_schedule_then_marks_attendance(site, page):
    merchant = MerchantFactory(name="Harbour Games", city="Porto", timezone="Europe/Lisbon")
    log_in(page, site, merchant.owner.email, next_path="/merchant/")
    expect(page.get_by_role("heading", name="Harbour Games")).to_be_visible()

    page.get_by_role("link", name="Create a theme").first.click()
    page.get_by_label("Title").fill("Lighthouse Cipher")
    page.get_by_label("Description").fill("Crack the keeper's code before the lamp goes out.")
    page.get_by_label("Duration (minutes)").fill("60")
    page.get_by_label("Price per person").fill("30.00")
    page.get_by_label("Smallest party").fill("2")
    page.get_by_label("Largest party").fill("6")
    page.get_by_role("button", name="Create theme").click()
    expect(page.get_by_text("Theme “Lighthouse Cipher” created")).to_be_visible()
    theme = Theme.objects.get(merchant=merchant, title="Lighthouse Cipher")
    assert (theme.price, theme.currency, theme.min_party, theme.max_party) == (3000, "usd", 2, 6)

    # Weekly schedule: Monday, Wednesday and Friday at 10:00 and 18:00 for a week
    # (any 7 days hold exactly one of each): a preview of 6 slots, then the real thing.
    page.get_by_role("link", name="Create a weekly schedule").click()
    first_day = timezone.localdate(timezone=merchant.tzinfo) + timedelta(days=1)
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Last day").fill((first_day + timedelta(days=6)).isoformat())
    for weekday in ("Monday", "Wednesday", "Friday"):
        page.get_by_label(weekday).check()
    page.get_by_label("Start times").fill("10:00, 18:00")
    page.get_by_label("Capacity (people per slot)").fill("8")
    page.get_by_role("button", name="Preview schedule").click()
    expect(page.locator("#preview-heading + p")).to_contain_text("6 slots will be created")
    expect(page.locator("tr.plan-create")).to_have_count(6)
    assert not Slot.objects.filter(theme=theme).exists()  # a preview creates nothing
    page.get_by_role("button", name="Create 6 slots").click()
    expect(page.get_by_text("Created 6 slots; skipped 0.")).to_be_visible()
    created = list(Slot.objects.filter(theme=theme))
    local = [timezone.localtime(s.starts_at, merchant.tzinfo) for s in created]
    assert sorted({t.strftime("%H:%M") for t in local}) == ["10:00", "18:00"]
    assert {t.weekday() for t in local} == {0, 2, 4}
    assert {s.capacity for s in created} == {8}

    # A customer books 3 places on one of the merchant's slots and pays, through
    # the services the checkout page uses (journey 1 does it in the browser).
    customer = UserFactory(full_name="Grace Hopper")
    now = timezone.now()
    slot = slot_create(theme=theme, starts_at=now + timedelta(hours=3), capacity=8)
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=3)
    pay_by_card(booking)
    # Attendance can only be marked once the slot has started, but neither the
    # pages nor slot_create open a slot in the past. Rather than wait three
    # hours, the clock "moves on": the ORM shifts the paid slot into the
    # started window (it began 30 minutes ago).
    Slot.objects.filter(pk=slot.pk).update(starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(minutes=30))

    page.get_by_role("link", name="Show past slots (attendance)").click()
    page.get_by_role("link", name=re.compile(r"^Participants")).click()
    row = page.locator(f"#booking-{booking.pk}")
    expect(row).to_contain_text("Grace Hopper")
    expect(row).to_contain_text(customer.email)
    expect(row.locator(".badge")).to_have_text("Confirmed")
    row.get_by_role("button", name="Mark Grace Hopper attended").click()

    expect(page.get_by_text("Grace Hopper marked attended.")).to_be_visible()
    expect(page.locator(f"#booking-{booking.pk} .badge")).to_have_text("Attended")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ATTENDED
    save_screenshot(page, "journey-2-merchant-schedule-and-attendance")


def test_journey_3_the_customer_reviews_the_theme_they_attended_and_its_rating_changes(site, page):
    theme = ThemeFactory(title="Lighthouse Cipher", merchant__name="Harbour Games")
    slot = SlotFactory(theme=theme, starts_at=timezone.now() - timedelta(days=1))
    earlier = UserFactory(full_name="Alan Turing")
    attend(earlier, theme, slot=slot)
    review_create(author=earlier, theme=theme, rating=2, comment="Too hard for us.")
    # Where journey 2 left the customer: marked attended by the merchant.
    customer = UserFactory(full_name="Grace Hopper")
    attend(customer, theme, slot=slot)

    log_in(page, site, customer.email, next_path=f"/themes/{theme.pk}/")
    rating = page.locator(".theme-facts dt:text-is('Rating') + dd")
    expect(rating).to_have_text("2.0 / 5 from 1 review")

    page.get_by_role("link", name="My bookings").click()
    page.get_by_role("link", name="Write a review").click()
    page.get_by_label("Rating").select_option("5")
    page.get_by_label("Comment").fill("The best hour of our trip: clever, fair, beautifully made.")
    page.get_by_role("button", name="Publish review").click()

    expect(page.get_by_text("Thank you: your review is saved.")).to_be_visible()
    expect(rating).to_have_text("3.5 / 5 from 2 reviews")
    expect(page.locator(".review-list")).to_contain_text("5 / 5 · Grace Hopper")
    assert Review.objects.get(author=customer, theme=theme).rating == 5
    save_screenshot(page, "journey-3-customer-reviews")


def test_journey_4_a_customer_cancels_a_paid_booking_before_the_cutoff_and_is_refunded(site, page):
    theme = ThemeFactory(title="Harbour Lights Escape Room", price=2500, cancellation_cutoff_hours=24)
    slot = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=3))
    customer = UserFactory(full_name="Ada Lovelace")
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)
    pay_by_card(booking)

    log_in(page, site, customer.email, next_path="/bookings/")
    page.get_by_role("link", name=f"Cancel booking #{booking.pk}").click()
    expect(page.locator("#refund-terms")).to_contain_text("You get a full refund of $50.00")
    page.get_by_role("button", name="Cancel booking").click()

    expect(page.get_by_text("A full refund of $50.00 is on its way to your card.")).to_be_visible()
    row = page.locator(f"#booking-{booking.pk}")
    expect(row.locator(".row > .badge")).to_have_text("Cancelled")
    expect(page.locator(f"#booking-{booking.pk}-refund")).to_have_text("Refunded $50.00 to the card you paid with.")

    booking.refresh_from_db()
    payment = Payment.objects.get(booking=booking)
    refund = payment.refunds.get()
    assert booking.status == BookingStatus.CANCELLED
    assert (refund.status, refund.amount, payment.status) == (RefundStatus.SUCCEEDED, 5000, PaymentStatus.REFUNDED)
    assert [(r["id"], r["amount"]) for r in refunds_for_intent(payment.stripe_payment_intent_id)] == [
        (refund.stripe_refund_id, 5000)
    ]
    save_screenshot(page, "journey-4-customer-cancels-and-is-refunded")
