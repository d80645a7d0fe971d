"""Reads of the catalog, each with its visibility rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db.models import DateField, Exists, F, Func, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.permissions import user_is_platform_admin
from bookings.models import SEAT_HOLDING_STATUSES, Booking
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
    # Open seats on this calendar day in each merchant's own timezone (the portal's date filter).
    available_on_local_day: date | None = None
    ordering: str | None = None
    # With a price filter or price ordering, only themes priced in this currency are listed, so
    # that no number is compared across currencies. Without one, the filters above apply as they
    # always did (the API's default).
    currency: str | None = None

    def compares_prices(self) -> bool:
        """A price bound or a price ordering: what `currency` restricts."""
        bounds = (self.min_price, self.max_price, self.min_price_major, self.max_price_major)
        return any(bound is not None for bound in bounds) or self.ordering in ("price", "-price")


# Where the catalog's default currency is counted: the first matches in the default order. A
# bounded index read at any catalog size, where counting every match would read them all.
CURRENCY_SAMPLE = 1000
CURRENCIES_CACHE_KEY = "catalog:public-currencies"
CURRENCIES_CACHE_SECONDS = 300
# Every timezone's offset lies within +-14 h of UTC: a merchant's local day D starts and ends
# within this margin of D in UTC, so the slot index can be read over a bounded range first.
LOCAL_DAY_MARGIN = timedelta(hours=14)


def theme_list_public() -> QuerySet[Theme]:
    """Active themes of approved merchants: what anyone may see in the catalog."""
    return Theme.objects.filter(is_active=True, merchant__status=MerchantStatus.APPROVED).select_related("merchant")


def theme_visible_to(*, user) -> QuerySet[Theme]:
    """Public themes, plus an approved merchant's own (also inactive) themes, plus everything for admins.

    A suspended merchant's owner sees only what the public sees: none of their own themes.
    A customer always sees the themes they hold a booking on (the merchant may be suspended since).
    """
    qs = Theme.objects.select_related("merchant")
    if user_is_platform_admin(user):
        return qs
    visible = Q(is_active=True, merchant__status=MerchantStatus.APPROVED) | managed_by_owner_q(user)
    if user and user.is_authenticated:
        visible |= Exists(
            Booking.objects.filter(customer=user, slot__theme=OuterRef("pk"), status__in=SEAT_HOLDING_STATUSES)
        )
    return qs.filter(visible)


def theme_list_filtered(*, filters: ThemeFilters, now: datetime | None = None) -> QuerySet[Theme]:
    now = now or timezone.now()
    qs = theme_list_public()
    if filters.search:
        qs = qs.filter(search_vector=SearchQuery(filters.search, search_type="websearch", config="english"))
    if filters.merchant_id is not None:
        qs = qs.filter(merchant_id=filters.merchant_id)
    if filters.city:
        qs = qs.filter(merchant__city__iexact=filters.city)
    currency = filters.currency if filters.currency and filters.compares_prices() else None
    if currency:
        qs = qs.filter(currency=currency)
    if filters.min_price is not None:
        qs = qs.filter(price__gte=filters.min_price)
    if filters.max_price is not None:
        qs = qs.filter(price__lte=filters.max_price)
    if filters.min_price_major is not None:
        qs = qs.filter(_price_bound_q(filters.min_price_major, upper=False, currency=currency))
    if filters.max_price_major is not None:
        qs = qs.filter(_price_bound_q(filters.max_price_major, upper=True, currency=currency))
    # Inside these Exists, OuterRef("min_party") is the theme's: a slot with fewer seats left than
    # the smallest party cannot be sold, so it does not count as open.
    if filters.available_from or filters.available_to:
        qs = qs.filter(
            Exists(
                slots_with_seats_in_window(
                    start=filters.available_from, end=filters.available_to, now=now, min_seats=OuterRef("min_party")
                ).filter(theme_id=OuterRef("pk"))
            )
        )
    if filters.available_on_local_day:
        qs = qs.filter(
            Exists(
                slots_with_seats_on_local_day(
                    day=filters.available_on_local_day,
                    tz_name=OuterRef("merchant__timezone"),
                    now=now,
                    min_seats=OuterRef("min_party"),
                ).filter(theme_id=OuterRef("pk"))
            )
        )
    return qs.order_by(*THEME_ORDERINGS.get(filters.ordering or "", ("title", "id")))


def _price_bound_q(amount: Decimal, *, upper: bool, currency: str | None = None) -> Q:
    """`price >= amount` (or `<=`), the amount in major units of `currency`, else of each theme's own currency."""
    lookup = "price__lte" if upper else "price__gte"
    if currency:
        return Q(**{lookup: money.minor_bound(amount, money.exponent(currency), upper=upper)})
    groups = money.exponent_groups()
    not_two_decimal = [code for places, codes in groups.items() if places != 2 for code in codes]
    # Two decimals for the usual currencies and for any code outside the table (older rows).
    q = ~Q(currency__in=not_two_decimal) & Q(**{lookup: money.minor_bound(amount, 2, upper=upper)})
    for places, codes in groups.items():
        if places != 2:
            q |= Q(currency__in=codes, **{lookup: money.minor_bound(amount, places, upper=upper)})
    return q


