"""Background work of the booking engine. Tasks take ids and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from bookings import notifications, services
from bookwise.celery import RELIABLE_TASK_OPTIONS
from bookwise.emails import EMAIL_TASK_OPTIONS

logger = logging.getLogger(__name__)


@shared_task(**RELIABLE_TASK_OPTIONS)
def expire_due_bookings() -> int:
    """Periodic (beat): release holds whose time ran out. Idempotent and safe to run concurrently."""
    count = services.bookings_expire_due()
    if count:
        logger.info("expired %s unpaid holds", count)
    return count


@shared_task(**EMAIL_TASK_OPTIONS)
def send_booking_confirmed(booking_id: int) -> bool:
    """Idempotent: a second run sends nothing (bookwise.emails.send_email_once)."""
    return notifications.send_booking_confirmed_email(booking_id=booking_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_booking_cancelled(booking_id: int) -> bool:
    """Idempotent: a second run sends nothing (bookwise.emails.send_email_once)."""
    return notifications.send_booking_cancelled_email(booking_id=booking_id)
