"""Reads of the catalog that need nothing from bookings, each with its visibility rule.

Reads that count seats or look at a customer's bookings (seats left, open
slots, the themes a customer may open) live one layer up, in
`bookings.catalog_selectors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Upper

from bookwise import money
from catalog.models import Slot, Theme
from merchants.models import Merchant, MerchantStatus

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


CURRENCIES_CACHE_KEY = "catalog:public-currencies"
CURRENCIES_CACHE_SECONDS = 300


def theme_bookable_q(*, prefix: str = "") -> Q:
    """Themes open to bookings and listed in the catalog: active, of an approved merchant.

    `prefix` reaches the theme from another model ("theme__", "slot__theme__").
    `theme_is_bookable` is the same rule for one theme in hand. The merchant's
    approval is read from the theme's copy (`Theme.merchant_approved`, kept in
    step by the database in the same transaction): no join to merchants, and
    the catalog's city index is partial on it.
    """
    return Q(**{f"{prefix}is_active": True, f"{prefix}merchant_approved": True})


def theme_is_bookable(*, theme: Theme) -> bool:
    """`theme_bookable_q` for one loaded theme (its merchant joined)."""
    return theme.is_active and theme.merchant.status == MerchantStatus.APPROVED


def theme_list_public() -> QuerySet[Theme]:
    """Active themes of approved merchants: what anyone may see in the catalog."""
    return Theme.objects.filter(theme_bookable_q()).select_related("merchant")


def theme_list_matching(*, filters: ThemeFilters) -> QuerySet[Theme]:
    """Public themes matching the filters that read the catalog alone, in the filters' order.

    The availability filters (`available_from`, `available_to`,
    `available_on_local_day`) count seats: `bookings.catalog_selectors.theme_list_filtered`
    applies them on top of this.
    """
    qs = theme_list_public()
    if filters.search:
        qs = qs.filter(search_vector=SearchQuery(filters.search, search_type="websearch", config="english"))
    if filters.merchant_id is not None:
        qs = qs.filter(merchant_id=filters.merchant_id)
    if filters.city:
        # `merchant__city__iexact` on the theme's copy of UPPER(city): the same comparison, PostgreSQL's
        # UPPER on both sides, served by theme_listed_city_title_idx in title order.
        qs = qs.filter(merchant_city_upper=Upper(Value(filters.city, output_field=CharField())))
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


# --- The merchant portal: a merchant's own themes and slots -----------------------------
# Every theme or slot a merchant page opens comes from one of these querysets, so
# another merchant's theme or slot is simply not found (404).


def merchant_themes(*, merchant: Merchant) -> QuerySet[Theme]:
    return Theme.objects.filter(merchant=merchant)


def merchant_slots(*, merchant: Merchant) -> QuerySet[Slot]:
    return Slot.objects.filter(theme__merchant=merchant).select_related("theme")
