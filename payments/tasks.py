"""Background work of payments. Tasks take ids, re-read their rows and call one service.

Retries: a transient Stripe failure (network, 429, 5xx) raises
``services.StripeUnavailable``; Celery retries the task with exponential
backoff and full jitter (``retry_backoff`` seconds doubling per attempt, capped
at ``retry_backoff_max``), at most ``max_retries`` times. Each attempt reads
the idempotency key from the row, so Stripe sees the same key every time. The
final failure is written where an admin sees it (``Refund.status = failed`` +
``last_error``, or ``Payment.last_error``) and the task ends there.

Every countdown is below ``CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]``
(``CELERY_VISIBILITY_TIMEOUT``, 1 h; the longest is ``retry_backoff_max`` =
15 min), so Redis never hands a waiting task to a second worker.
``acks_late`` and ``reject_on_worker_lost`` are on because every task here is
idempotent: a task redelivered after a worker crash finds its work done.
Refunds are queued through the transactional outbox (bookwise.outbox), so a
broker outage at cancel time delays them and never loses them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from bookwise.celery import RELIABLE_TASK_OPTIONS
from payments import selectors, services

logger = logging.getLogger(__name__)

RETRY_OPTIONS = {
    "autoretry_for": (services.StripeUnavailable,),
    "retry_backoff": 5,  # 5 s, 10 s, 20 s, ... (full jitter: a random delay up to that)
    "retry_backoff_max": 15 * 60,
    "retry_jitter": True,
    "max_retries": 8,
}
RECONCILE_BATCH = 500


def _final_attempt(task) -> bool:
    return task.request.retries >= task.max_retries


@shared_task(bind=True, **RELIABLE_TASK_OPTIONS, **RETRY_OPTIONS)
def process_refund(self, refund_id: int) -> str:
    """Send a recorded refund to Stripe (idempotency key ``booking-<id>-refund``)."""
    try:
        refund = services.refund_process(refund_id=refund_id)
    except services.StripeUnavailable as exc:
        if not _final_attempt(self):
            raise  # autoretry: same task, same refund row, same idempotency key
        error = f"Stripe unavailable after {self.request.retries + 1} attempts: {exc}"
        services.refund_mark_failed(refund_id=refund_id, error=error)
        logger.error("refund %s failed for good: %s", refund_id, error)
        return "failed"
    return refund.status if refund is not None else "missing"


@shared_task(bind=True, **RELIABLE_TASK_OPTIONS, **RETRY_OPTIONS)
def sync_payment_intent(self, payment_id: int) -> str:
    """Re-read one payment's PaymentIntent from Stripe and apply it (reconciliation)."""
    try:
        return services.payment_sync_from_stripe(payment_id=payment_id)
    except services.StripeUnavailable as exc:
        if not _final_attempt(self):
            raise
        services.payment_mark_sync_failed(payment_id=payment_id, error=str(exc))
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
    payment_ids = selectors.payment_ids_to_reconcile(
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
