"""Reads that pick the bookings a crossing flow acts on (a slot cancel, a merchant suspension)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.selectors import holding_q


def slot_bookings_to_cancel(*, slot_id: int, now: datetime) -> list[int]:
    """Ids of the slot's active bookings (confirmed, or an unpaid hold still running), in pk (lock) order."""
    return list(
        Booking.objects.filter(
            Q(status=BookingStatus.CONFIRMED) | Q(status=BookingStatus.PENDING_PAYMENT), slot_id=slot_id
        )
        .filter(holding_q(now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def suspension_affected_bookings(*, merchant_id: int, now: datetime | None = None) -> QuerySet[Booking]:
    """The merchant's active bookings (confirmed, or an unpaid hold still running) on slots still to come.

    What a suspension affects; the admin's suspend page lists them. Oldest slot first.
    """
    now = now or timezone.now()
    return (
        Booking.objects.filter(
            slot__theme__merchant_id=merchant_id,
            slot__starts_at__gt=now,
            status__in=(BookingStatus.CONFIRMED, BookingStatus.PENDING_PAYMENT),
        )
        .filter(holding_q(now))
        .select_related("customer", "slot", "slot__theme", "slot__theme__merchant")
        .order_by("slot__starts_at", "pk")
    )
