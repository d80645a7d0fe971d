"""Reads of the catalog, each with its visibility rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.permissions import user_is_platform_admin
from bookings.selectors import seats_left_expression, seats_taken_subquery
from bookwise import money
from catalog.models import Slot, SlotStatus, Theme
from merchants.models import MerchantStatus
from merchants.permissions import managed_by_owner_q

THEME_ORDERINGS = {
    "price": ("price", "id"),
    "-price": ("-price", "-id"),
    "-rating_avg": ("-rating_avg", "id"),
    "title": ("title", "id"),
}


@dataclass(frozen=True)
class ThemeFilters:
    search: str | None = None
    merchant_id: int | None = None
    city: str | None = None
    min_price: int | None = None  # minor units (the API's filters)
    max_price: int | None = None
    # Major units, compared in each theme's own currency (the portal's filters): 50 is $50.00 or ¥50.
    min_price_major: Decimal | None = None
    max_price_major: Decimal | None = None
    available_from: datetime | None = None
    available_to: datetime | None = None
    ordering: str | None = None


def theme_list_public() -> QuerySet[Theme]:
    """Active themes of approved merchants: what anyone may see in the catalog."""
    return Theme.objects.filter(is_active=True, merchant__status=MerchantStatus.APPROVED).select_related("merchant")


def theme_visible_to(*, user) -> QuerySet[Theme]:
    """Public themes, plus an approved merchant's own (also inactive) themes, plus everything for admins.

    A suspended merchant's owner sees only what the public sees: none of their own themes.
    """
    qs = Theme.objects.select_related("merchant")
    if user_is_platform_admin(user):
        return qs
    return qs.filter(Q(is_active=True, merchant__status=MerchantStatus.APPROVED) | managed_by_owner_q(user))


def theme_list_filtered(*, filters: ThemeFilters, now: datetime | None = None) -> QuerySet[Theme]:
    now = now or timezone.now()
    qs = theme_list_public()
    if filters.search:
        qs = qs.filter(search_vector=SearchQuery(filters.search, search_type="websearch", config="english"))
    if filters.merchant_id is not None:
        qs = qs.filter(merchant_id=filters.merchant_id)
    if filters.city:
        qs = qs.filter(merchant__city__iexact=filters.city)
    if filters.min_price is not None:
        qs = qs.filter(price__gte=filters.min_price)
    if filters.max_price is not None:
        qs = qs.filter(price__lte=filters.max_price)
    if filters.min_price_major is not None:
        qs = qs.filter(_price_bound_q(filters.min_price_major, upper=False))
    if filters.max_price_major is not None:
        qs = qs.filter(_price_bound_q(filters.max_price_major, upper=True))
    if filters.available_from or filters.available_to:
        qs = qs.filter(
            Exists(
                slots_with_seats_in_window(start=filters.available_from, end=filters.available_to, now=now).filter(
                    theme_id=OuterRef("pk")
                )
            )
        )
    return qs.order_by(*THEME_ORDERINGS.get(filters.ordering or "", ("title", "id")))


def _price_bound_q(amount: Decimal, *, upper: bool) -> Q:
    """`price >= amount` (or `<=`), the amount in major units of each theme's own currency (bookwise.money)."""
    lookup = "price__lte" if upper else "price__gte"
    groups = money.exponent_groups()
    not_two_decimal = [code for places, codes in groups.items() if places != 2 for code in codes]
    # Two decimals for the usual currencies and for any code outside the table (older rows).
    q = ~Q(currency__in=not_two_decimal) & Q(**{lookup: money.minor_bound(amount, 2, upper=upper)})
    for places, codes in groups.items():
        if places != 2:
            q |= Q(currency__in=codes, **{lookup: money.minor_bound(amount, places, upper=upper)})
    return q


def slots_with_seats_in_window(*, start: datetime | None, end: datetime | None, now: datetime) -> QuerySet[Slot]:
    """Open future slots starting in [start, end) that still have at least one seat."""
    start = max(start, now) if start else now
    qs = Slot.objects.filter(status=SlotStatus.OPEN, starts_at__gte=start)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    return qs.filter(capacity__gt=seats_taken_subquery(now))


def slot_list_for_theme(
    *, theme_id: int, start: datetime | None = None, end: datetime | None = None, now: datetime | None = None
) -> QuerySet[Slot]:
    """A theme's future slots (cancelled ones included, marked), soonest first, with seats_left."""
    now = now or timezone.now()
    qs = Slot.objects.filter(theme_id=theme_id, starts_at__gt=max(start, now) if start else now)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    return with_seats_left(qs, now=now).order_by("starts_at", "id")


def with_seats_left(qs: QuerySet[Slot], *, now: datetime | None = None) -> QuerySet[Slot]:
    return qs.annotate(seats_left=seats_left_expression(now or timezone.now()))


def slot_visible_to(*, user) -> QuerySet[Slot]:
    """Slots of themes the user may see."""
    return Slot.objects.filter(theme__in=theme_visible_to(user=user)).select_related("theme", "theme__merchant")


def seats_left_of(slot: Slot, *, now: datetime | None = None) -> int:
    annotated = getattr(slot, "seats_left", None)
    if annotated is not None:
        return annotated
    return with_seats_left(Slot.objects.filter(pk=slot.pk), now=now).values_list("seats_left", flat=True).get()