def bookable_seats(*, seats_left: int, min_party: int) -> int:
    """Seats a new booking can take: none when fewer are left than the theme's smallest party.

    Such leftovers cannot be sold, so pages show the slot as full; the API's
    `seats_left` still says how many seats are free.
    """
    return seats_left if seats_left >= min_party else 0


def _with_bookable_seats(qs: QuerySet[Slot], *, now: datetime, min_seats) -> QuerySet[Slot]:
    """Keep slots with at least `min_seats` free: the theme's min_party (OuterRef inside a theme Exists)."""
    return qs.filter(capacity__gte=seats_taken_subquery(now) + min_seats)


def slots_with_seats_in_window(
    *, start: datetime | None, end: datetime | None, now: datetime, min_seats=None
) -> QuerySet[Slot]:
    """Open future slots starting in [start, end) with seats for the theme's smallest party (`bookable_seats`).

    `min_seats` defaults to the slot's theme's min_party; inside an Exists on
    themes pass OuterRef("min_party") and save the join.
    """
    start = max(start, now) if start else now
    qs = Slot.objects.filter(status=SlotStatus.OPEN, starts_at__gte=start)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    return _with_bookable_seats(qs, now=now, min_seats=F("theme__min_party") if min_seats is None else min_seats)


class LocalDate(Func):
    """`(timestamptz AT TIME ZONE zone)::date`: the calendar day of an instant in a named IANA zone."""

    template = "((%(expressions)s))::date"
    arg_joiner = " AT TIME ZONE "
    output_field = DateField()


def slots_with_seats_on_local_day(*, day: date, tz_name, now: datetime, min_seats=None) -> QuerySet[Slot]:
    """Open future slots starting on `day` in the zone `tz_name`, with seats for the theme's smallest party.

    `tz_name` is a zone name or an expression (OuterRef("merchant__timezone")
    inside an Exists on themes). The day is first bounded in UTC, +-14 hours
    around it (`LOCAL_DAY_MARGIN`), so the slot index is read over a short
    range and only those rows are converted.
    """
    day_start = datetime.combine(day, time.min, tzinfo=UTC)
    qs = slots_with_seats_in_window(
        start=day_start - LOCAL_DAY_MARGIN,
        end=day_start + timedelta(days=1) + LOCAL_DAY_MARGIN,
        now=now,
        min_seats=min_seats,
    )
    return qs.annotate(local_day=LocalDate("starts_at", tz_name)).filter(local_day=day)


def theme_currencies_public() -> list[str]:
    """The supported currencies active themes are priced in, sorted: the catalog's currency choices.

    Cached for CURRENCIES_CACHE_SECONDS: a new currency appears in the
    choices within minutes, and no page reads every theme to list them.
    """
    codes = cache.get(CURRENCIES_CACHE_KEY)
    if codes is None:
        found = theme_list_public().order_by().values_list("currency", flat=True).distinct()
        codes = sorted(code for code in found if code in money.CURRENCIES)
        cache.set(CURRENCIES_CACHE_KEY, codes, CURRENCIES_CACHE_SECONDS)
    return list(codes)


def theme_currency_most_common(*, filters: ThemeFilters, now: datetime | None = None) -> str | None:
    """The most common currency of the themes `filters` match, their price bounds and ordering aside.

    Counted over the first CURRENCY_SAMPLE matches in the default order (ties:
    alphabetical); None when nothing matches.
    """
    base = replace(filters, min_price=None, max_price=None, min_price_major=None, max_price_major=None)
    base = replace(base, ordering=None, currency=None)
    codes = theme_list_filtered(filters=base, now=now).values_list("currency", flat=True)[:CURRENCY_SAMPLE]
    counts = Counter(code for code in codes if code in money.CURRENCIES)
    if not counts:
        return None
    return min(counts, key=lambda code: (-counts[code], code))


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
