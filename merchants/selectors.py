"""Reads on merchant profiles, each with its visibility rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from bookings.models import SETTLED_HOLDING_STATUSES, Booking, BookingStatus
from bookings.selectors import holding_q
from catalog.models import Slot, SlotStatus, Theme
from merchants.models import Merchant, MerchantStatus


def merchant_list_public(*, city: str | None = None) -> QuerySet[Merchant]:
    """Approved merchants: what anyone, signed in or not, may list."""
    qs = Merchant.objects.filter(status=MerchantStatus.APPROVED)
    if city:
        qs = qs.filter(city__iexact=city)
    return qs


def merchant_visible_to(*, user: User | AnonymousUser) -> QuerySet[Merchant]:
    """Approved merchants for anyone; the owner also sees their own pending or
    suspended profile, and platform admins see every profile."""
    if user.is_authenticated and user.is_platform_admin:
        return Merchant.objects.all()
    if user.is_authenticated:
        return Merchant.objects.filter(Q(status=MerchantStatus.APPROVED) | Q(owner=user))
    return Merchant.objects.filter(status=MerchantStatus.APPROVED)


def merchant_of(*, user: User | AnonymousUser) -> Merchant | None:
    """The user's own merchant profile, whatever its status."""
    if not user.is_authenticated:
        return None
    return Merchant.objects.filter(owner=user).first()


# --- The merchant portal: everything scoped to one merchant ---------------------------
# Every object a merchant page opens comes from one of these querysets, so
# another merchant's theme, slot or booking is simply not found (404).


def merchant_themes(*, merchant: Merchant) -> QuerySet[Theme]:
    return Theme.objects.filter(merchant=merchant)


def merchant_slots(*, merchant: Merchant) -> QuerySet[Slot]:
    return Slot.objects.filter(theme__merchant=merchant).select_related("theme")


def merchant_bookings(*, merchant: Merchant) -> QuerySet[Booking]:
    return Booking.objects.filter(slot__theme__merchant=merchant).select_related("slot", "slot__theme", "customer")


def merchant_upcoming_slots(*, merchant: Merchant, days: int = 14, now: datetime | None = None) -> QuerySet[Slot]:
    """Open slots starting in the next `days` days, soonest first, each with `seats_left` (one query)."""
    from catalog.selectors import with_seats_left

    now = now or timezone.now()
    qs = merchant_slots(merchant=merchant).filter(
        status=SlotStatus.OPEN, starts_at__gte=now, starts_at__lt=now + timedelta(days=days)
    )
    return with_seats_left(qs, now=now).order_by("starts_at", "id")


def merchant_todays_participants(*, merchant: Merchant, now: datetime | None = None) -> QuerySet[Booking]:
    """Bookings holding seats on today's slots, today being the merchant's local calendar day."""
    now = now or timezone.now()
    tz = merchant.tzinfo
    today = timezone.localtime(now, tz).date()
    day_start = datetime.combine(today, time.min, tzinfo=tz)
    day_end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    return (
        merchant_bookings(merchant=merchant)
        .filter(holding_q(now), slot__starts_at__gte=day_start, slot__starts_at__lt=day_end)
        .exclude(slot__status=SlotStatus.CANCELLED)
        .order_by("slot__starts_at", "created_at", "id")
    )


def merchant_recent_bookings(*, merchant: Merchant, limit: int = 20) -> QuerySet[Booking]:
    return merchant_bookings(merchant=merchant).order_by("-created_at", "-id")[:limit]


@dataclass(frozen=True)
class SlotCancelImpact:
    bookings: int  # active bookings slot_cancel would cancel
    people: int
    refunds: int  # of which paid: confirmed with an amount


def slot_cancel_impact(*, slot: Slot, now: datetime | None = None) -> SlotCancelImpact:
    """What cancelling `slot` would do, counted as slot_cancel selects: confirmed and live unpaid holds."""
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


def week_bounds(*, week_start: date, tz) -> tuple[datetime, datetime]:
    """The first instant of `week_start` and of the day seven days later, as local midnights in `tz`.

    Built day by day from local midnights, so a week with a daylight-saving change is
    167 or 169 hours long, as the merchant's calendar says.
    """
    return (
        datetime.combine(week_start, time.min, tzinfo=tz),
        datetime.combine(week_start + timedelta(days=7), time.min, tzinfo=tz),
    )


def merchant_week_slots(*, merchant: Merchant, week_start: date, now: datetime | None = None) -> list[Slot]:
    """The merchant's slots (cancelled ones excluded) starting in the local week from `week_start`.

    Each slot carries `seats_paid`, `seats_held` and `week_bookings`: the bookings
    holding seats at `now`, oldest first, with their customers (three queries in all).
    """
    now = now or timezone.now()
    start, end = week_bounds(week_start=week_start, tz=merchant.tzinfo)
    bookings = Booking.objects.filter(holding_q(now)).select_related("customer").order_by("created_at", "id")
    qs = (
        merchant_slots(merchant=merchant)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=SlotStatus.CANCELLED)
        .prefetch_related(Prefetch("bookings", queryset=bookings, to_attr="week_bookings"))
        .order_by("starts_at", "id")
    )
    return list(with_paid_and_held(qs, now=now))
