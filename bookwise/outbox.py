"""Transactional outbox: work that must happen after a commit survives a broker outage.

A service that changes business rows and wants a task to run once they are
committed calls ``enqueue("payments.tasks.process_refund", refund.pk)`` inside
its transaction. That writes an ``OutboxMessage`` row in the same transaction:
the change and the promise to act on it commit or roll back together. Then:

- **Fast path.** An after-commit hook publishes the row to Celery at once and
  marks it ``sent``. A broker that is down or hung fails the publish quickly
  (``CELERY_BROKER_TRANSPORT_OPTIONS``: no connection retries, short socket
  timeouts); the row stays ``pending``, a warning is logged, and the request
  that wrote it still succeeds. After such a failure this process leaves
  publishing to the sweeper for ``FAST_PATH_PAUSE_SECONDS``, so requests do
  not each wait for a dead broker.
- **Sweeper.** ``bookwise.tasks.outbox_sweep`` (Celery beat, every
  ``OUTBOX_SWEEP_SECONDS``) publishes every due pending row, oldest first, and
  deletes done rows older than ``OUTBOX_RETENTION_HOURS``.
- **Done, not just sent.** A row is ``sent`` once the broker took it and
  ``done`` once its task returned (Celery's ``task_success`` signal, matched by
  the task id ``outbox-<pk>``). A broker can lose a message it accepted (Redis
  restarted without its data, or killed between taking a message and handing it
  to a worker), so a row still ``sent`` after ``OUTBOX_REDELIVER_SECONDS`` goes
  back to ``pending`` and is published again, at most ``OUTBOX_MAX_ATTEMPTS``
  times in all (then it stays ``sent`` for an admin to see).

Claims: a publisher takes rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` and
moves their ``available_at`` a lease (``LEASE``) ahead before it commits, then
publishes outside any transaction. Two sweepers (or a sweeper and the fast
path) never publish one row at the same time; a publisher that dies after its
claim leaves the row to be taken again once the lease ends. A failed publish
records ``attempts`` and ``last_error`` and backs off (``available_at``).

Delivery is at least once: a publish that succeeded followed by a failed
``sent`` update (the database went away) publishes the row again later. Every
task sent through here must therefore be idempotent (EmailLog once-only
emails, refunds keyed by a deterministic Stripe idempotency key).

Tasks are dispatched by name (``send_task``), so this kernel module imports no
app. With ``task_always_eager`` (tests, local debugging) the task runs in the
publishing process instead; a task that raises then counts as a failed
publish and its row stays pending.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.signals import task_success
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import EncodeError

from bookwise.celery import app
from bookwise.models import OutboxMessage, OutboxState

logger = logging.getLogger(__name__)

# A claimed row is left alone this long: far above one publish (bounded by the
# broker socket timeouts), so only a publisher that died gives it up.
LEASE = timedelta(minutes=5)
RETRY_BASE_SECONDS = 5  # 5 s, 10 s, 20 s, 40 s, then every RETRY_MAX_SECONDS
RETRY_MAX_SECONDS = 60
FAST_PATH_PAUSE_SECONDS = 5.0
SWEEP_BATCH = 100
CLEANUP_BATCH = 5000
ERROR_MAX_CHARS = 2000

_fast_path_paused_until = 0.0  # time.monotonic() value; per process


@dataclass(frozen=True)
class SweepResult:
    published: int
    failed: int
    deleted: int


def enqueue(task_name: str, *args: Any) -> OutboxMessage:
    """Run Celery task `task_name(*args)` once the current transaction commits, even if the broker is down then.

    Call inside the transaction that makes the change the task acts on (outside
    one, the row commits at once). `args` must be JSON values (ids, short
    strings). The task must be idempotent: delivery is at least once.
    """
    message = OutboxMessage.objects.create(task_name=task_name, args=list(args))
    transaction.on_commit(functools.partial(_publish_after_commit, message.pk))
    return message


def sweep(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH) -> SweepResult:
    """Publish every due pending message, then delete old sent ones. Safe to run concurrently and twice.

    Stops early when the broker is unreachable (the rest waits for the next run)
    or after OUTBOX_SWEEP_SECONDS of work, so runs do not pile up.
    """
    started = time.monotonic()
    published = failed = 0
    requeue_lost(now=now or timezone.now())
    while True:
        claimed = _claim(now=now or timezone.now(), limit=batch_size)
        sent, errors, broker_down = _publish_claimed(claimed)
        published += sent
        failed += errors
        # After a failure, stop: what failed is not due again before its backoff ends.
        if (
            errors
            or broker_down
            or len(claimed) < batch_size
            or time.monotonic() - started > settings.OUTBOX_SWEEP_SECONDS
        ):
            break
    deleted = delete_sent_before(cutoff=(now or timezone.now()) - timedelta(hours=settings.OUTBOX_RETENTION_HOURS))
    if published or failed or deleted:
        logger.info("outbox sweep: %s published, %s failed, %s old rows deleted", published, failed, deleted)
    return SweepResult(published=published, failed=failed, deleted=deleted)


def requeue_lost(*, now: datetime) -> int:
    """Rows the broker took OUTBOX_REDELIVER_SECONDS ago whose task never reported done: pending again.

    One UPDATE: two sweepers never requeue a row twice (the second finds it pending).
    """
    return OutboxMessage.objects.filter(
        state=OutboxState.SENT,
        sent_at__lt=now - timedelta(seconds=settings.OUTBOX_REDELIVER_SECONDS),
        attempts__lt=settings.OUTBOX_MAX_ATTEMPTS,
    ).update(state=OutboxState.PENDING, sent_at=None, available_at=now)


def mark_done(*, task_id: str) -> bool:
    """The task published as `task_id` returned: its row is done. False for a task that is not an outbox row's."""
    message_id = task_id.removeprefix("outbox-") if task_id.startswith("outbox-") else ""
    if not message_id.isdigit():
        return False
    now = timezone.now()
    return bool(
        OutboxMessage.objects.filter(pk=int(message_id))
        .exclude(state=OutboxState.DONE)
        .update(state=OutboxState.DONE, done_at=now, sent_at=Coalesce(F("sent_at"), Value(now)))
    )


