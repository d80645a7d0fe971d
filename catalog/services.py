"""Writes of themes and slots.

Slot creation for one theme is serialised by a lock on the theme row, so the
overlap pre-check gives a clear error and the exclusion constraint stays a
backstop that is never hit in normal operation. Only the theme row is locked,
and FOR NO KEY UPDATE: the merchant row stays free (approval, suspension, new
themes), and inserts that merely reference the theme (reviews) do not wait.
"""

from __future__ import annotations

import re
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
from catalog.limits import (
    MAX_CANCELLATION_HOURS_BEFORE,
    MAX_CANCELLATION_TIERS,
    MAX_MIN_PLAYERS,
    MAX_MIN_PLAYERS_DEADLINE_HOURS,
    MAX_PRICE,
    MAX_PRICE_TIERS,
    MAX_REMINDER_OFFSET_HOURS,
    MAX_REMINDER_OFFSETS,
    PRICE_TIER_CODE_PATTERN,
    PRICE_TIER_LABEL_MAX_LENGTH,
    SCHEDULE_MAX_DAYS,
    SLOT_MAX_DAYS_AHEAD,
)
from catalog.models import BookingMode, Slot, SlotStatus, Theme
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
    # How it is sold (API.md "Theme and slot fields"): `_validate_selling`.
    "booking_mode",
    "private_price",
    "price_tiers",
    "min_players",
    "min_players_deadline_hours",
    "cancellation_policy",
    # Reminder emails this many hours before the start (bookings.reminders): `theme_reminder_offsets_clean`.
    "reminder_offsets_hours",
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


