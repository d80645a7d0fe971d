"""Background work of the reviews app. Tasks take ids and call one function."""

from __future__ import annotations

from celery import shared_task

from bookwise.celery import RELIABLE_TASK_OPTIONS
from bookwise.emails import EMAIL_TASK_OPTIONS
from reviews import review_requests


@shared_task(**RELIABLE_TASK_OPTIONS)
def send_review_requests() -> int:
    """Periodic (beat): queue the "how was it?" emails of attended bookings. Safe to run twice and concurrently."""
    return review_requests.review_requests_send_due()


@shared_task(**EMAIL_TASK_OPTIONS)
def send_review_request(booking_id: int) -> bool:
    """One claimed "how was it?" email; re-checks the booking. Idempotent (send_email_once keyed by booking)."""
    return review_requests.send_review_request_email(booking_id=booking_id)
