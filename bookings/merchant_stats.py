"""The merchant dashboard's figures over a period: bookings, fill rate, no-show rate per theme; the bookings export.

A period is a run of whole days in the merchant's timezone (`stats_period`),
and every figure counts the bookings and slots whose slot *starts* in it, the
way the payouts statement does, so one booking is always counted on one day
whatever the day it was paid or cancelled. Revenue is read from the ledger by
`payments.revenue_selectors.merchant_revenue` with the same period.

- bookings: confirmed, attended and no-show bookings (a cancelled, expired or
  unpaid one is not a booking the merchant serves);
- fill rate: seats taken by those bookings / capacity, over the slots that are
  not cancelled and have started (an empty future slot is not yet a failure);
  a private slot with a booking is full;
- no-show rate: no-show bookings / (attended + no-show bookings): only the
  bookings the merchant has marked.

Each function runs a fixed number of queries whatever the number of slots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from bookings.models import SETTLED_HOLDING_STATUSES, Booking, BookingStatus
from bookwise.errors import InvalidInput
from bookwise.timezones import local_day_bounds
from catalog.models import BookingMode, Slot, SlotStatus
from merchants.models import Merchant

PERIOD_PRESETS = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
PERIOD_MAX_DAYS = 366
# Longer periods chart revenue per week (Monday to Sunday) rather than per day.
DAILY_BUCKETS_MAX_DAYS = 31
# How far from today a period may lie (ten years), so its days stay far from date overflow.
PERIOD_MAX_OFFSET_DAYS = 3660


@dataclass(frozen=True)
class StatsPeriod:
    """Whole days `date_from`..`date_to` (inclusive) in the merchant's timezone, and their instants [start, end)."""

    date_from: date
    date_to: date
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def weekly(self) -> bool:
        """Chart per week (True) or per day."""
        return self.days > DAILY_BUCKETS_MAX_DAYS

    def buckets(self) -> list[date]:
        """The first day of each bar of a chart over the period: every day, or every Monday from the first week's."""
        if not self.weekly:
            return [self.date_from + timedelta(days=i) for i in range(self.days)]
        monday = self.date_from - timedelta(days=self.date_from.weekday())
        weeks = (self.date_to - monday).days // 7 + 1
        return [monday + timedelta(days=7 * i) for i in range(weeks)]


def stats_period(
    *,
    merchant: Merchant,
    date_from: date | None = None,
    date_to: date | None = None,
    days: int | None = None,
    now: datetime | None = None,
) -> StatsPeriod:
    """The period the dashboard shows: as asked, or the last `days` days up to today (30 by default).

    Days are the merchant's. A missing end is today (or the start, if later); a
    missing start is `days` days before the end. Raises InvalidInput (400)
    when the end is before the start, the period is longer than
    PERIOD_MAX_DAYS, or a date is more than ten years from today.
    """
    today = timezone.localtime(now or timezone.now(), merchant.tzinfo).date()
    for day, name in ((date_from, "from"), (date_to, "to")):
        if day is not None and abs((day - today).days) > PERIOD_MAX_OFFSET_DAYS:
            raise InvalidInput("invalid_period", "Choose dates within ten years of today.", field=name)
    span = days or DEFAULT_PERIOD_DAYS
    if not 1 <= span <= PERIOD_MAX_DAYS:
        raise InvalidInput("invalid_period", f"Choose from 1 to {PERIOD_MAX_DAYS} days.", field="days")
    last = date_to or max(today, date_from or today)
    first = date_from or last - timedelta(days=span - 1)
    if first > last:
        raise InvalidInput("invalid_period", "The last day must not be before the first day.", field="to")
    if (last - first).days >= PERIOD_MAX_DAYS:
        raise InvalidInput("invalid_period", f"Choose a period of at most {PERIOD_MAX_DAYS} days.", field="to")
    start, _ = local_day_bounds(day=first, tz=merchant.tzinfo)
    _, end = local_day_bounds(day=last, tz=merchant.tzinfo)
    return StatsPeriod(date_from=first, date_to=last, start=start, end=end)


