"""The theme page's month calendar: which local days have open times, full times or none.

Pure calendar arithmetic over slots already loaded (one query for the month,
`bookings.catalog_selectors.slot_list_for_theme`): every day is the slot's
calendar day in the MERCHANT's timezone, so a slot at 23:30 local on the 31st
belongs to the 31st whatever UTC says, and a month's bounds are the local
midnights that start it and the next month, across DST changes.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Protocol

# How far ahead a customer may page: the calendar stops at this many months after the current one.
MAX_MONTHS_AHEAD = 12


class CalendarSlot(Protocol):
    starts_at: datetime
    seats_bookable: int


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(first: date, months: int) -> date:
    """The first day of the month `months` after the month of `first` (negative: before)."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The instant (UTC) the local day `day` starts in `tz`.

    A midnight that does not exist (a zone whose DST starts at 00:00) is read
    with the offset before the change, which is exactly the instant of the
    change: the day's first existing minute.
    """
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def local_month_bounds(first: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local month starting on `first`."""
    return local_midnight(first, tz), local_midnight(add_months(first, 1), tz)


def local_day(value: datetime, tz: tzinfo) -> date:
    return value.astimezone(tz).date()


def parse_month(value: str | None) -> date | None:
    """`YYYY-MM` -> the month's first day; anything else None (the page falls back to its default)."""
    if not value or len(value) != 7:
        return None
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return None


def parse_day(value: str | None) -> date | None:
    """`YYYY-MM-DD` -> the date; anything else None."""
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass
class CalendarDay:
    day: date
    open_times: int = 0  # times with seats for the theme's smallest party
    times: int = 0  # every open (not cancelled) time, full ones included
    is_today: bool = False
    is_selected: bool = False

    @property
    def state(self) -> str:
        """`open`, `full` (times, none bookable) or `none`."""
        if self.open_times:
            return "open"
        return "full" if self.times else "none"

    @property
    def query(self) -> str:
        return f"?day={self.day.isoformat()}&month={self.day:%Y-%m}"

    @property
    def label(self) -> str:
        """ "Saturday 5 December, 3 times available" (the day link's accessible name)."""
        words = f"{self.day:%A} {self.day.day} {self.day:%B}"
        if self.open_times:
            words += f", {self.open_times} time{'s' if self.open_times != 1 else ''} available"
        elif self.times:
            words += ", fully booked"
        else:
            words += ", no times"
        if self.is_today:
            words += ", today"
        return words


@dataclass
class MonthCalendar:
    first: date
    weeks: list[list[CalendarDay | None]]
    previous: date | None
    next: date | None
    days: dict[date, CalendarDay] = field(default_factory=dict)

    @property
    def caption(self) -> str:
        return f"{self.first:%B %Y}"

    @property
    def previous_query(self) -> str:
        return f"?month={self.previous:%Y-%m}" if self.previous else ""

    @property
    def next_query(self) -> str:
        return f"?month={self.next:%Y-%m}" if self.next else ""

    @property
    def open_days(self) -> int:
        return sum(1 for day in self.days.values() if day.open_times)

    def first_day(self, state: str) -> date | None:
        return next((d.day for d in self.days.values() if d.state == state), None)


WEEKDAYS = [(calendar.day_abbr[i], calendar.day_name[i]) for i in range(7)]  # Monday first


def build_month(
    *, first: date, slots: Iterable[CalendarSlot], tz: tzinfo, today: date, selected: date | None
) -> MonthCalendar:
    """The month starting on `first` as weeks of days (None outside the month), Monday first.

    `slots`: the month's open slots, each with `seats_bookable` (0 when full).
    `today` is the merchant's local today; paging back stops at its month.
    """
    days = {d: CalendarDay(day=d) for d in calendar.Calendar().itermonthdates(first.year, first.month)}
    for slot in slots:
        cell = days.get(local_day(slot.starts_at, tz))
        if cell is None or cell.day.month != first.month:
            continue
        cell.times += 1
        if slot.seats_bookable:
            cell.open_times += 1
    in_month = {d: cell for d, cell in days.items() if d.month == first.month}
    for cell in in_month.values():
        cell.is_today = cell.day == today
        cell.is_selected = cell.day == selected
    weeks: list[list[CalendarDay | None]] = []
    for week in calendar.Calendar().monthdatescalendar(first.year, first.month):
        weeks.append([in_month.get(d) for d in week])
    current = month_start(today)
    return MonthCalendar(
        first=first,
        weeks=weeks,
        previous=add_months(first, -1) if first > current else None,
        next=add_months(first, 1) if first < add_months(current, MAX_MONTHS_AHEAD) else None,
        days=in_month,
    )


def month_in_range(first: date, *, today: date) -> bool:
    """May the page show this month: from the current local month to MAX_MONTHS_AHEAD after it."""
    current = month_start(today)
    return current <= first <= add_months(current, MAX_MONTHS_AHEAD)
