"""Background work for merchants. Tasks take ids and call one function."""

from __future__ import annotations

from celery import shared_task

from bookwise.emails import EMAIL_TASK_OPTIONS
from merchants import notifications


@shared_task(**EMAIL_TASK_OPTIONS)
def send_merchant_approved(merchant_id: int) -> bool:
    """Idempotent: a second run for the same approval sends nothing (bookwise.emails.send_email_once)."""
    return notifications.send_merchant_approved_email(merchant_id=merchant_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_merchant_suspended(merchant_id: int) -> bool:
    """Idempotent: one email per suspension (keyed by `suspended_at`)."""
    return notifications.send_merchant_suspended_email(merchant_id=merchant_id)
