"""The late-payment rule at the slot's start (issue 16): a hold never outlives the start, and a payment
that Stripe reports after the start is refunded, never confirmed. Signed webhooks against localstripe.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus, BookingStatusChange
from bookings.services import booking_join
from catalog.tests.factories import SlotFactory
from payments import services
from payments.models import PaymentStatus, Refund, RefundStatus
from payments.tests.stripe_helpers import pay_intent, post_event, refunds_for_intent, retrieve_intent, stripe_event

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def test_a_card_paid_30_seconds_after_the_start_is_refunded_and_the_booking_not_confirmed(
    webhook_endpoint, django_capture_on_commit_callbacks, settings
):
    settings.BOOKING_HOLD_MINUTES = 15
    # The slot started 30 seconds ago; the customer booked it 4 minutes before the start and
    # paid just before it. Stripe's succeeded event reaches us now, after the start.
    starts_at = timezone.now() - timedelta(seconds=30)
    slot = SlotFactory(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        capacity=6,
        theme__price=2500,
        theme__currency="usd",
    )
    booked_at = starts_at - timedelta(minutes=4)
    booking = booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2, now=booked_at)
    assert booking.expires_at == starts_at  # not booked_at + 15 minutes, which is still to come
    payment = services.payment_intent_for_booking(
        booking_id=booking.pk, customer=booking.customer, now=booked_at + timedelta(minutes=1)
    ).payment
    pay_intent(payment.stripe_payment_intent_id)
    event = stripe_event("payment_intent.succeeded", retrieve_intent(payment.stripe_payment_intent_id))

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(webhook_endpoint, event).status_code == 200

    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert not BookingStatusChange.objects.filter(booking=booking, to_status=BookingStatus.CONFIRMED).exists()
    refund = Refund.objects.get(payment=payment)
    assert (refund.reason, refund.status, refund.amount) == ("late_payment", RefundStatus.SUCCEEDED, 5000)
    assert payment.status == PaymentStatus.REFUNDED
    assert [r["id"] for r in refunds_for_intent(payment.stripe_payment_intent_id)] == [refund.stripe_refund_id]