@dataclass(frozen=True)
class BookingFigures:
    """Counts over a period, for one theme or all of them."""

    bookings: int = 0  # confirmed + attended + no-show
    people: int = 0  # their party sizes
    attended: int = 0
    no_show: int = 0
    slots: int = 0  # started, not cancelled slots
    capacity: int = 0  # their seats
    seats_taken: int = 0  # their seats taken by confirmed, attended and no-show bookings

    @property
    def fill_rate(self) -> float | None:
        """Seats taken / capacity of the started slots (0..1); None without any."""
        return self.seats_taken / self.capacity if self.capacity else None

    @property
    def no_show_rate(self) -> float | None:
        """No-shows / (attended + no-shows) (0..1); None before any booking was marked."""
        marked = self.attended + self.no_show
        return self.no_show / marked if marked else None

    def __add__(self, other: BookingFigures) -> BookingFigures:
        return BookingFigures(
            bookings=self.bookings + other.bookings,
            people=self.people + other.people,
            attended=self.attended + other.attended,
            no_show=self.no_show + other.no_show,
            slots=self.slots + other.slots,
            capacity=self.capacity + other.capacity,
            seats_taken=self.seats_taken + other.seats_taken,
        )


@dataclass(frozen=True)
class ThemeFigures:
    theme_id: int
    title: str
    figures: BookingFigures


@dataclass(frozen=True)
class BookingStats:
    """Per theme (by title) and in total."""

    themes: list[ThemeFigures] = field(default_factory=list)
    total: BookingFigures = field(default_factory=BookingFigures)


def _slot_seats_taken() -> Least:
    """A slot's seats taken by its settled bookings: a private slot with one is full; never above the capacity."""
    taken = (
        Booking.objects.filter(slot_id=OuterRef("pk"), status__in=SETTLED_HOLDING_STATUSES)
        .order_by()
        .values("slot_id")
        .annotate(
            n=Greatest(
                Sum("party_size"),
                Max(
                    Case(
                        When(slot__theme__booking_mode=BookingMode.PRIVATE, then=F("slot__capacity")),
                        default=Value(0),
                        output_field=IntegerField(),
                    )
                ),
            )
        )
        .values("n")
    )
    return Least(F("capacity"), Coalesce(Subquery(taken, output_field=IntegerField()), Value(0)))


def merchant_booking_stats(*, merchant: Merchant, period: StatsPeriod, now: datetime | None = None) -> BookingStats:
    """Bookings, people, attended, no-shows, and the seats of started slots, per theme and in total. Two queries."""
    now = now or timezone.now()
    booking_rows = (
        Booking.objects.filter(
            slot__theme__merchant=merchant,
            slot__starts_at__gte=period.start,
            slot__starts_at__lt=period.end,
            status__in=SETTLED_HOLDING_STATUSES,
        )
        .values("slot__theme_id", "slot__theme__title")
        .annotate(
            bookings=Count("pk"),
            people=Sum("party_size"),
            attended=Count("pk", filter=Q(status=BookingStatus.ATTENDED)),
            no_show=Count("pk", filter=Q(status=BookingStatus.NO_SHOW)),
        )
        .order_by()
    )
    slot_rows = (
        Slot.objects.filter(theme__merchant=merchant, starts_at__gte=period.start, starts_at__lt=min(period.end, now))
        .exclude(status=SlotStatus.CANCELLED)
        .values("theme_id", "theme__title")
        # Named apart from the field: an annotation called "capacity" would be what F("capacity") reads.
        .annotate(slots=Count("pk"), seats=Sum("capacity"), seats_taken=Sum(_slot_seats_taken()))
        .order_by()
    )
    found: dict[int, tuple[str, dict[str, int]]] = {}
    for row in booking_rows:
        counts = {key: int(row[key] or 0) for key in ("bookings", "people", "attended", "no_show")}
        found.setdefault(row["slot__theme_id"], (row["slot__theme__title"], {}))[1].update(counts)
    for row in slot_rows:
        counts = {
            "slots": int(row["slots"]),
            "capacity": int(row["seats"] or 0),
            "seats_taken": int(row["seats_taken"] or 0),
        }
        found.setdefault(row["theme_id"], (row["theme__title"], {}))[1].update(counts)
    themes = sorted(
        (
            ThemeFigures(theme_id=pk, title=title, figures=BookingFigures(**counts))
            for pk, (title, counts) in found.items()
        ),
        key=lambda theme: (theme.title.casefold(), theme.theme_id),
    )
    total = BookingFigures()
    for theme in themes:
        total = total + theme.figures
    return BookingStats(themes=themes, total=total)


