"""Reads that pick the bookings a crossing flow acts on (a slot cancel, a merchant suspension)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet, Value
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.selectors import holding_q, seats_taken_subquery
from catalog.models import Slot, SlotStatus


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


def slots_below_minimum_due(*, now: datetime, limit: int) -> list[int]:
    """Ids of open slots past their minimum-players deadline, not started, below the minimum; soonest first.

    What checkout.services.slots_cancel_below_minimum cancels, each re-checked
    under its lock. Only themes with a minimum above one; a guaranteed slot
    (it reached the minimum once) is never cancelled.
    """
    deadline_span = ExpressionWrapper(
        F("theme__min_players_deadline_hours") * Value(timedelta(hours=1)), output_field=DurationField()
    )
    return list(
        Slot.objects.filter(
            status=SlotStatus.OPEN,
            guaranteed_at__isnull=True,
            theme__min_players__gt=1,
            starts_at__gt=now,
        )
        .annotate(deadline_span=deadline_span, taken=seats_taken_subquery(now))
        .filter(starts_at__lte=Value(now) + F("deadline_span"), taken__lt=F("theme__min_players"))
        .order_by("starts_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
