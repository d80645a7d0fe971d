"""The flows that cross apps: a booking meets its payment, refunds follow cancellations.

Each flow composes the domain halves of the lower apps inside ONE
``transaction.atomic()``, so the booking, the payment and the refund change
together or not at all:

- cancel a booking with its refund (:func:`booking_cancel_and_refund`);
- cancel a slot with its bookings and refunds (:func:`slot_cancel_and_refund`);
- suspend a merchant, cancelling and refunding its upcoming bookings (:func:`merchant_suspend`);
- cancel the slots that did not reach their minimum players by the deadline (:func:`slots_cancel_below_minimum`);
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
    CANCEL_REASON_MINIMUM_NOT_REACHED,
    CANCEL_REASON_SLOT_CANCELLED,
    Booking,
    BookingStatus,
    MerchantBookingEvent,
)
from bookings.services import (
    ConfirmOutcome,
    booking_cancel,
    booking_confirm_payment,
    booking_lock_with_slot,
    booking_move,
    booking_set_refunded,
    slot_lock_below_minimum,
)
from bookings.waitlist import waitlist_close_for_slots, waitlist_lock_slot_of_booking, waitlist_offer_freed_seats
from bookwise import outbox
from bookwise.errors import DomainError
from catalog.models import Slot
from catalog.services import slot_mark_cancelled, slots_lock_upcoming
from checkout.selectors import slot_bookings_to_cancel, slots_below_minimum_due, suspension_affected_bookings
from merchants.models import Merchant
from merchants.services import merchant_mark_suspended, merchant_suspension_announce
from payments.models import Payment, PaymentStatus
from payments.services import (
    ApplyOutcome,
    payment_apply_intent,
    payment_id_for_intent,
    payment_read_intent,
    payment_read_intent_event,
    payment_refund_for_booking,
    payment_refund_part_for_booking,
    payment_refund_record,
    payment_refunded_total,
    payment_sync_finish,
    reschedule_refund_idempotency_key,
)

logger = logging.getLogger(__name__)

# Dispatched by name through bookwise.outbox: a services module imports no tasks module.
SEND_CANCELLED_TASK = "checkout.tasks.send_booking_cancelled"
SEND_MINIMUM_NOT_REACHED_TASK = "checkout.tasks.send_slot_minimum_not_reached"
# Slots one sweep run cancels at most; the rest wait for the next run (each is one transaction).
MINIMUM_SWEEP_LIMIT = 200


# --- Cancelling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelResult:
    """What a cancel did, decided under the booking row lock: say this, not the terms shown beforehand."""

    booking: Booking
    refund_amount: int = 0  # minor units of the refund recorded for this booking; 0 when nothing was paid
    refund_percent: int = 0  # of what was paid, by the theme's cancellation policy (100 for a merchant's cancel)
    payment_kept: bool = False  # a succeeded payment the policy refunds nothing of (a 0 % cancellation)


def booking_cancel_and_refund(
    *, booking_id: int, by: User | None, reason: str = "", now: datetime | None = None
) -> CancelResult:
    """Cancel a booking and free its seats; a paid booking is refunded as its terms say.

    The rule is bookings.services.booking_cancel_terms, applied under the
    booking row lock: a customer gets the percent of the theme's cancellation
    policy (the exact amount, possibly a part or nothing), a merchant or admin
    cancel refunds in full. Caller has already checked that `by` may see the booking.
    A payment still in flight is refunded when it lands
    (bookings.services.booking_confirm_payment answers MUST_REFUND for a
    cancelled booking, see :func:`payment_intent_apply`).
    """
    now = now or timezone.now()
    with transaction.atomic():
        # The slot first (the lock order), so the seats freed go to its waitlist in this transaction.
        slot = waitlist_lock_slot_of_booking(booking_id=booking_id)
        result = _cancel_and_refund(booking_id=booking_id, by=by, reason=reason, now=now)
        if slot is not None:
            waitlist_offer_freed_seats(slot=slot, now=now)
        return result


def _cancel_and_refund(
    *, booking_id: int, by: User | None, reason: str, now: datetime, automatic: bool = False
) -> CancelResult:
    """Booking row, then payment row: the lock order. Caller holds the transaction (and any slot lock first).

    `automatic`: the platform cancels with no user (merchant rules: always allowed before the end, full refund).
    """
    cancelled = booking_cancel(booking_id=booking_id, by=by, reason=reason, now=now, automatic=automatic)
    booking = cancelled.booking
    refund = None
    # refund_amount None: the booking was not paid, any payment found is refunded in full; 0: the policy gives nothing.
    if booking.amount > 0 and cancelled.refund_amount != 0:
        # Records the refund of the succeeded payment in this transaction (the exact amount, under the
        # booking's "booking-<id>-refund" key); Stripe is called after commit with that amount.
        refund = payment_refund_for_booking(
            booking_id=booking.pk,
            reason="merchant_cancel" if cancelled.by_merchant else "customer_cancel",
            amount=cancelled.refund_amount,
        )
        if refund is not None:
            booking_set_refunded(booking=booking, refunded_amount=payment_refunded_total(booking_id=booking.pk))
    outbox.enqueue(SEND_CANCELLED_TASK, booking.pk)
    merchant_notice_record(booking_id=booking.pk, event=MerchantBookingEvent.CANCELLED, by=by, reason=reason)
    return CancelResult(
        booking=booking,
        refund_amount=refund.amount if refund is not None else 0,
        refund_percent=cancelled.refund_percent if refund is not None else 0,
        payment_kept=cancelled.refund_amount == 0
        and Payment.objects.filter(booking_id=booking.pk, status=PaymentStatus.SUCCEEDED).exists(),
    )


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
        waitlist_close_for_slots(slot_ids=[locked.pk])
    return locked, len(active_ids)


def slots_cancel_below_minimum(*, now: datetime | None = None, limit: int = MINIMUM_SWEEP_LIMIT) -> int:
    """Periodic sweep: cancel each open slot past its minimum-players deadline still below the minimum.

    Each slot is cancelled by :func:`slot_cancel_below_minimum` in a
    transaction of its own. Safe to run twice and concurrently: each slot is
    re-checked under its row lock, so a second sweep finds it cancelled and
    does nothing; themes with no minimum (1, the default) are never read.
    Returns the number of slots cancelled.
    """
    now = now or timezone.now()
    cancelled = 0
    for slot_id in slots_below_minimum_due(now=now, limit=limit):
        if slot_cancel_below_minimum(slot_id=slot_id, now=now) is not None:
            cancelled += 1
    if cancelled:
        logger.info("cancelled %s slots below their minimum players", cancelled)
    return cancelled


def slot_cancel_below_minimum(*, slot_id: int, now: datetime | None = None) -> int | None:
    """Cancel one slot that did not reach its minimum players, with its bookings, refunded in full.

    One transaction, in the lock order: the slot row (re-checked under it by
    bookings.services.slot_lock_below_minimum: still open, past the deadline,
    not guaranteed, below the minimum), then each active booking in pk order
    and its payment, as :func:`slot_cancel_and_refund` does. Each customer gets
    the cancellation email ("did not reach its minimum of N players") and the
    merchant one email for the slot, queued through bookwise.outbox. Returns
    the number of bookings cancelled, or None when the slot was not to be
    cancelled (any more).
    """
    now = now or timezone.now()
    with transaction.atomic():
        slot = slot_lock_below_minimum(slot_id=slot_id, now=now)
        if slot is None:
            return None
        slot_mark_cancelled(slot_id=slot.pk)
        active_ids = slot_bookings_to_cancel(slot_id=slot.pk, now=now)
        for booking_id in active_ids:
            _cancel_and_refund(
                booking_id=booking_id, by=None, reason=CANCEL_REASON_MINIMUM_NOT_REACHED, now=now, automatic=True
            )
        waitlist_close_for_slots(slot_ids=[slot.pk])
        outbox.enqueue(SEND_MINIMUM_NOT_REACHED_TASK, slot.pk)
    logger.info("slot %s cancelled below its minimum players (%s bookings)", slot_id, len(active_ids))
    return len(active_ids)


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
        upcoming_slot_ids = slots_lock_upcoming(merchant_id=locked.pk, now=now)
        waitlist_close_for_slots(slot_ids=upcoming_slot_ids)  # nothing can be booked from them any more
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


# --- Rescheduling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RescheduleResult:
    """What a reschedule did, decided under the locks: the booking on its new slot and the refund recorded."""

    booking: Booking
    from_slot_id: int
    refund_amount: int = 0  # minor units refunded: the difference of a paid booking moved to a cheaper time
    moved: bool = True  # False: the booking already was on that slot (a repeated request), nothing changed


def booking_reschedule(*, booking_id: int, slot_id: int, by: User, now: datetime | None = None) -> RescheduleResult:
    """Move the customer's booking to another open time of its theme, keeping its payment (API.md "Reschedule").

    One transaction: bookings.services.booking_move locks both slots in
    pk order, then the booking, checks and moves it (409 slot_full,
    slot_closed, not_reschedulable, price_differs, already_booked); then, for a
    paid booking moved to a cheaper time, the payment row is locked and the
    difference refunded under its own key
    ("booking-<id>-reschedule-<ics_sequence>"), with its ledger entries, and
    sent to Stripe after commit. An unpaid hold whose payment is already under
    way may move only at the same price (the intent is for that amount).
    Concurrent reschedules of one booking: the first wins; a second to the same
    slot answers the same result, one to another slot gets 409 not_reschedulable.
    """
    now = now or timezone.now()
    with transaction.atomic():
        moved = booking_move(booking_id=booking_id, slot_id=slot_id, by=by, now=now)
        booking = moved.booking
        if not moved.moved:
            return RescheduleResult(booking=booking, from_slot_id=moved.from_slot_id, moved=False)
        refund_amount = 0
        if moved.refund > 0:
            refund = payment_refund_part_for_booking(
                booking_id=booking.pk,
                amount=moved.refund,
                key=reschedule_refund_idempotency_key(booking.pk, booking.ics_sequence),
                reason="reschedule_difference",
            )
            if refund is None:
                # A confirmed paid booking without a succeeded payment to take the difference from.
                raise DomainError(
                    "price_differs", "The price difference cannot be refunded: choose a time at the same price."
                )
            refund_amount = refund.amount
        elif (
            booking.status == BookingStatus.PENDING_PAYMENT
            and booking.amount != moved.amount_before
            and Payment.objects.filter(booking_id=booking.pk).exists()
        ):
            raise DomainError(
                "price_differs", "Your payment for this booking is under way: choose a time at the same price."
            )
    return RescheduleResult(booking=booking, from_slot_id=moved.from_slot_id, refund_amount=refund_amount)


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
            if payment_refund_record(payment_id=payment_id, reason="cancelled" if cancelled else "late_payment"):
                booking_set_refunded(
                    booking=Booking.objects.get(pk=booking_id),  # locked above (booking_lock_with_slot)
                    refunded_amount=payment_refunded_total(booking_id=booking_id),
                )
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
