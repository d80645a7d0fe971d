"""Reads of the catalog that count seats or look at bookings, each with its visibility rule.

Catalog pages and the catalog API ask here for seats left, open slots and the
themes a customer may open (they also see the themes they hold a booking
on). Reads of the catalog alone stay in `catalog.selectors`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import DateField, DateTimeField, Exists, F, Func, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import Combinable
from django.utils import timezone

from accounts.models import User
from accounts.permissions import user_is_platform_admin
from bookings.models import SEAT_HOLDING_STATUSES, Booking
from bookings.selectors import seats_left_expression, seats_taken_subquery
from bookwise import money
from catalog.models import Slot, SlotStatus, Theme
from catalog.selectors import ThemeFilters, theme_bookable_q, theme_list_matching
from merchants.permissions import managed_by_owner_q

# Where the catalog's default currency is counted: the first matches in the default order. A
# bounded index read at any catalog size, where counting every match would read them all.
CURRENCY_SAMPLE = 1000
# Every timezone's offset lies within +-14 h of UTC: a merchant's local day D starts and ends
# within this margin of D in UTC, so the slot index can be read over a bounded range first.
LOCAL_DAY_MARGIN = timedelta(hours=14)


def theme_visible_to(*, user: User | AnonymousUser | None) -> QuerySet[Theme]:
    """Public themes, plus an approved merchant's own (also inactive) themes, plus everything for admins.

    A suspended merchant's owner sees only what the public sees: none of their own themes.
    A customer always sees the themes they hold a booking on (the merchant may be suspended since).
    """
    qs = Theme.objects.select_related("merchant")
    if user_is_platform_admin(user):
        return qs
    visible = theme_bookable_q() | managed_by_owner_q(user)
    if user and user.is_authenticated:
        visible |= Q(
            Exists(Booking.objects.filter(customer=user, slot__theme=OuterRef("pk"), status__in=SEAT_HOLDING_STATUSES))
        )
    return qs.filter(visible)


def theme_list_filtered(*, filters: ThemeFilters, now: datetime | None = None) -> QuerySet[Theme]:
    """The public catalog under every filter: `catalog.selectors.theme_list_matching`, then the availability ones."""
    now = now or timezone.now()
    qs = theme_list_matching(filters=filters)
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
    return qs


def _with_bookable_seats(qs: QuerySet[Slot], *, now: datetime, min_seats: int | Combinable) -> QuerySet[Slot]:
    """Keep slots with at least `min_seats` free: the theme's min_party (OuterRef inside a theme Exists)."""
    return qs.filter(capacity__gte=seats_taken_subquery(now) + min_seats)


def slots_with_seats_in_window(
    *, start: datetime | None, end: datetime | None, now: datetime, min_seats: int | Combinable | None = None
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


def slots_with_seats_on_local_day(
    *, day: date, tz_name: str | Combinable, now: datetime, min_seats: int | Combinable | None = None
) -> QuerySet[Slot]:
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
    """Annotate each slot with `seats_left` at `now` (one correlated subquery, no extra query)."""
    return qs.annotate(seats_left=seats_left_expression(now or timezone.now()))


def slot_visible_to(*, user: User | AnonymousUser | None) -> QuerySet[Slot]:
    """Slots of themes the user may see."""
    return Slot.objects.filter(theme__in=theme_visible_to(user=user)).select_related("theme", "theme__merchant")


def seats_left_of(*, slot: Slot, now: datetime | None = None) -> int:
    """The slot's `seats_left`: its annotation when it has one (`with_seats_left`), else one query."""
    annotated: int | None = getattr(slot, "seats_left", None)
    if annotated is not None:
        return annotated
    seats_left: int = (
        Slot.objects.filter(pk=slot.pk)
        .annotate(seats_left=seats_left_expression(now or timezone.now()))
        .values_list("seats_left", flat=True)
        .get()
    )
    return seats_left


def next_open_start_subquery(*, now: datetime) -> Subquery:
    """Correlated on a theme (OuterRef pk and min_party): the start of its soonest open time with seats.

    One index read per theme on (theme, starts_at), stopping at the first slot
    with seats for the smallest party: the catalog cards' "Next: ..." without N+1.
    """
    soonest = (
        slots_with_seats_in_window(start=now, end=None, now=now, min_seats=OuterRef("min_party"))
        .filter(theme_id=OuterRef("pk"))
        .order_by("starts_at", "id")
        .values("starts_at")[:1]
    )
    return Subquery(soonest, output_field=DateTimeField())


def with_next_open_at(qs: QuerySet[Theme], *, now: datetime | None = None) -> QuerySet[Theme]:
    """Annotate each theme with `next_open_at`: its soonest bookable start, or None."""
    return qs.annotate(next_open_at=next_open_start_subquery(now=now or timezone.now()))


def theme_next_open_at(*, theme: Theme, now: datetime | None = None, with_seats: bool = True) -> datetime | None:
    """The soonest start of `theme`'s open times with seats for its smallest party, or None (one query).

    `with_seats=False`: of any open (not cancelled) time, full ones included.
    """
    now = now or timezone.now()
    qs = (
        slots_with_seats_in_window(start=now, end=None, now=now, min_seats=theme.min_party)
        if with_seats
        else Slot.objects.filter(status=SlotStatus.OPEN, starts_at__gt=now)
    )
    starts: datetime | None = (
        qs.filter(theme_id=theme.pk).order_by("starts_at", "id").values_list("starts_at", flat=True).first()
    )
    return starts
