"""Writes of themes and slots.

Slot creation for one theme is serialised by a lock on the theme row, so the
overlap pre-check gives a clear error and the exclusion constraint stays a
backstop that is never hit in normal operation. Only the theme row is locked,
and FOR NO KEY UPDATE: the merchant row stays free (approval, suspension, new
themes), and inserts that merely reference the theme (reviews) do not wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from bookwise import money
from bookwise.errors import DomainError, InvalidInput
from bookwise.timezones import local_day_bounds, local_to_utc
from bookwise.transactions import require_atomic
from catalog.limits import MAX_PRICE, SCHEDULE_MAX_DAYS, SLOT_MAX_DAYS_AHEAD
from catalog.models import Slot, SlotStatus, Theme
from merchants.models import Merchant
from merchants.places import countries

THEME_EDITABLE_FIELDS = (
    "title",
    "description",
    "duration_minutes",
    "price",
    "currency",
    "min_party",
    "max_party",
    "cancellation_cutoff_hours",
    "is_active",
    # Blank: the merchant's address (catalog.venue).
    "venue_street",
    "venue_postcode",
    "venue_city",
    "venue_country",
)


def _validate_party_range(min_party: int, max_party: int) -> None:
    if min_party > max_party:
        raise InvalidInput("invalid_party_range", "min_party must not exceed max_party.", field="min_party")


def _validate_money(fields: dict[str, Any]) -> None:
    """Normalise `currency` in place (`"EUR"` -> `"eur"`); refuse one outside bookwise.money's table."""
    if "currency" in fields:
        try:
            fields["currency"] = money.normalize_currency(fields["currency"])
        except money.UnsupportedCurrency as exc:
            raise InvalidInput("unsupported_currency", str(exc), field="currency") from None
    if "price" in fields and not 0 <= fields["price"] <= MAX_PRICE:
        raise InvalidInput("invalid_price", f"The price must be between 0 and {MAX_PRICE} minor units.", field="price")


def _validate_venue(fields: dict[str, Any]) -> None:
    """Strip the venue fields in place; `venue_country` must be an ISO 3166-1 alpha-2 code (or blank)."""
    for name in ("venue_street", "venue_postcode", "venue_city", "venue_country"):
        if name in fields:
            fields[name] = (fields[name] or "").strip()
    if fields.get("venue_country"):
        fields["venue_country"] = fields["venue_country"].upper()
        if fields["venue_country"] not in countries():
            raise InvalidInput("invalid_country", "Use an ISO 3166-1 country code, e.g. PT.", field="venue_country")


def theme_create(*, merchant: Merchant, **fields: Any) -> Theme:
    data = {k: v for k, v in fields.items() if k in THEME_EDITABLE_FIELDS}
    _validate_party_range(data.get("min_party", 1), data.get("max_party", 6))
    # No currency given: the one of the merchant's country (bookwise.money.COUNTRY_CURRENCIES).
    data.setdefault("currency", money.currency_for_country(merchant.country))
    _validate_money(data)
    _validate_venue(data)
    return Theme.objects.create(merchant=merchant, **data)


def theme_update(*, theme: Theme, **fields: Any) -> Theme:
    changes = {k: v for k, v in fields.items() if k in THEME_EDITABLE_FIELDS}
    _validate_money(changes)
    _validate_venue(changes)
    for name, value in changes.items():
        setattr(theme, name, value)
    _validate_party_range(theme.min_party, theme.max_party)
    if changes:
        theme.save(update_fields=[*changes, "updated_at"])
    return theme


def theme_deactivate(*, theme: Theme) -> Theme:
    """Hide a theme from the catalog; its slots, bookings and reviews stay as history."""
    if theme.is_active:
        theme.is_active = False
        theme.save(update_fields=["is_active", "updated_at"])
    return theme


def _overlapping_slots(theme_id: int, starts_at: datetime, ends_at: datetime) -> QuerySet[Slot]:
    return Slot.objects.filter(theme_id=theme_id, starts_at__lt=ends_at, ends_at__gt=starts_at).exclude(
        status=SlotStatus.CANCELLED
    )


