"""The cancellation policy: its tiers, the refund they give, and the text that states them.

A theme's `cancellation_policy` is a list of tiers {hours_before, refund_percent}
(API.md "Theme and slot fields"); empty means today's single cutoff, a full
refund up to `cancellation_cutoff_hours` before the start (`effective_policy`).
A customer's cancellation refunds the percent of the first tier, largest
`hours_before` first, that is still ahead: its deadline, `hours_before` hours
before the start, is at or after now (the deadline itself still counts, as the
single cutoff always did). With no tier ahead a customer may still cancel, for
nothing back, only if some tier gives 0 %; otherwise not at all
(`refund_percent_at` answers None). Merchant and admin cancellations always
refund 100 % (bookings.services.booking_cancel_terms applies all this).

The refund is the percent of what the customer paid for the booking,
rounded half-even to the currency's minor unit, never more than that
(`refund_amount`). The texts say it before the card is charged and after, so
that nobody learns on the cancel page that their booking was never refundable.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.utils import timezone

NO_REFUND = "This booking cannot be cancelled for a refund"


@dataclass(frozen=True)
class RefundTier:
    """Cancelling up to `hours_before` hours before the start refunds `refund_percent` % of what was paid."""

    hours_before: int
    refund_percent: int


def policy_tiers(raw: Iterable[Mapping[str, Any]] | None, *, cutoff_hours: int) -> tuple[RefundTier, ...]:
    """The tiers of a stored policy, largest `hours_before` first; empty -> the single cutoff at 100 %.

    Entries that are not {hours_before >= 0, refund_percent in 0..100} are
    skipped (the API and the form validate them; this keeps a bad row from
    becoming a 500 on every page that states the policy).
    """
    tiers = []
    for entry in raw or ():
        try:
            hours, percent = int(entry["hours_before"]), int(entry["refund_percent"])
        except (KeyError, TypeError, ValueError):
            continue
        if hours >= 0 and 0 <= percent <= 100:
            tiers.append(RefundTier(hours_before=hours, refund_percent=percent))
    if not tiers:
        return (RefundTier(hours_before=cutoff_hours, refund_percent=100),)
    return tuple(sorted(tiers, key=lambda t: (-t.hours_before, -t.refund_percent)))


def effective_policy(theme: Any) -> tuple[RefundTier, ...]:
    """A theme's tiers, largest `hours_before` first (its `cancellation_policy`, or its single cutoff)."""
    return policy_tiers(theme.cancellation_policy, cutoff_hours=theme.cancellation_cutoff_hours)


def tier_deadline(tier: RefundTier, *, starts_at: datetime) -> datetime:
    """The last moment (inclusive) a cancellation gets this tier's refund."""
    return starts_at - timedelta(hours=tier.hours_before)


def current_tier(tiers: Iterable[RefundTier], *, starts_at: datetime, now: datetime) -> RefundTier | None:
    """The first tier (largest hours_before first) whose deadline is still ahead of `now` (or exactly now)."""
    for tier in tiers:
        if now <= tier_deadline(tier, starts_at=starts_at):
            return tier
    return None


def refund_percent_at(tiers: Iterable[RefundTier], *, starts_at: datetime, now: datetime) -> int | None:
    """The percent a customer's cancellation at `now` refunds; None when the policy refuses it (no tier ahead, no 0 %).

    `tiers` largest `hours_before` first (`effective_policy`).
    """
    tiers = tuple(tiers)
    tier = current_tier(tiers, starts_at=starts_at, now=now)
    if tier is not None:
        return tier.refund_percent
    if any(t.refund_percent == 0 for t in tiers):
        return 0
    return None


def refund_amount(*, paid: int, percent: int, left: int | None = None) -> int:
    """`percent` % of `paid` minor units, rounded half-even to a whole minor unit; never more than `left` (or paid)."""
    cap = paid if left is None else min(left, paid)
    if cap <= 0 or percent <= 0:
        return 0
    share = (Decimal(paid) * Decimal(percent) / Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return max(0, min(int(share), cap))


def refund_deadline(*, starts_at: datetime, cutoff_hours: int) -> datetime:
    """The last moment a customer may cancel a paid booking with a full refund under a single cutoff (inclusive)."""
    return starts_at - timedelta(hours=cutoff_hours)


def local_datetime(moment: datetime, tz_name: str) -> str:
    """A moment in a zone, the style of the booking emails: "Saturday 5 December 2026, 18:00 (Europe/Berlin)"."""
    local = moment.astimezone(zoneinfo.ZoneInfo(tz_name))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} ({tz_name})"


def time_until_in_words(delta: timedelta) -> str:
    """A wait in words, rounded down ("4 minutes", "3 hours", "2 days"): never more time than there is."""
    seconds = max(int(delta.total_seconds()), 0)
    minutes = seconds // 60
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'' if hours == 1 else 's'}"
    days = hours // 24
    return f"{days} days"


def short_local_datetime(moment: datetime, tz_name: str) -> str:
    """A moment in a zone, short, for the tier list of a policy: "Thu 3 Dec, 18:00"."""
    local = moment.astimezone(zoneinfo.ZoneInfo(tz_name))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def percent_in_words(percent: int) -> str:
    """ "full refund", "50 % refund", "no refund"."""
    if percent >= 100:
        return "full refund"
    if percent <= 0:
        return "no refund"
    return f"{percent} % refund"


