"""`booking_cancel_terms` is the rule `booking_cancel` applies: what the pages promise is what happens."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.services import booking_cancel_terms
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.errors import DomainError
from catalog.tests.factories import SlotFactory
from checkout.services import booking_cancel_and_refund

pytestmark = pytest.mark.django_db


def _slot(hours_ahead: float, *, cutoff: int = 24, price: int = 2500):
    start = timezone.now() + timedelta(hours=hours_ahead)
    return SlotFactory(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        theme__cancellation_cutoff_hours=cutoff,
        theme__price=price,
    )


SCENARIOS = {
    "paid, before the cutoff": (lambda: ConfirmedBookingFactory(slot=_slot(48)), True, True),
    "paid, after the cutoff": (lambda: ConfirmedBookingFactory(slot=_slot(5)), False, False),
    "free, after the cutoff": (lambda: ConfirmedBookingFactory(slot=_slot(5, price=0), amount=0), True, False),
    "unpaid hold": (lambda: BookingFactory(slot=_slot(5)), True, False),
    "hold run out": (lambda: BookingFactory(expires_at=timezone.now() - timedelta(seconds=1)), False, False),
    "already cancelled": (lambda: BookingFactory(status=BookingStatus.CANCELLED), False, False),
    "attended": (lambda: ConfirmedBookingFactory(status=BookingStatus.ATTENDED), False, False),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_terms_for_the_customer_match_what_booking_cancel_does(scenario):
    make, allowed, refund = SCENARIOS[scenario]
    booking = make()

    terms = booking_cancel_terms(booking=booking, by=booking.customer)

    assert (terms.allowed, terms.refund) == (allowed, refund)
    if allowed:
        result = booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
        assert result.booking.status == BookingStatus.CANCELLED
    else:
        assert terms.reason
        with pytest.raises(DomainError) as refused:
            booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
        assert refused.value.code == "not_cancellable"
        assert refused.value.message == terms.reason


def test_the_merchant_may_cancel_after_the_customer_cutoff_and_always_refunds():
    booking = ConfirmedBookingFactory(slot=_slot(5))
    merchant = booking.slot.theme.merchant.owner

    terms = booking_cancel_terms(booking=booking, by=merchant)

    assert (terms.allowed, terms.refund) == (True, True)
    assert not booking_cancel_terms(booking=booking, by=UserFactory()).allowed  # a stranger gets customer rules


def test_refund_deadline_is_the_cutoff_before_the_start():
    booking = ConfirmedBookingFactory(slot=_slot(48, cutoff=24))

    terms = booking_cancel_terms(booking=booking, by=booking.customer)

    assert terms.refund_deadline == booking.slot.starts_at - timedelta(hours=24)
