"""Issue 16, correctness: a hold never outlives its slot's start, and the cancellation policy is told up front.

The policy text comes from one function (bookings.policy.cancellation_policy)
for the booking form (catalog/tests/test_issue16_catalog.py), the checkout and
the confirmation email (here).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services, views
from bookings.models import BookingStatus, BookingStatusChange
from bookings.notifications import send_booking_confirmed_email
from bookings.policy import cancellation_policy, time_until_in_words
from catalog.tests.factories import SlotFactory
from payments.models import Payment, PaymentStatus
from payments.services import IntentResult

pytestmark = pytest.mark.django_db


def slot_starting_in(delta: timedelta, **theme):
    starts_at = timezone.now() + delta
    theme = {"price": 2500, "currency": "usd", "cancellation_cutoff_hours": 24, **theme}
    return SlotFactory(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        capacity=6,
        **{f"theme__{key}": value for key, value in theme.items()},
    )


# --- The hold ends at the latest when the slot starts -------------------------------------------


def test_join_four_minutes_before_the_start_holds_until_the_start_not_for_fifteen_minutes(settings):
    settings.BOOKING_HOLD_MINUTES = 15
    slot = slot_starting_in(timedelta(minutes=4))

    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert booking.expires_at == slot.starts_at


def test_join_well_before_the_start_keeps_the_full_hold(settings):
    settings.BOOKING_HOLD_MINUTES = 15
    slot = slot_starting_in(timedelta(hours=3))
    now = timezone.now()

    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2, now=now)

    assert booking.expires_at == now + timedelta(minutes=15)


def test_a_payment_landing_after_the_start_must_be_refunded_and_confirms_nothing():
    slot = slot_starting_in(timedelta(minutes=4))
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    outcome = services.booking_confirm_payment(booking_id=booking.pk, now=slot.starts_at + timedelta(seconds=30))

    assert outcome == services.ConfirmOutcome.MUST_REFUND
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert not BookingStatusChange.objects.filter(booking=booking, to_status=BookingStatus.CONFIRMED).exists()


def test_a_hold_running_past_the_start_by_its_own_clock_is_still_refunded_once_the_slot_started():
    """A hold made before holds were cut short at the start: its clock says unpaid-but-valid, the slot says no."""
    slot = slot_starting_in(timedelta(minutes=4))
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)
    booking.expires_at = slot.starts_at + timedelta(minutes=11)
    booking.save(update_fields=["expires_at"])

    outcome = services.booking_confirm_payment(booking_id=booking.pk, now=slot.starts_at + timedelta(seconds=30))

    assert outcome == services.ConfirmOutcome.MUST_REFUND
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    change = BookingStatusChange.objects.get(booking=booking, to_status=BookingStatus.EXPIRED)
    assert change.reason == "slot started before payment"


def test_a_payment_just_before_the_start_still_confirms():
    slot = slot_starting_in(timedelta(minutes=4))
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    outcome = services.booking_confirm_payment(booking_id=booking.pk, now=slot.starts_at - timedelta(seconds=1))

    assert outcome == services.ConfirmOutcome.CONFIRMED


# --- The policy in words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=1, seconds=59), "1 minute"),
        (timedelta(minutes=4, seconds=30), "4 minutes"),
        (timedelta(minutes=61), "1 hour"),
        (timedelta(hours=3, minutes=59), "3 hours"),
        (timedelta(hours=47), "47 hours"),
        (timedelta(days=3, hours=5), "3 days"),
    ],
)
def test_time_until_in_words_rounds_down(delta, words):
    assert time_until_in_words(delta) == words


def test_policy_inside_the_cutoff_warns_with_how_soon_it_starts():
    now = datetime(2030, 7, 4, 12, 0, tzinfo=UTC)

    policy = cancellation_policy(
        starts_at=now + timedelta(minutes=4), cutoff_hours=24, paid=True, tz_name="Europe/Berlin", now=now
    )

    assert not policy.refundable
    assert policy.text == "This booking cannot be cancelled for a refund"
    assert policy.warning == "Starts in 4 minutes: this booking cannot be cancelled for a refund."


def test_policy_outside_the_cutoff_gives_the_last_free_cancellation_in_the_merchants_time():
    now = datetime(2030, 7, 1, 12, 0, tzinfo=UTC)
    starts_at = datetime(2030, 7, 4, 16, 0, tzinfo=UTC)  # 18:00 in Berlin (CEST)

    policy = cancellation_policy(starts_at=starts_at, cutoff_hours=24, paid=True, tz_name="Europe/Berlin", now=now)

    assert policy.refundable
    assert policy.warning == ""
    assert policy.text == "Free cancellation until Wednesday 3 July 2030, 18:00 (Europe/Berlin)"


def test_policy_agrees_with_the_cancel_rule_at_the_deadline():
    slot = slot_starting_in(timedelta(hours=30))
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)
    services.booking_confirm_payment(booking_id=booking.pk)
    booking.refresh_from_db()
    deadline = slot.starts_at - timedelta(hours=24)
    for now in (deadline, deadline + timedelta(seconds=1)):
        terms = services.booking_cancel_terms(booking=booking, by=booking.customer, now=now)
        policy = cancellation_policy(
            starts_at=slot.starts_at, cutoff_hours=24, paid=True, tz_name="Europe/Lisbon", now=now
        )
        assert terms.allowed == terms.refund == policy.refundable


def test_a_free_booking_has_nothing_to_warn_about():
    now = timezone.now()
    policy = cancellation_policy(
        starts_at=now + timedelta(minutes=4), cutoff_hours=24, paid=False, tz_name="Europe/Lisbon", now=now
    )
    assert policy.refundable
    assert policy.warning == ""


# --- The checkout -----------------------------------------------------------------------------


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def intents(monkeypatch):
    """The checkout's PaymentIntent, without Stripe (payments/tests covers that part against localstripe)."""

    def fake_intent_for_booking(*, booking_id, customer, client_key="", now=None):
        payment = Payment(
            booking_id=booking_id,
            stripe_payment_intent_id=f"pi_test_{booking_id}",
            client_secret=f"pi_test_{booking_id}_secret_abc",
            amount=5000,
            currency="usd",
            status=PaymentStatus.REQUIRES_PAYMENT,
        )
        return IntentResult(payment=payment, created=True)

    monkeypatch.setattr(views, "payment_intent_for_booking", fake_intent_for_booking)


