"""Background work of the flows that cross apps. Tasks take ids, re-read their rows and call one service.

Reconciliation re-reads PaymentIntents from Stripe and may confirm bookings or
refund payments (checkout.services.payment_reconcile): it retries a transient
Stripe failure like payments.tasks (``RETRY_OPTIONS``: exponential backoff with
full jitter, below the broker's visibility timeout) and notes the final failure
on the payment. The cancellation email reads the booking and its refund.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from bookwise.celery import RELIABLE_TASK_OPTIONS
from bookwise.emails import EMAIL_TASK_OPTIONS
from checkout import notifications, services
from payments.gateway import StripeUnavailable
from payments.selectors import payment_ids_to_reconcile
from payments.services import payment_mark_sync_failed
from payments.tasks import RETRY_OPTIONS, final_attempt

logger = logging.getLogger(__name__)

RECONCILE_BATCH = 500


@shared_task(bind=True, **RELIABLE_TASK_OPTIONS, **RETRY_OPTIONS)
def sync_payment_intent(self: Task[[int], str], payment_id: int) -> str:
    """Re-read one payment's PaymentIntent from Stripe and apply it (reconciliation)."""
    try:
        return services.payment_reconcile(payment_id=payment_id)
    except StripeUnavailable as exc:
        if not final_attempt(self):
            raise
        payment_mark_sync_failed(payment_id=payment_id, error=str(exc))
        logger.error("payment %s: reconciliation failed for good: %s", payment_id, exc)
        return "failed"


@shared_task(**RELIABLE_TASK_OPTIONS)
def reconcile_pending_payments() -> int:
    """Periodic (beat): re-read the intents of bookings still waiting for payment or ended recently.

    A lost webhook cannot leave a paid customer unconfirmed (or a payment for a
    released seat unrefunded). Safe to run twice: each payment is applied
    through the same idempotent service as the webhook.
    """
    now = timezone.now()
    payment_ids = payment_ids_to_reconcile(
        now=now,
        window=timedelta(hours=settings.PAYMENT_RECONCILE_WINDOW_HOURS),
        min_age=timedelta(seconds=60),
        limit=RECONCILE_BATCH,
    )
    for payment_id in payment_ids:
        sync_payment_intent.delay(payment_id)
    if payment_ids:
        logger.info("reconciling %s payments with Stripe", len(payment_ids))
    return len(payment_ids)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_booking_cancelled(booking_id: int) -> bool:
    """Idempotent: a second run sends nothing (bookwise.emails.send_email_once)."""
    return notifications.send_booking_cancelled_email(booking_id=booking_id)


@shared_task(**RELIABLE_TASK_OPTIONS)
def cancel_slots_below_minimum() -> int:
    """Periodic (beat): cancel the slots still below their minimum players at the deadline, and refund them.

    Safe to run twice and concurrently (each slot is re-checked under its lock).
    """
    return services.slots_cancel_below_minimum()


@shared_task(**EMAIL_TASK_OPTIONS)
def send_slot_minimum_not_reached(slot_id: int) -> bool:
    """To the merchant: the slot was cancelled for want of players. Idempotent (send_email_once)."""
    return notifications.send_slot_minimum_not_reached_email(slot_id=slot_id)
