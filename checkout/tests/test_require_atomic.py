"""The domain halves the checkout flows compose rely on the flow's transaction: outside one they refuse at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bookings import merchant_notifications
from bookings import services as booking_services
from bookings.models import MerchantBookingEvent
from bookwise.transactions import NotInTransaction
from catalog import services as catalog_services
from merchants import services as merchant_services
from payments import services as payment_services

NOW = datetime(2030, 1, 1, tzinfo=UTC)

# Each call names ids that need not exist: the guard refuses before any query.
HALVES = {
    "bookings.booking_cancel": lambda: booking_services.booking_cancel(booking_id=1, by=None),
    "bookings.booking_lock_with_slot": lambda: booking_services.booking_lock_with_slot(booking_id=1),
    "bookings.merchant_notice_record": lambda: merchant_notifications.merchant_notice_record(
        booking_id=1, event=MerchantBookingEvent.CANCELLED
    ),
    "catalog.slot_mark_cancelled": lambda: catalog_services.slot_mark_cancelled(slot_id=1),
    "merchants.merchant_mark_suspended": lambda: merchant_services.merchant_mark_suspended(
        merchant=None, by=None, reason="Fraud.", keep_bookings=False, now=NOW
    ),
    "merchants.merchant_suspension_announce": lambda: merchant_services.merchant_suspension_announce(merchant_id=1),
    "payments.payment_apply_intent": lambda: payment_services.payment_apply_intent(
        payment_id=1, intent={"id": "pi_x", "status": "succeeded"}, now=NOW
    ),
    "payments.payment_refund_for_booking": lambda: payment_services.payment_refund_for_booking(
        booking_id=1, reason="customer_cancel"
    ),
    "payments.payment_refund_record": lambda: payment_services.payment_refund_record(
        payment_id=1, reason="late_payment"
    ),
}


@pytest.mark.parametrize("name", sorted(HALVES))
def test_a_domain_half_called_outside_a_transaction_refuses(name):
    with pytest.raises(NotInTransaction):
        HALVES[name]()


def test_the_guard_lets_the_same_call_run_inside_a_transaction(db):
    """Inside a transaction the half runs (and here finds no such slot): the guard was the only refusal."""
    from catalog.models import Slot

    with pytest.raises(Slot.DoesNotExist):
        catalog_services.slot_mark_cancelled(slot_id=10**12)
