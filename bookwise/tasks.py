"""Background work of the kernel: the transactional outbox's sweeper."""

from __future__ import annotations

from celery import shared_task

from bookwise import outbox
from bookwise.celery import RELIABLE_TASK_OPTIONS


@shared_task(**RELIABLE_TASK_OPTIONS)
def outbox_sweep() -> int:
    """Periodic (beat, OUTBOX_SWEEP_SECONDS): publish pending outbox messages, drop old sent ones.

    Safe to run twice and concurrently (rows are claimed with SKIP LOCKED).
    """
    return outbox.sweep().published
