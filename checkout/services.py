"""The flows that cross apps: a booking meets its payment, refunds follow cancellations.

Each flow composes the domain halves of the lower apps inside ONE
``transaction.atomic()``, so the booking, the payment and the refund change
together or not at all:

- cancel a booking with its refund (:func:`booking_cancel_and_refund`);
- cancel a slot with its bookings and refunds (:func:`slot_cancel_and_refund`);
- suspend a merchant, cancelling and refunding its upcoming bookings (:func:`merchant_suspend`);
- apply a PaymentIntent read from Stripe, confirming the booking or refunding a
  payment it cannot take (:func:`payment_intent_apply`, from the webhook
  :func:`payment_intent_apply_event` and reconciliation :func:`payment_reconcile`).

Lock order, the same in every flow (see bookings.services and payments.services):
merchant row, slot row, booking rows (pk order), payment row, refund row. Each
row is locked by the function of the app that owns it; the halves that rely on
this transaction start with ``require_atomic()``. No Stripe call and no email
runs inside it: refunds and emails are queued through bookwise.outbox and go
out after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from bookings.merchant_notifications import merchant_notice_record
from bookings.models import (
    CANCEL_REASON_MERCHANT_SUSPENDED,
    CANCEL_REASON_SLOT_CANCELLED,
    Booking,
    BookingStatus,
    MerchantBookingEvent,
)
from bookings.services import ConfirmOutcome, booking_cancel, booking_confirm_payment, booking_lock_with_slot
from bookwise import outbox
from catalog.models import Slot
from catalog.services import slot_mark_cancelled, slots_lock_upcoming
from checkout.selectors import slot_bookings_to_cancel, suspension_affected_bookings
from merchants.models import Merchant
from merchants.services import merchant_mark_suspended, merchant_suspension_announce
from payments.models import Payment
from payments.services import (
    ApplyOutcome,
    payment_apply_intent,
    payment_id_for_intent,
    payment_read_intent,
    payment_read_intent_event,
    payment_refund_for_booking,
    payment_refund_record,
    payment_sync_finish,
)

logger = logging.getLogger(__name__)

# Dispatched by name through bookwise.outbox: a services module imports no tasks module.
SEND_CANCELLED_TASK = "checkout.tasks.send_booking_cancelled"


# --- Cancelling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelResult:
    """What a cancel did, decided under the booking row lock: say this, not the terms shown beforehand."""

    booking: Booking
    refund_amount: int = 0  # minor units of the refund recorded for this booking; 0 when nothing was paid


def booking_cancel_and_refund(
    *, booking_id: int, by: User | None, reason: str = "", now: datetime | None = None
) -> CancelResult:
    """Cancel a booking and free its seats; a paid booking is refunded in full.

    The rule is bookings.services.booking_cancel_terms, applied under the
    booking row lock. Caller has already checked that `by` may see the booking.
    A payment still in flight is refunded when it lands
    (bookings.services.booking_confirm_payment answers MUST_REFUND for a
    cancelled booking, see :func:`payment_intent_apply`).
    """
    now = now or timezone.now()
    with transaction.atomic():
        return _cancel_and_refund(booking_id=booking_id, by=by, reason=reason, now=now)


def _cancel_and_refund(*, booking_id: int, by: User | None, reason: str, now: datetime) -> CancelResult:
    """Booking row, then payment row: the lock order. Caller holds the transaction (and any slot lock first)."""
    cancelled = booking_cancel(booking_id=booking_id, by=by, reason=reason, now=now)
    booking = cancelled.booking
    refund = None
    if booking.amount > 0:
        # Records a refund of any succeeded payment in this transaction; Stripe is called after commit.
        refund = payment_refund_for_booking(
            booking_id=booking.pk, reason="merchant_cancel" if cancelled.by_merchant else "customer_cancel"
        )
    outbox.enqueue(SEND_CANCELLED_TASK, booking.pk)
    merchant_notice_record(booking_id=booking.pk, event=MerchantBookingEvent.CANCELLED, by=by, reason=reason)
    return CancelResult(booking=booking, refund_amount=refund.amount if refund is not None else 0)


def slot_cancel_and_refund(*, slot: Slot, by: User, now: datetime | None = None) -> tuple[Slot, int]:
    """Cancel a slot and every active booking on it; paid ones are refunded in full.

    Returns the slot and the number of bookings cancelled. The slot row is
    locked first, then each booking in pk order, then its payment.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked, changed = slot_mark_cancelled(slot_id=slot.pk)
        if not changed:
            return locked, 0
        active_ids = slot_bookings_to_cancel(slot_id=locked.pk, now=now)
        for booking_id in active_ids:
            _cancel_and_refund(booking_id=booking_id, by=by, reason=CANCEL_REASON_SLOT_CANCELLED, now=now)
    return locked, len(active_ids)


@dataclass(frozen=True)
class SuspendResult:
    merchant: Merchant
    cancelled: int = 0  # upcoming bookings cancelled (when the admin chose not to keep them)
    refunded: int = 0  # of which had a payment, refunded in full


