"""Background work of the booking engine. Tasks take ids and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from bookings import notifications, services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def expire_due_bookings() -> int:
    """Periodic (beat): release holds whose time ran out. Idempotent and safe to run concurrently."""
    count = services.bookings_expire_due()
    if count:
        logger.info("expired %s unpaid holds", count)
    return count


@shared_task(acks_late=True, autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=5)
def send_booking_confirmed(booking_id: int) -> None:
    notifications.send_booking_email(booking_id=booking_id, kind="confirmed")


@shared_task(acks_late=True, autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=5)
def send_booking_cancelled(booking_id: int) -> None:
    notifications.send_booking_email(booking_id=booking_id, kind="cancelled")