def _is_single_cutoff(tiers: tuple[RefundTier, ...]) -> bool:
    """The shape of the default policy: one full-refund tier, then no cancellation (told as before)."""
    return len(tiers) == 1 and tiers[0].refund_percent == 100


@dataclass(frozen=True)
class CancellationPolicy:
    """What a customer is told about cancelling a booking on a slot.

    `text` is the policy, without a final full stop ("Free cancellation until
    ...", "Until Thu 3 Dec, 18:00: full refund; until Fri 4 Dec, 18:00: 50 %
    refund; after that: no refund", or "This booking cannot be cancelled for a
    refund"); `warning` is set only when a paid booking made (or paid) now
    falls inside the no-refund window, and names how soon the slot starts:
    "Starts in 4 minutes: this booking cannot be cancelled for a refund."
    `refund_percent` is what a customer's cancellation now would refund (None:
    not allowed; 100 for a free booking, which has nothing to refund);
    `deadline` is when the current refund ends (or the last tier's, past it).
    """

    paid: bool
    refundable: bool
    deadline: datetime | None
    text: str
    warning: str = ""
    refund_percent: int | None = 100


def cancellation_policy(
    *,
    starts_at: datetime,
    cutoff_hours: int,
    paid: bool,
    tz_name: str,
    now: datetime | None = None,
    tiers: tuple[RefundTier, ...] | None = None,
) -> CancellationPolicy:
    """The policy of a booking on a slot starting at `starts_at`, as it stands at `now`.

    `paid`: the booking costs money (a free one can be cancelled until the
    start, there is nothing to refund). `tiers`: the theme's
    (`effective_policy`); None means the single cutoff of `cutoff_hours`.
    Times are in `tz_name`, the merchant's zone. Only the tiers still ahead
    are listed.
    """
    now = now or timezone.now()
    if not paid:
        return CancellationPolicy(
            paid=False,
            refundable=True,
            deadline=None,
            text="Free booking: you can cancel it until the start",
        )
    tiers = tiers or policy_tiers(None, cutoff_hours=cutoff_hours)
    percent = refund_percent_at(tiers, starts_at=starts_at, now=now)
    tier = current_tier(tiers, starts_at=starts_at, now=now)
    deadline = tier_deadline(tier or tiers[-1], starts_at=starts_at)
    refundable = bool(percent)
    warning = (
        ""
        if refundable
        else f"Starts in {time_until_in_words(starts_at - now)}: this booking cannot be cancelled for a refund."
    )
    if _is_single_cutoff(tiers):
        text = f"Free cancellation until {local_datetime(deadline, tz_name)}" if refundable else NO_REFUND
        return CancellationPolicy(
            paid=True, refundable=refundable, deadline=deadline, text=text, warning=warning, refund_percent=percent
        )
    ahead = [t for t in tiers if now <= tier_deadline(t, starts_at=starts_at)]
    while ahead and ahead[-1].refund_percent == 0:
        ahead.pop()  # "after that: no refund" says it
    if not ahead:
        text = NO_REFUND
    else:
        after = "no refund" if any(t.refund_percent == 0 for t in tiers) else "no cancellation"
        parts = [
            f"until {short_local_datetime(tier_deadline(t, starts_at=starts_at), tz_name)}: "
            f"{percent_in_words(t.refund_percent)}"
            for t in ahead
        ]
        text = "; ".join([*parts, f"after that: {after}"])
        text = text[0].upper() + text[1:]
    return CancellationPolicy(
        paid=True, refundable=refundable, deadline=deadline, text=text, warning=warning, refund_percent=percent
    )


def policy_summary(tiers: tuple[RefundTier, ...]) -> str:
    """The policy without dates, for a theme's page: "Full refund up to 48 hours before the start; ..."."""
    parts = []
    for tier in tiers:
        if tier.refund_percent == 0 and tier is tiers[-1]:
            break
        hours = f"{tier.hours_before} hour{'' if tier.hours_before == 1 else 's'}"
        parts.append(f"{percent_in_words(tier.refund_percent)} up to {hours} before the start")
    after = "no refund" if any(t.refund_percent == 0 for t in tiers) else "no cancellation"
    if not parts:
        return "No refund if you cancel"
    text = "; ".join([*parts, f"after that: {after}"])
    return text[0].upper() + text[1:]


def slot_cancellation_policy(slot: Any, *, now: datetime | None = None) -> CancellationPolicy:
    """For a booking about to be made on `slot` (needs slot.theme.merchant): the booking form."""
    theme = slot.theme
    return cancellation_policy(
        starts_at=slot.starts_at,
        cutoff_hours=theme.cancellation_cutoff_hours,
        paid=theme.price > 0,
        tz_name=theme.merchant.timezone,
        now=now,
        tiers=effective_policy(theme),
    )


def booking_cancellation_policy(booking: Any, *, now: datetime | None = None) -> CancellationPolicy:
    """For an existing booking (needs booking.slot.theme.merchant): the checkout and the confirmation email."""
    slot = booking.slot
    theme = slot.theme
    return cancellation_policy(
        starts_at=slot.starts_at,
        cutoff_hours=theme.cancellation_cutoff_hours,
        paid=booking.amount > 0,
        tz_name=theme.merchant.timezone,
        now=now,
        tiers=effective_policy(theme),
    )
