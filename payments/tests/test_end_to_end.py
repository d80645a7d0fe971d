"""The whole journey with a real localstripe delivering signed webhooks to a live server.

booking -> POST /api/v1/payments/create/ -> the customer's card (what Stripe.js
does, here with the SDK) -> localstripe sends `payment_intent.*` to
dj-stripe's endpoint on the live server -> the booking's new status.
"""

from datetime import timedelta

import pytest

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join, bookings_expire_due
from conftest import bearer_client
from payments.models import Payment, PaymentStatus
from payments.stripe_setup import ensure_webhook_endpoint
from payments.tests.stripe_helpers import CARD_DECLINED, CARD_OK, pay_intent
from tests.concurrency import wait_for

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def journey(localstripe, localstripe_delivers_to, paid_slot):
    localstripe_delivers_to(ensure_webhook_endpoint())
    customer = UserFactory()
    booking = booking_join(slot_id=paid_slot.pk, customer=customer, party_size=2)
    response = bearer_client(customer).post("/api/v1/payments/create/", {"booking": booking.pk})
    assert response.status_code == 201, response.content
    return booking, response.json()


def test_paying_with_a_good_card_confirms_the_booking(journey):
    booking, payment = journey

    intent = pay_intent(payment["payment_intent_id"], card=CARD_OK)

    assert intent.status == "succeeded"
    assert wait_for(lambda: Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED)
    stored = Payment.objects.get(booking=booking)
    assert (stored.status, stored.amount) == (PaymentStatus.SUCCEEDED, 5000)


def test_a_declined_card_leaves_the_booking_pending_until_it_expires(journey):
    booking, payment = journey

    with pytest.raises(Exception, match="declined"):
        pay_intent(payment["payment_intent_id"], card=CARD_DECLINED)

    assert wait_for(lambda: Payment.objects.get(booking=booking).status == PaymentStatus.FAILED)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert "declined" in Payment.objects.get(booking=booking).last_error

    bookings_expire_due(now=booking.expires_at + timedelta(seconds=1))

    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
