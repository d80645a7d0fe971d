"""Wall-clock dates and times in a named timezone, turned into instants.

Merchants schedule and read their slots in their own timezone; every place
that turns a local day or time into an instant asks here, so daylight-saving
gaps and 23- or 25-hour days are handled one way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def local_to_utc(*, day: date, at: time, tz: tzinfo) -> datetime | None:
    """The UTC instant of the wall-clock time `at` on `day` in `tz`, or None when the clocks skip it (DST gap)."""
    local = datetime.combine(day, at, tzinfo=tz)
    as_utc = local.astimezone(UTC)
    if as_utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return as_utc


def local_day_bounds(*, day: date, tz: tzinfo, days: int = 1) -> tuple[datetime, datetime]:
    """The first instant of `day` and of the day `days` later, as local midnights in `tz`.

    Built from local midnights, not by adding hours, so a day with a
    daylight-saving change is 23 or 25 hours long, as the merchant's calendar says.
    """
    return (
        datetime.combine(day, time.min, tzinfo=tz),
        datetime.combine(day + timedelta(days=days), time.min, tzinfo=tz),
    )