def test_checkout_close_to_the_start_counts_down_to_the_start_and_warns_before_paying(web, customer, intents):
    slot = slot_starting_in(timedelta(minutes=4, seconds=30), merchant__timezone="Europe/Lisbon")
    booking = services.booking_join(slot_id=slot.pk, customer=customer, party_size=2)

    html = web.get(reverse("portal:checkout", args=[booking.pk])).content.decode()

    start = timezone.localtime(slot.starts_at, slot.theme.merchant.tzinfo).strftime("%H:%M")
    assert 'data-limit="start"' in html
    assert "the slot starts at <time datetime=" in html
    assert f">{start}</time>, so it must be paid before then" in html
    assert "Starts in 4 minutes: this booking cannot be cancelled for a refund." in html
    # The countdown itself ends at the start: at most 4:30, not 15:00.
    assert "15:00" not in html
    assert html.index("cannot be cancelled for a refund") < html.index('id="pay-button"')


def test_checkout_far_from_the_start_keeps_the_hold_wording_and_names_the_free_cancellation(web, customer, intents):
    slot = slot_starting_in(timedelta(days=3))
    booking = services.booking_join(slot_id=slot.pk, customer=customer, party_size=2)

    html = web.get(reverse("portal:checkout", args=[booking.pk])).content.decode()

    assert 'data-limit="start"' not in html
    assert "If you have not paid by then, the places are released" in html
    assert "Free cancellation until " in html
    assert "cannot be cancelled for a refund" not in html


# --- The confirmation email -------------------------------------------------------------------


def confirmed_email(booking, mailoutbox):
    assert send_booking_confirmed_email(booking_id=booking.pk)
    (message,) = mailoutbox
    ((html, _),) = message.alternatives
    return message.body, html


def test_confirmation_email_names_the_last_free_cancellation_in_the_merchants_time(mailoutbox):
    starts_at = datetime(2030, 7, 4, 22, 30, tzinfo=UTC)  # 18:30 in New York
    slot = SlotFactory(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        theme__price=2500,
        theme__cancellation_cutoff_hours=48,
        theme__merchant__timezone="America/New_York",
    )
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)
    services.booking_confirm_payment(booking_id=booking.pk)

    text, html = confirmed_email(booking, mailoutbox)

    expected = "Free cancellation until Tuesday 2 July 2030, 18:30 (America/New_York)."
    assert f"Cancellation: {expected}" in text
    assert expected in html


def test_confirmation_email_of_a_booking_inside_the_cutoff_says_it_cannot_be_refunded(mailoutbox):
    slot = slot_starting_in(timedelta(hours=3))
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)
    services.booking_confirm_payment(booking_id=booking.pk)

    text, html = confirmed_email(booking, mailoutbox)

    assert "Cancellation: This booking cannot be cancelled for a refund." in text
    assert "This booking cannot be cancelled for a refund." in html