@task_success.connect
def _on_task_success(sender=None, **kwargs: Any) -> None:
    task_id = getattr(getattr(sender, "request", None), "id", None) or ""
    if task_id.startswith("outbox-"):
        mark_done(task_id=task_id)


def delete_sent_before(*, cutoff: datetime, limit: int = CLEANUP_BATCH) -> int:
    """Delete up to `limit` done messages finished before `cutoff` (retention). The next sweep takes the rest."""
    ids = list(
        OutboxMessage.objects.filter(state=OutboxState.DONE, done_at__lt=cutoff)
        .order_by("done_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    deleted, _ = OutboxMessage.objects.filter(pk__in=ids, state=OutboxState.DONE).delete()
    return deleted


def pending_count() -> int:
    return OutboxMessage.objects.filter(state=OutboxState.PENDING).count()


def resume_fast_path() -> None:
    """Forget an earlier broker failure in this process (tests; the pause also ends by itself)."""
    global _fast_path_paused_until
    _fast_path_paused_until = 0.0


# --- Internals ----------------------------------------------------------------------------------


def _eager() -> bool:
    return bool(app.conf.task_always_eager)


def _publish_after_commit(message_id: int) -> None:
    """The fast path. Never raises: the transaction already committed, the sweeper has the row."""
    global _fast_path_paused_until
    if not _eager() and time.monotonic() < _fast_path_paused_until:
        return
    try:
        claimed = _claim(now=timezone.now(), limit=1, message_ids=[message_id])
        _sent, _errors, broker_down = _publish_claimed(claimed)
    except Exception:  # the database went away after the commit, for instance
        logger.warning("outbox message %s: not published after commit; the sweeper will", message_id, exc_info=True)
        return
    if broker_down:
        _fast_path_paused_until = time.monotonic() + FAST_PATH_PAUSE_SECONDS


def _claim(*, now: datetime, limit: int, message_ids: list[int] | None = None) -> list[OutboxMessage]:
    """Take up to `limit` due pending messages for this publisher: their lease runs from `now`.

    SKIP LOCKED: rows another publisher is claiming at this moment are passed
    over, not waited for; rows it claimed earlier are no longer due.
    """
    with transaction.atomic():
        due = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            state=OutboxState.PENDING, available_at__lte=now
        )
        if message_ids is not None:
            due = due.filter(pk__in=message_ids)
        claimed = list(due.order_by("available_at", "pk")[:limit])
        if claimed:
            OutboxMessage.objects.filter(pk__in=[m.pk for m in claimed]).update(available_at=now + LEASE)
    return claimed


def _publish_claimed(claimed: list[OutboxMessage]) -> tuple[int, int, bool]:
    """Publish claimed messages in order: (sent, failed, broker_down). Caller holds no transaction.

    On a broker failure the remaining messages are released at once (no
    attempt counted) and the batch stops: they would fail the same way.
    """
    sent = failed = 0
    for index, message in enumerate(claimed):
        try:
            _publish(message)
        except Exception as exc:
            failed += 1
            _record_failure(message, exc)
            if not _eager() and not isinstance(exc, EncodeError):
                rest = [m.pk for m in claimed[index + 1 :]]
                if rest:
                    OutboxMessage.objects.filter(pk__in=rest, state=OutboxState.PENDING).update(
                        available_at=timezone.now()
                    )
                return sent, failed, True
            continue
        # The task may already have run (eager, or a fast worker) and marked the row done.
        OutboxMessage.objects.filter(pk=message.pk, state__in=[OutboxState.PENDING, OutboxState.DONE]).update(
            state=Case(When(state=OutboxState.DONE, then=Value(OutboxState.DONE)), default=Value(OutboxState.SENT)),
            sent_at=Coalesce(F("sent_at"), Value(timezone.now())),
            attempts=F("attempts") + 1,
        )
        sent += 1
    return sent, failed, False


def _publish(message: OutboxMessage) -> None:
    """Hand one message to the broker (or, eager, run it here). Raises on any failure."""
    task_id = f"outbox-{message.pk}"
    if _eager():
        _registered_task(message.task_name).apply(args=message.args, task_id=task_id, throw=True)
        return
    # retry=False: one attempt, bounded by the broker socket timeouts; the
    # sweeper is the retry.
    app.send_task(message.task_name, args=message.args, task_id=task_id, retry=False)


def _registered_task(name: str):
    try:
        return app.tasks[name]
    except KeyError:
        # Outside a worker nothing imports every app's tasks module: find them as a worker does at start.
        app.autodiscover_tasks(force=True)
        return app.tasks[name]


def _record_failure(message: OutboxMessage, exc: BaseException) -> None:
    attempts = message.attempts + 1
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
    OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.PENDING).update(
        attempts=attempts, last_error=error, available_at=timezone.now() + timedelta(seconds=delay)
    )
    logger.warning(
        "outbox message %s (%s): publish attempt %s failed, retry in %ss: %s",
        message.pk,
        message.task_name,
        attempts,
        delay,
        error,
    )
