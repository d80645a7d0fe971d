"""Reads of the merchant portal that need bookings: the dashboard, the week view, the slot pages.

They live here, in the highest app they read, so `merchants.selectors` reads
merchants and accounts only. Every booking a merchant page opens comes from
`merchant_bookings`, scoped to one merchant, so another merchant's booking is
simply not found (404); themes and slots come from
`catalog.selectors.merchant_themes` and `merchant_slots`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bookings.models import SETTLED_HOLDING_STATUSES, Booking, BookingStatus
from bookings.selectors import holding_q
from bookwise.timezones import local_day_bounds
from catalog.models import Slot, SlotStatus
from catalog.selectors import merchant_slots
from merchants.models import Merchant


def merchant_bookings(*, merchant: Merchant) -> QuerySet[Booking]:
    return Booking.objects.filter(slot__theme__merchant=merchant).select_related("slot", "slot__theme", "customer")


def merchant_recent_bookings(*, merchant: Merchant, limit: int = 20) -> QuerySet[Booking]:
    return merchant_bookings(merchant=merchant).order_by("-created_at", "-id")[:limit]


@dataclass(frozen=True)
class SlotCancelImpact:
    bookings: int  # active bookings cancelling the slot would cancel
    people: int
    refunds: int  # of which paid: confirmed with an amount


def slot_cancel_impact(*, slot: Slot, now: datetime | None = None) -> SlotCancelImpact:
    """What cancelling `slot` would do, counted as the slot cancellation selects: confirmed and live unpaid holds."""
    now = now or timezone.now()
    active = Q(status=BookingStatus.CONFIRMED) | Q(status=BookingStatus.PENDING_PAYMENT, expires_at__gt=now)
    counts = Booking.objects.filter(active, slot=slot).aggregate(
        bookings=Count("id"),
        people=Coalesce(Sum("party_size"), 0),
        refunds=Count("id", filter=Q(status=BookingStatus.CONFIRMED, amount__gt=0)),
    )
    return SlotCancelImpact(**counts)


# --- Paid and held seats; the week view ------------------------------------------------


def _seats_subquery(status_q: Q) -> Coalesce:
    seats = (
        Booking.objects.filter(status_q, slot_id=OuterRef("pk"))
        .order_by()
        .values("slot_id")
        .annotate(n=Sum("party_size"))
        .values("n")
    )
    return Coalesce(Subquery(seats, output_field=IntegerField()), Value(0))


def with_paid_and_held(qs: QuerySet[Slot], *, now: datetime | None = None) -> QuerySet[Slot]:
    """Annotate `seats_paid` (confirmed, attended, no-show) and `seats_held` (unpaid holds not yet run out)."""
    now = now or timezone.now()
    return qs.annotate(
        seats_paid=_seats_subquery(Q(status__in=SETTLED_HOLDING_STATUSES)),
        seats_held=_seats_subquery(Q(status=BookingStatus.PENDING_PAYMENT, expires_at__gt=now)),
    )


def merchant_week_slots(*, merchant: Merchant, week_start: date, now: datetime | None = None) -> list[Slot]:
    """The merchant's slots (cancelled ones excluded) starting in the local week from `week_start`.

    Each slot carries `seats_paid`, `seats_held` and `week_bookings`: the bookings
    holding seats at `now`, oldest first, with their customers (three queries in all).
    The week runs from local midnight to local midnight, so one with a
    daylight-saving change is 167 or 169 hours long, as the merchant's calendar says.
    """
    now = now or timezone.now()
    start, end = local_day_bounds(day=week_start, tz=merchant.tzinfo, days=7)
    bookings = Booking.objects.filter(holding_q(now)).select_related("customer").order_by("created_at", "id")
    qs = (
        merchant_slots(merchant=merchant)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=SlotStatus.CANCELLED)
        .prefetch_related(Prefetch("bookings", queryset=bookings, to_attr="week_bookings"))
        .order_by("starts_at", "id")
    )
    return list(with_paid_and_held(qs, now=now))
