"""Background work of the booking engine. Tasks take ids and call one service.

The cancellation email needs the refund too (payments): it is sent by
checkout.tasks.send_booking_cancelled.
"""

from __future__ import annotations

import logging

from celery import shared_task

from bookings import merchant_notifications, notifications, reminders, services, waitlist_notifications
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
def send_slot_guaranteed(booking_id: int) -> bool:
    """The slot reached its minimum players: tell this customer it will run. Idempotent (send_email_once)."""
    return notifications.send_slot_guaranteed_email(booking_id=booking_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_waitlist_offer(entry_id: int) -> bool:
    """The "a place opened up" email (bookings.waitlist): once per offer (send_email_once keyed by its booking)."""
    return waitlist_notifications.send_waitlist_offer_email(entry_id=entry_id)


# --- Reminders before the start (bookings.reminders) ---------------------------------------------


@shared_task(**RELIABLE_TASK_OPTIONS)
def send_booking_reminders() -> int:
    """Periodic (beat): claim the due reminders and queue their emails. Safe to run twice and concurrently."""
    return reminders.reminders_send_due()


@shared_task(**EMAIL_TASK_OPTIONS)
def send_booking_reminder(booking_id: int, kind: str) -> bool:
    """One claimed reminder; re-checks the booking. Idempotent (send_email_once keyed by booking and kind)."""
    return reminders.send_reminder_email(booking_id=booking_id, kind=kind)


# --- Emails to merchants about their bookings (bookings.merchant_notifications) -----------------


@shared_task(**EMAIL_TASK_OPTIONS)
def send_merchant_booking_notice(notice_id: int) -> bool:
    """Idempotent: the notice is marked sent in the transaction that sends it."""
    return merchant_notifications.send_booking_notice_email(notice_id=notice_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_merchant_reschedule_notice(booking_id: int, sequence: int, from_slot_id: int, refund: int = 0) -> bool:
    """Idempotent: one email per move (bookwise.emails.send_email_once keyed by the sequence)."""
    return merchant_notifications.send_booking_rescheduled_email(
        booking_id=booking_id, sequence=sequence, from_slot_id=from_slot_id, refund=refund
    )


@shared_task(**RELIABLE_TASK_OPTIONS)
def send_merchant_booking_digests() -> int:
    """Periodic (beat, hourly): one digest per merchant of the unreported events. Safe to run concurrently."""
    return merchant_notifications.send_booking_digests()


@shared_task(**RELIABLE_TASK_OPTIONS)
def send_merchant_daily_schedules() -> int:
    """Periodic (beat, hourly): tomorrow's schedule, once per merchant and local day."""
    return merchant_notifications.send_daily_schedules()