# --- The bookings export (CSV) -------------------------------------------------------------

EXPORT_COLUMNS: tuple[str, ...] = (
    "booking",
    "created",
    "slot_starts_at",
    "theme",
    "customer_name",
    "customer_email",
    "party_size",
    "tickets",
    "status",
    "amount",
    "discount",
    "refunded",
    "currency",
)


def merchant_export_bookings(*, merchant: Merchant, period: StatsPeriod) -> QuerySet[Booking, Any]:
    """Every booking (any status) whose slot starts in the period, by slot start then booking, as plain values.

    One query, read in chunks by `iter_export_rows`: memory stays flat for a long period.
    """
    return (
        Booking.objects.filter(
            slot__theme__merchant=merchant, slot__starts_at__gte=period.start, slot__starts_at__lt=period.end
        )
        .values(
            "pk",
            "created_at",
            "slot__starts_at",
            "slot__theme__title",
            "slot__theme__price_tiers",
            "customer__full_name",
            "customer__email",
            "party_size",
            "tickets",
            "status",
            "amount",
            "discount",
            "refunded_amount",
            "currency",
        )
        .order_by("slot__starts_at", "pk")
    )


def spreadsheet_safe(text: str) -> str:
    """A text a spreadsheet would run as a formula ("=HYPERLINK(...)", "+1", "@SUM") gets a leading quote."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _local_iso(moment: datetime, merchant: Merchant) -> str:
    return moment.astimezone(merchant.tzinfo).replace(microsecond=0).isoformat()


def iter_export_rows(
    *, merchant: Merchant, period: StatsPeriod, tickets_words: Callable[[Any, Any], str] | None = None
) -> Iterator[list[str]]:
    """The export as rows of strings: a header of EXPORT_COLUMNS, then one row per booking.

    Times are in the merchant's timezone (ISO 8601 with offset); amounts in
    minor units like the API. Every text a customer or the merchant typed is
    made spreadsheet-safe. `tickets_words(tickets, tiers)` renders the tickets
    ("2 adults, 1 child"; the template filter of the pages), else they are
    written as "tier x quantity".
    """
    yield list(EXPORT_COLUMNS)
    for row in merchant_export_bookings(merchant=merchant, period=period).iterator(chunk_size=500):
        tickets = row["tickets"] or []
        if tickets_words is not None:
            tickets_text = str(tickets_words(tickets, row["slot__theme__price_tiers"]))
        else:
            tickets_text = ", ".join(f"{t.get('tier')} x {t.get('quantity')}" for t in tickets if isinstance(t, dict))
        yield [
            str(row["pk"]),
            _local_iso(row["created_at"], merchant),
            _local_iso(row["slot__starts_at"], merchant),
            spreadsheet_safe(row["slot__theme__title"]),
            spreadsheet_safe(row["customer__full_name"] or ""),
            spreadsheet_safe(row["customer__email"]),
            str(row["party_size"]),
            spreadsheet_safe(tickets_text),
            row["status"],
            str(row["amount"]),
            str(row["discount"]),
            str(row["refunded_amount"]),
            row["currency"],
        ]
