"""Reads of payments, each with its visibility rule."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from bookings.models import Booking, BookingStatus
from payments.models import Payment, PaymentStatus, Refund, RefundStatus

# Payments whose PaymentIntent may still change at Stripe in a way we care about.
OPEN_PAYMENT_STATUSES = (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.PROCESSING, PaymentStatus.FAILED)


def booking_payable_by(*, user: User | AnonymousUser | None) -> QuerySet[Booking]:
    """Bookings the caller may pay: only their own (anything else is a 404)."""
    if not (user and user.is_authenticated):
        return Booking.objects.none()
    return Booking.objects.filter(customer=user)


def payment_ids_to_reconcile(*, now: datetime, window: timedelta, min_age: timedelta, limit: int) -> list[int]:
    """Payments whose intent should be re-read from Stripe, least recently checked first.

    Bookings still waiting for payment, and those that expired or were cancelled
    within `window` (a customer holding the client secret can still pay them;
    the webhook might have been lost). Rows touched within `min_age` are left
    alone: a webhook is probably on its way. Uses payment_status_updated_idx.
    """
    # Every payment that can still matter was created within `window` plus one
    # hold: a booking is payable only during its hold, and ends it within `window`.
    # updated_at >= created_at, so this bound excludes nothing relevant and keeps
    # the index range scan away from the long tail of abandoned intents.
    oldest_relevant = now - window - timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    recent_end = Q(
        booking__status__in=(BookingStatus.EXPIRED, BookingStatus.CANCELLED),
        booking__updated_at__gte=now - window,
    )
    return list(
        Payment.objects.filter(
            status__in=OPEN_PAYMENT_STATUSES, updated_at__lte=now - min_age, updated_at__gte=oldest_relevant
        )
        .exclude(stripe_payment_intent_id="")
        .filter(Q(booking__status=BookingStatus.PENDING_PAYMENT) | recent_end)
        .order_by("updated_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def refund_status_by_booking(*, booking_ids: list[int]) -> dict[int, str]:
    """The refund status (RefundStatus) of each of these bookings that has a refund. One query.

    Callers pass ids they already scoped (e.g. the customer's own bookings).
    A booking has at most one refund (deterministic key `booking-<id>-refund`).
    """
    if not booking_ids:
        return {}
    return dict(Refund.objects.filter(payment__booking_id__in=booking_ids).values_list("payment__booking_id", "status"))


def payment_state_for_booking(*, booking_id: int) -> tuple[str, str]:
    """(PaymentStatus, RefundStatus) of a booking's payment, "" for none. One query.

    The caller scoped the booking (e.g. the customer's own). A booking has at
    most one payment and one refund.
    """
    row = (
        Payment.objects.filter(booking_id=booking_id)
        .values_list("status", "refunds__status")
        .order_by("refunds__pk")
        .first()
    )
    if row is None:
        return "", ""
    return row[0], row[1] or ""


def refund_ids_to_reconcile(*, now: datetime, min_age: timedelta, limit: int) -> list[int]:
    """Refunds Stripe accepted but left `pending`, not looked at for `min_age`; least recently checked first.

    Stripe settles such a refund later and says so with `charge.refunded` (or
    `charge.refund.updated`); if that webhook is lost, re-reading the refund is
    the only way to learn it. Refunds without a Stripe id are not here: their
    task retries them, and the outbox publishes again a task the broker lost.
    Each re-read touches `updated_at`, so a refund still pending waits `min_age` again.
    """
    return list(
        Refund.objects.filter(status=RefundStatus.PENDING, updated_at__lte=now - min_age)
        .exclude(stripe_refund_id="")
        .order_by("updated_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