def merchant_suspend(
    *, merchant: Merchant, by: User, reason: str, keep_bookings: bool = True, now: datetime | None = None
) -> SuspendResult:
    """approved -> suspended, with a reason the merchant is told by email; the owner goes back to `customer`.

    The merchant's themes leave the public catalog (it lists approved merchants'
    themes only) and nothing new can be booked. The upcoming bookings are either
    kept (`keep_bookings`: the owner still sees their participants and marks
    attendance, merchants.permissions.user_serves_kept_bookings) or cancelled
    and refunded in full like :func:`booking_cancel_and_refund`, each with the
    usual cancellation email. All in one transaction. Suspending twice changes
    nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked, changed = merchant_mark_suspended(
            merchant=merchant, by=by, reason=reason, keep_bookings=keep_bookings, now=now
        )
        if not changed:
            return SuspendResult(merchant=locked)
        # Wait out the joins in flight on its slots (they read the merchant as approved), and make
        # later ones wait for this commit: the list below then misses no booking.
        slots_lock_upcoming(merchant_id=locked.pk, now=now)
        cancelled, refunded = 0, 0
        if not keep_bookings:
            ids = (
                suspension_affected_bookings(merchant_id=locked.pk, now=now).order_by("pk").values_list("pk", flat=True)
            )
            for booking_id in list(ids):
                result = _cancel_and_refund(
                    booking_id=booking_id, by=by, reason=CANCEL_REASON_MERCHANT_SUSPENDED, now=now
                )
                cancelled += 1
                refunded += result.refund_amount > 0
        merchant_suspension_announce(merchant_id=locked.pk)
    logger.info("merchant %s suspended by %s (%s bookings cancelled)", locked.pk, by.pk, cancelled)
    return SuspendResult(merchant=locked, cancelled=cancelled, refunded=refunded)


# --- Confirming from a payment ----------------------------------------------------------------


def payment_intent_apply(*, intent: Mapping[str, Any], now: datetime | None = None, reported_failure: str = "") -> str:
    """Apply the state of a PaymentIntent as read from Stripe (webhook re-read, reconciliation). Idempotent.

    Never pass a webhook payload here: :func:`payment_intent_apply_event` re-reads
    it first. payments.services.payment_apply_intent moves the payment; when it
    answers ``succeeded`` the booking is confirmed
    (bookings.services.booking_confirm_payment), or, when the booking cannot
    take the money (the hold ran out and the seats are gone, the slot started,
    the booking was cancelled), the payment is refunded in full. Runs inside
    the caller's transaction when there is one (dj-stripe's webhook
    transaction). Answers one of payments.services.ApplyOutcome.
    """
    now = now or timezone.now()
    payment_id = payment_id_for_intent(intent=intent)
    if payment_id is None:
        logger.info("ignoring PaymentIntent %s: no payment of ours", intent.get("id"))
        return ApplyOutcome.IGNORED
    with transaction.atomic():
        if intent.get("status") != "succeeded":
            return payment_apply_intent(
                payment_id=payment_id, intent=intent, now=now, reported_failure=reported_failure
            )
        booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
        booking_lock_with_slot(booking_id=booking_id)  # slot, booking: before the payment row
        outcome = payment_apply_intent(payment_id=payment_id, intent=intent, now=now, reported_failure=reported_failure)
        if outcome != ApplyOutcome.SUCCEEDED:
            return outcome  # mismatch, or a refund already decided
        confirmed = booking_confirm_payment(booking_id=booking_id, now=now)
        if confirmed == ConfirmOutcome.MUST_REFUND:
            cancelled = Booking.objects.filter(pk=booking_id, status=BookingStatus.CANCELLED).exists()
            payment_refund_record(payment_id=payment_id, reason="cancelled" if cancelled else "late_payment")
            return ApplyOutcome.REFUND
        return confirmed.value


def payment_intent_apply_event(*, intent: Mapping[str, Any], now: datetime | None = None) -> str:
    """A verified ``payment_intent.*`` webhook: apply the intent as Stripe shows it now, not as the payload says.

    Raises payments.gateway.StripeUnavailable when Stripe cannot be reached:
    the webhook fails (503), dj-stripe keeps nothing and Stripe delivers the
    event again. Runs inside dj-stripe's webhook transaction but before any row
    lock of ours is taken.
    """
    now = now or timezone.now()
    payment_id = payment_id_for_intent(intent=intent)
    if payment_id is None:
        logger.info("ignoring PaymentIntent %s: no payment of ours", intent.get("id"))
        return ApplyOutcome.IGNORED
    read = payment_read_intent_event(payment_id=payment_id, payload=intent, now=now)
    if read.intent is None:
        return read.outcome
    return payment_intent_apply(intent=read.intent, now=now, reported_failure=read.reported_failure)


def payment_reconcile(*, payment_id: int, now: datetime | None = None) -> str:
    """Re-read a payment's intent from Stripe and apply it (reconciliation). Raises StripeUnavailable."""
    now = now or timezone.now()
    read = payment_read_intent(payment_id=payment_id, now=now)
    if read.intent is None:
        return read.outcome
    outcome = payment_intent_apply(intent=read.intent, now=now)
    payment_sync_finish(payment_id=payment_id, intent=read.intent, outcome=outcome, now=now)
    return outcome