def latest_slot_day(*, merchant: Merchant, now: datetime | None = None) -> date:
    """The last local day on which a slot of `merchant` may start."""
    return timezone.localdate(now or timezone.now(), merchant.tzinfo) + timedelta(days=SLOT_MAX_DAYS_AHEAD)


def _lock_theme(theme: Theme) -> Theme:
    """Lock the theme row (not its merchant's: `of`), which serialises slot writes of this theme.

    NO KEY: the lock conflicts with itself and with updates of the theme, not
    with the key-share locks that inserts referencing the theme take.
    """
    return Theme.objects.select_for_update(of=("self",), no_key=True).select_related("merchant").get(pk=theme.pk)


def slot_create(
    *,
    theme: Theme,
    starts_at: datetime,
    capacity: int,
    ends_at: datetime | None = None,
    now: datetime | None = None,
) -> Slot:
    now = now or timezone.now()
    if starts_at <= now:
        raise InvalidInput("start_in_past", "A slot must start in the future.", field="starts_at")
    merchant = theme.merchant
    latest = latest_slot_day(merchant=merchant, now=now)
    # Compared as instants: the first moment of the day after `latest`, in the merchant's timezone.
    if starts_at >= local_day_bounds(day=latest, tz=merchant.tzinfo)[1]:
        raise InvalidInput(
            "too_far_ahead",
            f"Slots can be opened at most two years ahead: the last possible day is {latest:%d %B %Y}.",
            field="starts_at",
        )
    if ends_at is None:
        ends_at = starts_at + timedelta(minutes=theme.duration_minutes)  # at most two years ahead: no overflow
    if ends_at <= starts_at:
        raise InvalidInput("invalid_end", "A slot must end after it starts.", field="ends_at")
    with transaction.atomic():
        _lock_theme(theme)
        if _overlapping_slots(theme.pk, starts_at, ends_at).exists():
            raise DomainError("slot_overlap", "This slot overlaps another slot of the same theme.")
        try:
            with transaction.atomic():
                return Slot.objects.create(theme=theme, starts_at=starts_at, ends_at=ends_at, capacity=capacity)
        except IntegrityError:
            raise DomainError("slot_overlap", "This slot overlaps another slot of the same theme.") from None


@dataclass(frozen=True)
class SchedulePlan:
    to_create: list[tuple[datetime, datetime]]
    overlapping: list[tuple[datetime, datetime]]
    skipped_past_or_invalid: int

    @property
    def skipped(self) -> int:
        return len(self.overlapping) + self.skipped_past_or_invalid


