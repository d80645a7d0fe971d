"""One end-to-end run per checkout flow; the behaviour in detail is covered by the tests of the lower apps."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import AdminFactory
from bookings.models import BookingStatus, BookingStatusChange
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.models import OutboxMessage
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory
from checkout import services
from merchants.models import MerchantStatus
from payments.models import Payment, PaymentStatus, Refund
from payments.services import ApplyOutcome
from payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def paid_booking(slot=None):
    booking = ConfirmedBookingFactory(slot=slot or SlotFactory())
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
    return booking


def succeeded_intent(payment: Payment) -> dict:
    """A PaymentIntent as Stripe shows it once paid (what the webhook and reconciliation re-read)."""
    return {
        "id": payment.stripe_payment_intent_id,
        "status": "succeeded",
        "amount": payment.amount,
        "amount_received": payment.amount,
        "currency": payment.currency,
        "livemode": False,
        "metadata": {"booking_id": str(payment.booking_id)},
    }


def queued() -> list[tuple[str, int]]:
    return sorted((m.task_name, m.args[0]) for m in OutboxMessage.objects.all())


def test_cancelling_a_paid_booking_records_its_refund_and_queues_the_email_in_one_transaction():
    booking = paid_booking()

    result = services.booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    refund = Refund.objects.get(payment__booking=booking)
    assert (result.booking.status, result.refund_amount) == (BookingStatus.CANCELLED, booking.amount)
    assert refund.reason == "customer_cancel"
    assert queued() == [
        ("checkout.tasks.send_booking_cancelled", booking.pk),
        ("payments.tasks.process_refund", refund.pk),
    ]


def test_cancelling_a_slot_cancels_and_refunds_its_bookings():
    slot = SlotFactory()
    paid, hold = paid_booking(slot), BookingFactory(slot=slot)

    locked, cancelled = services.slot_cancel_and_refund(slot=slot, by=slot.theme.merchant.owner)

    assert (locked.status, cancelled) == (SlotStatus.CANCELLED, 2)
    assert {paid.pk, hold.pk} == set(
        BookingStatusChange.objects.filter(to_status=BookingStatus.CANCELLED).values_list("booking_id", flat=True)
    )
    assert Refund.objects.get().reason == "merchant_cancel"


def test_suspending_a_merchant_and_cancelling_refunds_the_upcoming_bookings():
    booking = paid_booking()
    merchant = booking.slot.theme.merchant

    result = services.merchant_suspend(
        merchant=merchant, by=AdminFactory(), reason="Fraud reports.", keep_bookings=False
    )

    assert (result.merchant.status, result.cancelled, result.refunded) == (MerchantStatus.SUSPENDED, 1, 1)
    assert result.merchant.owner.role == Role.CUSTOMER
    assert ("merchants.tasks.send_merchant_suspended", merchant.pk) in queued()


def test_a_succeeded_intent_confirms_its_booking():
    payment = PaymentFactory(booking=BookingFactory())

    assert services.payment_intent_apply(intent=succeeded_intent(payment)) == ApplyOutcome.CONFIRMED

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.booking.status == BookingStatus.CONFIRMED


def test_a_succeeded_intent_for_a_cancelled_booking_is_refunded():
    payment = PaymentFactory(booking=BookingFactory())
    services.booking_cancel_and_refund(booking_id=payment.booking_id, by=payment.booking.customer)

    assert services.payment_intent_apply(intent=succeeded_intent(payment)) == ApplyOutcome.REFUND

    assert Refund.objects.get(payment=payment).reason == "cancelled"
    assert Payment.objects.get(pk=payment.pk).booking.status == BookingStatus.CANCELLED


def test_an_intent_of_no_payment_of_ours_is_ignored():
    assert services.payment_intent_apply(intent={"id": "pi_not_ours", "status": "succeeded"}) == ApplyOutcome.IGNORED