def _whole(value: Any, low: int, high: int) -> bool:
    """An int (not a bool) within [low, high]."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _clean_price_tiers(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_PRICE_TIERS:
        raise InvalidInput(
            "invalid_price_tiers", f"Give at most {MAX_PRICE_TIERS} ticket tiers, as a list.", field="price_tiers"
        )
    cleaned: list[dict[str, Any]] = []
    for tier in value:
        if not isinstance(tier, dict):
            raise InvalidInput("invalid_price_tiers", "Each tier is {code, label, price}.", field="price_tiers")
        code, label, price = tier.get("code"), tier.get("label"), tier.get("price")
        if not isinstance(code, str) or not re.fullmatch(PRICE_TIER_CODE_PATTERN, code):
            raise InvalidInput(
                "invalid_price_tiers",
                "A tier code is 1 to 20 lowercase letters, digits, '-' or '_' (e.g. adult).",
                field="price_tiers",
            )
        label = label.strip() if isinstance(label, str) else ""
        if not 1 <= len(label) <= PRICE_TIER_LABEL_MAX_LENGTH:
            raise InvalidInput(
                "invalid_price_tiers",
                f"A tier label is 1 to {PRICE_TIER_LABEL_MAX_LENGTH} characters.",
                field="price_tiers",
            )
        if not _whole(price, 0, MAX_PRICE):
            raise InvalidInput(
                "invalid_price_tiers",
                f"A tier price is a whole number of minor units from 0 to {MAX_PRICE}.",
                field="price_tiers",
            )
        if any(t["code"] == code for t in cleaned):
            raise InvalidInput("invalid_price_tiers", f"The tier code {code!r} is used twice.", field="price_tiers")
        cleaned.append({"code": code, "label": label, "price": price})
    return cleaned


def _clean_cancellation_policy(value: Any) -> list[dict[str, int]]:
    """Validated refund tiers, largest `hours_before` first (the order in which they apply)."""
    if not isinstance(value, list) or len(value) > MAX_CANCELLATION_TIERS:
        raise InvalidInput(
            "invalid_cancellation_policy",
            f"Give at most {MAX_CANCELLATION_TIERS} refund tiers, as a list.",
            field="cancellation_policy",
        )
    cleaned: list[dict[str, int]] = []
    for tier in value:
        hours: Any = tier.get("hours_before") if isinstance(tier, dict) else None
        percent: Any = tier.get("refund_percent") if isinstance(tier, dict) else None
        if not _whole(hours, 0, MAX_CANCELLATION_HOURS_BEFORE) or not _whole(percent, 0, 100):
            raise InvalidInput(
                "invalid_cancellation_policy",
                f"Each refund tier is {{hours_before: 0..{MAX_CANCELLATION_HOURS_BEFORE}, refund_percent: 0..100}}.",
                field="cancellation_policy",
            )
        if any(t["hours_before"] == hours for t in cleaned):
            raise InvalidInput(
                "invalid_cancellation_policy",
                f"Two refund tiers start {hours} hours before.",
                field="cancellation_policy",
            )
        cleaned.append({"hours_before": hours, "refund_percent": percent})
    return sorted(cleaned, key=lambda t: -t["hours_before"])


def _validate_selling(fields: dict[str, Any]) -> None:
    """Check and normalise, in place, the fields that say how a theme is sold (catalog.limits)."""
    if "booking_mode" in fields and fields["booking_mode"] not in BookingMode.values:
        raise InvalidInput("invalid_booking_mode", "booking_mode is shared or private.", field="booking_mode")
    if "private_price" in fields and not (
        fields["private_price"] is None or _whole(fields["private_price"], 0, MAX_PRICE)
    ):
        raise InvalidInput(
            "invalid_private_price",
            f"The private price must be between 0 and {MAX_PRICE} minor units, or empty.",
            field="private_price",
        )
    if "price_tiers" in fields:
        fields["price_tiers"] = _clean_price_tiers(fields["price_tiers"])
    if "min_players" in fields and not _whole(fields["min_players"], 1, MAX_MIN_PLAYERS):
        raise InvalidInput(
            "invalid_min_players", f"min_players must be between 1 and {MAX_MIN_PLAYERS}.", field="min_players"
        )
    if "min_players_deadline_hours" in fields and not _whole(
        fields["min_players_deadline_hours"], 0, MAX_MIN_PLAYERS_DEADLINE_HOURS
    ):
        raise InvalidInput(
            "invalid_min_players_deadline",
            f"min_players_deadline_hours must be between 0 and {MAX_MIN_PLAYERS_DEADLINE_HOURS}.",
            field="min_players_deadline_hours",
        )
    if "cancellation_policy" in fields:
        fields["cancellation_policy"] = _clean_cancellation_policy(fields["cancellation_policy"])
    if "reminder_offsets_hours" in fields:
        fields["reminder_offsets_hours"] = theme_reminder_offsets_clean(fields["reminder_offsets_hours"])


def theme_reminder_offsets_clean(value: Any) -> list[int]:
    """Reminder offsets as stored: up to MAX_REMINDER_OFFSETS distinct whole hours, largest first; [] = none.

    Shared by the API, the merchant's theme form and the admin, so all three refuse the same values.
    """
    message = (
        f"Give at most {MAX_REMINDER_OFFSETS} different whole numbers of hours between 1 and "
        f"{MAX_REMINDER_OFFSET_HOURS} (e.g. 24, 2), or none."
    )
    if not isinstance(value, list) or len(value) > MAX_REMINDER_OFFSETS:
        raise InvalidInput("invalid_reminder_offsets", message, field="reminder_offsets_hours")
    if not all(_whole(hours, 1, MAX_REMINDER_OFFSET_HOURS) for hours in value) or len(set(value)) != len(value):
        raise InvalidInput("invalid_reminder_offsets", message, field="reminder_offsets_hours")
    return sorted(value, reverse=True)


def _validate_private_price(booking_mode: str, private_price: int | None) -> None:
    """A flat price for the whole slot only makes sense when a booking takes the whole slot."""
    if private_price is not None and booking_mode != BookingMode.PRIVATE:
        raise InvalidInput(
            "invalid_private_price", "A private price is only for private themes.", field="private_price"
        )


def slot_price_validate(*, theme: Theme, price: int | None) -> None:
    """A slot's peak `price`: 0..MAX_PRICE, on a theme whose price it can override (bookings.pricing).

    It overrides the per-person price, or a private theme's flat price; tier
    prices are the theme's, so a tiered theme without a flat price refuses it
    rather than ignore it.
    """
    if price is None:
        return
    if not _whole(price, 0, MAX_PRICE):
        raise InvalidInput("invalid_price", f"The price must be between 0 and {MAX_PRICE} minor units.", field="price")
    flat = theme.booking_mode == BookingMode.PRIVATE and theme.private_price is not None
    if theme.price_tiers and not flat:
        raise InvalidInput(
            "invalid_price",
            "This theme is priced by ticket tiers: a slot price would not change them.",
            field="price",
        )


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
    _validate_selling(data)
    _validate_private_price(data.get("booking_mode", BookingMode.SHARED), data.get("private_price"))
    return Theme.objects.create(merchant=merchant, **data)


def theme_update(*, theme: Theme, **fields: Any) -> Theme:
    changes = {k: v for k, v in fields.items() if k in THEME_EDITABLE_FIELDS}
    _validate_money(changes)
    _validate_venue(changes)
    _validate_selling(changes)
    for name, value in changes.items():
        setattr(theme, name, value)
    _validate_party_range(theme.min_party, theme.max_party)
    _validate_private_price(theme.booking_mode, theme.private_price)
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
    price: int | None = None,
    now: datetime | None = None,
) -> Slot:
    """Open one slot; `price` is its peak price (`slot_price_validate`), None for the theme's."""
    now = now or timezone.now()
    slot_price_validate(theme=theme, price=price)
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
                return Slot.objects.create(
                    theme=theme, starts_at=starts_at, ends_at=ends_at, capacity=capacity, price=price
                )
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
    price: int | None = None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Create a weekly schedule, each slot at `price` (peak; None for the theme's); returns (created, skipped)."""
    slot_price_validate(theme=theme, price=price)
    with transaction.atomic():
        locked = _lock_theme(theme)
        plan = slot_schedule_plan(
            theme=locked, start_date=start_date, end_date=end_date, weekdays=weekdays, times=times, now=now
        )
        Slot.objects.bulk_create(
            Slot(theme=locked, starts_at=s, ends_at=e, capacity=capacity, price=price) for s, e in plan.to_create
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