def slot_schedule_plan(
    *,
    theme: Theme,
    start_date: date,
    end_date: date,
    weekdays: list[int],
    times: list[time],
    now: datetime | None = None,
) -> SchedulePlan:
    """What a weekly schedule would create, in the merchant's timezone (a 10:00 slot stays 10:00 local).

    Local times that do not exist on a day (the spring-forward gap) and times
    already past are skipped; slots that would overlap existing ones (or each
    other) are reported, not created.
    """
    now = now or timezone.now()
    if end_date < start_date:
        raise InvalidInput("invalid_range", "end_date must not be before start_date.", field="end_date")
    if (end_date - start_date).days >= SCHEDULE_MAX_DAYS:
        raise InvalidInput("schedule_too_long", "A schedule may span at most one year.", field="end_date")
    latest = latest_slot_day(merchant=theme.merchant, now=now)
    if end_date > latest:
        raise InvalidInput(
            "too_far_ahead",
            f"Slots can be opened at most two years ahead: end the schedule on {latest:%d %B %Y} at the latest.",
            field="end_date",
        )
    if any(not 0 <= d <= 6 for d in weekdays):
        raise InvalidInput("invalid_weekday", "Weekdays are 0 (Monday) to 6 (Sunday).", field="weekdays")
    days = (end_date - start_date).days + 1
    wanted_days = set(weekdays)
    estimate = sum(1 for i in range(days) if (start_date + timedelta(days=i)).weekday() in wanted_days) * len(
        set(times)
    )
    if estimate > settings.SLOT_BULK_MAX:
        raise InvalidInput(
            "too_many_slots",
            f"This schedule would create {estimate} slots; at most {settings.SLOT_BULK_MAX} per call.",
            field="non_field_errors",
        )
    tz = theme.merchant.tzinfo
    duration = timedelta(minutes=theme.duration_minutes)
    candidates: list[tuple[datetime, datetime]] = []
    invalid = 0
    for i in range(days):
        day = start_date + timedelta(days=i)
        if day.weekday() not in wanted_days:
            continue
        for at in sorted(set(times)):
            try:
                starts = local_to_utc(day=day, at=at, tz=tz)
                ends = starts + duration if starts is not None else None
            except OverflowError:
                # The first or last day of the datetime range, shifted by the
                # merchant's offset or the duration, leaves what Python can represent.
                raise InvalidInput(
                    "out_of_range", "These dates are outside the supported range.", field="non_field_errors"
                ) from None
            if starts is None or ends is None or starts <= now:
                invalid += 1
                continue
            candidates.append((starts, ends))
    if not candidates:
        return SchedulePlan([], [], invalid)

    window_start, window_end = candidates[0][0], max(end for _, end in candidates)
    taken = list(
        _overlapping_slots(theme.pk, window_start, window_end).order_by("starts_at").values_list("starts_at", "ends_at")
    )
    to_create: list[tuple[datetime, datetime]] = []
    overlapping: list[tuple[datetime, datetime]] = []
    for starts, ends in sorted(candidates):
        clash = any(s < ends and e > starts for s, e in taken)
        if clash:
            overlapping.append((starts, ends))
        else:
            to_create.append((starts, ends))
            taken.append((starts, ends))
    return SchedulePlan(to_create, overlapping, invalid)


def slot_bulk_create(
    *,
    theme: Theme,
    start_date: date,
    end_date: date,
    weekdays: list[int],
    times: list[time],
    capacity: int,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Create a weekly schedule; returns (created, skipped)."""
    with transaction.atomic():
        locked = _lock_theme(theme)
        plan = slot_schedule_plan(
            theme=locked, start_date=start_date, end_date=end_date, weekdays=weekdays, times=times, now=now
        )
        Slot.objects.bulk_create(
            Slot(theme=locked, starts_at=s, ends_at=e, capacity=capacity) for s, e in plan.to_create
        )
    return len(plan.to_create), plan.skipped


def slots_lock_upcoming(*, merchant_id: int, now: datetime) -> list[int]:
    """Lock every slot of the merchant still to come, in pk order; returns their ids.

    For a flow that changes the merchant under its row lock (suspension): a
    join holds its slot's lock while it checks the merchant, so once these
    locks are held no join on the merchant is in flight, and every later join
    waits here and then sees the change. Caller holds the transaction and the
    merchant row lock (lock order: merchant, slots, bookings).
    """
    require_atomic()
    return list(
        Slot.objects.select_for_update(of=("self",))
        .filter(theme__merchant_id=merchant_id, starts_at__gt=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def slot_mark_cancelled(*, slot_id: int) -> tuple[Slot, bool]:
    """Mark a slot cancelled under its row lock: the slot's half of checkout.services.slot_cancel_and_refund.

    Returns the locked slot and whether this call cancelled it (False: it
    already was). Caller holds the transaction in which the slot's bookings
    are cancelled and refunded after this lock (lock order: slot, bookings,
    payments).
    """
    require_atomic()
    locked = Slot.objects.select_for_update().get(pk=slot_id)
    if locked.status == SlotStatus.CANCELLED:
        return locked, False
    locked.status = SlotStatus.CANCELLED
    locked.save(update_fields=["status", "updated_at"])
    return locked, True
