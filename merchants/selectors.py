"""Reads on merchant profiles, each with its visibility rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, BookingStatus
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
