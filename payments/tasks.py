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
broker outage at cancel time delays them and never loses them. Reconciliation
(re-reading intents, which may confirm bookings) runs in checkout.tasks with
the same retry options.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from celery import Task, shared_task

from bookwise.celery import RELIABLE_TASK_OPTIONS
from payments import services
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
