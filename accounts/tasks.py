"""Background work for accounts. Tasks take ids and call one function."""

from __future__ import annotations

from celery import shared_task

from accounts import notifications
from bookwise.emails import EMAIL_TASK_OPTIONS


@shared_task(**EMAIL_TASK_OPTIONS)
def send_password_reset(user_id: int, request_id: str) -> bool:
    """Idempotent per reset request: a second run of one request sends nothing."""
    return notifications.send_password_reset_email(user_id=user_id, request_id=request_id)
