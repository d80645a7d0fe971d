"""The "how was it?" email after an attended booking, with a link to write the review (issue 13).

Here rather than in bookings.reminders because it must skip customers who
already reviewed the theme, and the booking engine sits below reviews: it must
not read the reviews table. reviews builds on bookings, so this module uses the
same claim as the reminders before the start (`bookings.reminders.reminders_claim`,
a `BookingReminder(kind="review")` row inserted with ON CONFLICT DO NOTHING) and
queues its email through the outbox in the same transaction.

Once per customer and theme: a customer who attends a weekly class is asked
once, not every week (the claim of one of their bookings of the theme stands
for all). Only bookings attended in the last `REVIEW_REQUEST_WINDOW` are asked
about: marking attendance long after the session sends nothing. Respects
`User.reminder_emails`. Periodic: `reviews.tasks.send_review_requests` (beat).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, BookingReminder, BookingStatus
from bookings.notifications import booking_email_context, booking_for_email
from bookings.reminders import KIND_REVIEW, reminders_claim
from bookwise import outbox
from bookwise.emails import absolute_url, send_email_once
from bookwise.models import EmailKind
from catalog.limits import MAX_DURATION_MINUTES
from catalog.models import SlotStatus
from reviews.models import Review

logger = logging.getLogger(__name__)

SEND_REVIEW_REQUEST_TASK = "reviews.tasks.send_review_request"
# EmailLog kind of the "how was it?" emails, keyed by booking.
REVIEW_REQUEST_EMAIL_KIND = EmailKind.REVIEW_REQUEST
REVIEW_REQUEST_WINDOW = timedelta(days=7)
SWEEP_BATCH = 200


def _due(*, now: datetime, after: int, limit: int) -> list[tuple[int, int, int]]:
    """(booking, customer, theme) of attended bookings whose slot ended in the window, not asked or reviewed yet.

    The slot's start bounds the scan through the open slots' start index; the
    end then picks the exact window.
    """
    since = now - REVIEW_REQUEST_WINDOW
    asked = BookingReminder.objects.filter(
        kind=KIND_REVIEW,
        booking__customer_id=OuterRef("customer_id"),
        booking__slot__theme_id=OuterRef("slot__theme_id"),
    )
    reviewed = Review.objects.filter(author_id=OuterRef("customer_id"), theme_id=OuterRef("slot__theme_id"))
    return list(
        Booking.objects.filter(
            status=BookingStatus.ATTENDED,
            slot__status=SlotStatus.OPEN,
            slot__starts_at__gt=since - timedelta(minutes=MAX_DURATION_MINUTES),
            slot__starts_at__lt=now,
            slot__ends_at__gt=since,
            slot__ends_at__lte=now,
            customer__reminder_emails=True,
            customer__is_active=True,
            pk__gt=after,
        )
        .filter(~Exists(asked), ~Exists(reviewed))
        .order_by("pk")
        .values_list("pk", "customer_id", "slot__theme_id")[:limit]
    )


def review_requests_send_due(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH) -> int:
    """Claim and queue the due "how was it?" emails; how many were queued. Safe to run twice and concurrently."""
    now = now or timezone.now()
    queued = 0
    after = 0
    while True:
        with transaction.atomic():
            rows = _due(now=now, after=after, limit=batch_size)
            if not rows:
                break
            # One per customer and theme: the lowest booking id, so concurrent sweeps pick the same one.
            first: dict[tuple[int, int], int] = {}
            for booking_id, customer_id, theme_id in rows:
                first.setdefault((customer_id, theme_id), booking_id)
            won = reminders_claim(claims=[(booking_id, KIND_REVIEW) for booking_id in first.values()])
            for booking_id, _kind in sorted(won):
                outbox.enqueue(SEND_REVIEW_REQUEST_TASK, booking_id)
                queued += 1
        after = rows[-1][0]
        if len(rows) < batch_size:
            break
    if queued:
        logger.info("queued %s review requests", queued)
    return queued


def send_review_request_email(*, booking_id: int) -> bool:
    """Send one claimed "how was it?" email unless it no longer applies. True when sent now. Idempotent.

    Nothing when the booking is no longer attended (marked a no-show since), the
    customer turned these emails off, or already reviewed the theme.
    """
    booking = booking_for_email(booking_id)
    if booking is None:
        return False
    customer, theme = booking.customer, booking.slot.theme
    if (
        booking.status != BookingStatus.ATTENDED
        or not customer.reminder_emails
        or not customer.is_active
        or theme.merchant.owner_id == customer.pk
        or Review.objects.filter(author_id=customer.pk, theme_id=theme.pk).exists()
    ):
        logger.info("review request of booking %s no longer applies, not sent", booking_id)
        return False
    return send_email_once(
        kind=REVIEW_REQUEST_EMAIL_KIND,
        key=booking.pk,
        to=customer.email,
        template="review_request",
        context={
            **booking_email_context(booking),
            "review_url": absolute_url(reverse("portal:review", args=[theme.pk])),
            "account_url": absolute_url(reverse("portal:account")),
        },
    )
