"""A customer's cancellation under a tiered policy refunds the exact share, end to end through checkout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from bookings.models import BookingStatus
from bookwise.errors import DomainError
from bookwise.models import OutboxMessage
from catalog.tests.factories import SlotFactory
from checkout.services import booking_cancel_and_refund
from payments.ledger import booking_net, ledger_record_charge
from payments.models import LedgerEntry, LedgerKind, PaymentStatus, Refund
from payments.services import PROCESS_REFUND_TASK, refund_idempotency_key
from payments.tests.factories import SucceededPaymentFactory

pytestmark = pytest.mark.django_db

TIERED = [
    {"hours_before": 48, "refund_percent": 100},
    {"hours_before": 24, "refund_percent": 50},
    {"hours_before": 0, "refund_percent": 0},
]


def paid_booking(*, hours_ahead: float, policy=TIERED, price: int = 2999, currency: str = "eur"):
    start = timezone.now() + timedelta(hours=hours_ahead)
    slot = SlotFactory(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        theme__price=price,
        theme__currency=currency,
        theme__cancellation_policy=policy,
    )
    payment = SucceededPaymentFactory(
        booking__slot=slot, booking__party_size=1, booking__amount=price, booking__currency=currency
    )
    ledger_record_charge(payment=payment)
    return payment.booking, payment


def test_a_cancel_in_the_50_percent_tier_records_the_exact_partial_refund():
    booking, payment = paid_booking(hours_ahead=30)

    result = booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    refund = Refund.objects.get(payment=payment)
    assert refund.amount == 1500  # 50 % of 2999, half-even
    assert refund.idempotency_key == refund_idempotency_key(booking.pk)
    assert (result.refund_amount, result.refund_percent) == (1500, 50)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.refunded_amount == 1500
    assert result.booking.refunded_amount == 1500
    # The Stripe refund is queued with the recorded row (refund_process sends refund.amount).
    assert OutboxMessage.objects.filter(task_name=PROCESS_REFUND_TASK, args=[refund.pk]).exists()
    # Ledger: charge - refund; the platform keeps the fee on what it keeps.
    kinds = dict(
        LedgerEntry.objects.filter(booking_id=booking.pk)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    assert kinds[LedgerKind.REFUND] == -1500
    assert booking_net(booking_id=booking.pk) > 0  # the merchant still earns a share of the 1499 kept
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED  # a part only: not refunded in full


def test_a_cancel_in_the_full_tier_refunds_everything():
    booking, payment = paid_booking(hours_ahead=72)

    result = booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    assert Refund.objects.get(payment=payment).amount == 2999
    assert (result.refund_amount, result.refund_percent) == (2999, 100)
    assert booking_net(booking_id=booking.pk) == 0


def test_a_zero_percent_cancel_is_allowed_and_records_no_refund():
    booking, payment = paid_booking(hours_ahead=10)

    result = booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    assert result.booking.status == BookingStatus.CANCELLED
    assert result.refund_amount == 0
    assert result.payment_kept
    assert not Refund.objects.exists()
    booking.refresh_from_db()
    assert booking.refunded_amount == 0


def test_without_a_zero_tier_the_late_customer_is_refused():
    booking, _ = paid_booking(hours_ahead=10, policy=TIERED[:2])

    with pytest.raises(DomainError) as refused:
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    assert refused.value.code == "not_cancellable"
    assert not Refund.objects.exists()


def test_the_merchant_cancels_inside_the_zero_tier_with_a_full_refund():
    booking, payment = paid_booking(hours_ahead=10)

    result = booking_cancel_and_refund(booking_id=booking.pk, by=booking.slot.theme.merchant.owner)

    assert Refund.objects.get(payment=payment).amount == 2999
    assert (result.refund_amount, result.refund_percent) == (2999, 100)
    booking.refresh_from_db()
    assert booking.refunded_amount == 2999


def test_zero_decimal_currency_rounds_to_whole_yen():
    booking, payment = paid_booking(hours_ahead=30, price=1999, currency="jpy")

    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    assert Refund.objects.get(payment=payment).amount == 1000  # 999.5 -> 1000 (half-even)


def test_the_cancel_page_states_the_exact_refund_and_the_policy(client):
    booking, _ = paid_booking(hours_ahead=30)
    client.force_login(booking.customer)

    html = client.get(f"/bookings/{booking.pk}/cancel/").content.decode()

    assert "You will get €15.00 back (50 %)" in html
    assert "50 % refund; after that: no refund" in html

    html = client.post(f"/bookings/{booking.pk}/cancel/", follow=True).content.decode()
    assert "A refund of €15.00 (50 %)" in html


def test_the_cancelled_email_states_the_amount_refunded(mailoutbox, django_capture_on_commit_callbacks):
    from checkout.notifications import send_booking_cancelled_email

    booking, _ = paid_booking(hours_ahead=30)
    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    assert send_booking_cancelled_email(booking_id=booking.pk)

    body = mailoutbox[-1].body
    assert "A refund of €15.00 (of the €29.99 you paid, under the cancellation policy)" in body
