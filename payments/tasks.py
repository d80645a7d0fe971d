"""Background work of payments. Tasks take ids, re-read their rows and call one service.

Retries: a transient Stripe failure (network, 429, 5xx) raises
``payments.gateway.StripeUnavailable``; Celery retries the task with exponential
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
broker outage at cancel time delays them and never loses them; so are
transfers to merchants and their reversals (payments.transfers: keys
``transfer-booking-<booking id>`` and ``reversal-transfer-<transfer id>``). Reconciliation
(re-reading intents, which may confirm bookings) runs in checkout.tasks with
the same retry options.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, TypedDict

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from bookwise.celery import RELIABLE_TASK_OPTIONS
from bookwise.emails import EMAIL_TASK_OPTIONS
from payments import notifications, selectors, services, transfers
from payments.gateway import StripeUnavailable

logger = logging.getLogger(__name__)


class RetryOptions(TypedDict):
    """Typed, so that ``shared_task(**RETRY_OPTIONS)`` type-checks against Celery's keyword arguments."""

    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int


RETRY_OPTIONS: RetryOptions = {
    "autoretry_for": (StripeUnavailable,),
    "retry_backoff": 5,  # 5 s, 10 s, 20 s, ... (full jitter: a random delay up to that)
    "retry_backoff_max": 15 * 60,
    "retry_jitter": True,
    "max_retries": 8,
}


def final_attempt(task: Task[Any, Any]) -> bool:
    """The running attempt of a RETRY_OPTIONS task is its last: record the failure instead of raising."""
    return task.request.retries >= task.max_retries


@shared_task(bind=True, **RELIABLE_TASK_OPTIONS, **RETRY_OPTIONS)
def process_refund(self, refund_id: int) -> str:
    """Send a recorded refund to Stripe (idempotency key ``booking-<id>-refund``)."""
    try:
        refund = services.refund_process(refund_id=refund_id)
    except StripeUnavailable as exc:
        if not final_attempt(self):
            raise  # autoretry: same task, same refund row, same idempotency key
        error = f"Stripe unavailable after {self.request.retries + 1} attempts: {exc}"
        services.refund_mark_failed(refund_id=refund_id, error=error)
        logger.error("refund %s failed for good: %s", refund_id, error)
        return "failed"
    return refund.status if refund is not None else "missing"


REFUND_RECONCILE_BATCH = 500


@shared_task(bind=True, **RELIABLE_TASK_OPTIONS, **RETRY_OPTIONS)
def sync_refund(self, refund_id: int) -> str:
    """Re-read one refund Stripe left pending and record its outcome (reconciliation)."""
    try:
        return services.refund_reconcile(refund_id=refund_id)
    except StripeUnavailable as exc:
        if not final_attempt(self):
            raise
        logger.error("refund %s: reconciliation failed for now: %s", refund_id, exc)
        return "pending"  # still pending: the next sweep asks again


@shared_task(**RELIABLE_TASK_OPTIONS)
def reconcile_pending_refunds() -> int:
    """Periodic (beat): re-read refunds Stripe accepted as `pending` longer than REFUND_RECONCILE_MINUTES ago.

    A lost `charge.refunded` webhook cannot leave a refund pending for ever.
    Safe to run twice: each refund is applied through an idempotent service.
    """
    refund_ids = selectors.refund_ids_to_reconcile(
        now=timezone.now(),
        min_age=timedelta(minutes=settings.REFUND_RECONCILE_MINUTES),
        limit=REFUND_RECONCILE_BATCH,
    )
    for refund_id in refund_ids:
        sync_refund.delay(refund_id)
    if refund_ids:
        logger.info("reconciling %s pending refunds with Stripe", len(refund_ids))
    return len(refund_ids)


# --- Emails to merchants about payouts (payments.notifications) -------------------------------


@shared_task(**EMAIL_TASK_OPTIONS)
def send_payouts_enabled(merchant_id: int) -> bool:
    """Queued by payments.connect when payouts become enabled. Idempotent (send_email_once)."""
    return notifications.send_payouts_enabled_email(merchant_id=merchant_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_payouts_restricted(merchant_id: int) -> bool:
    """Queued by payments.connect when the account becomes restricted. Idempotent (send_email_once)."""
    return notifications.send_payouts_restricted_email(merchant_id=merchant_id)


@shared_task(**RELIABLE_TASK_OPTIONS)
def send_transfer_digests() -> int:
    """Periodic (beat, hourly): yesterday's transfers, one email per merchant and local day. Safe to rerun."""
    return notifications.send_transfer_digests()


# --- Transfers to merchants (payments.transfers) ---------------------------------------------

# Batches of the sweep per run: a merchant whose account was just enabled gets all its owed
# bookings at once; the rest (if any) waits for the next run.
TRANSFER_SWEEP_MAX_BATCHES = 10


@shared_task(**RELIABLE_TASK_OPTIONS)
def transfer_due_bookings() -> int:
    """Celery beat ("transfer-due-bookings"): record the transfers of bookings whose experience is over."""
    recorded = 0
    for _ in range(TRANSFER_SWEEP_MAX_BATCHES):
        batch = transfers.transfers_record_due(limit=transfers.SWEEP_BATCH)
        recorded += batch
        if batch < transfers.SWEEP_BATCH:
            break
    return recorded


@shared_task(bind=True, **RELIABLE_TASK_OPTIONS, **RETRY_OPTIONS)
def process_transfer(self, transfer_id: int) -> str:
    """Send a recorded transfer to Stripe (idempotency key ``transfer-booking-<booking id>``)."""
    try:
        transfer = transfers.transfer_process(transfer_id=transfer_id)
    except StripeUnavailable as exc:
        if not final_attempt(self):
            raise  # autoretry: same row, same idempotency key
        error = f"Stripe unavailable after {self.request.retries + 1} attempts: {exc}"
        transfers.transfer_mark_failed(transfer_id=transfer_id, error=error)
        logger.error("transfer %s failed for good: %s", transfer_id, error)
        return "failed"
    return transfer.status if transfer is not None else "missing"


@shared_task(bind=True, **RELIABLE_TASK_OPTIONS, **RETRY_OPTIONS)
def reverse_transfer(self, transfer_id: int, reason: str = "") -> str:
    """Reverse a paid transfer at Stripe (idempotency key ``reversal-transfer-<id>``)."""
    try:
        transfer = transfers.transfer_reversal_process(transfer_id=transfer_id, reason=reason)
    except StripeUnavailable as exc:
        if not final_attempt(self):
            raise
        # The transfer stays paid with the reason: a dispute or refund webhook, or an admin, asks again.
        logger.error("reversal of transfer %s failed for good: %s", transfer_id, exc)
        return "failed"
    return transfer.status if transfer is not None else "missing"
