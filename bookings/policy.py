"""The cancellation policy in words: one text for the booking form, the checkout and the confirmation email.

The rule itself is `bookings.services.booking_cancel_terms`: a customer may
cancel a paid booking for a full refund until `refund_deadline` (the theme's
cancellation_cutoff_hours before the start), a free one until the start. This
module only says it, before the card is charged and after, so that nobody
learns on the cancel page that their booking was never refundable.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

NO_REFUND = "This booking cannot be cancelled for a refund"


def refund_deadline(*, starts_at: datetime, cutoff_hours: int) -> datetime:
    """The last moment a customer may cancel a paid booking with a full refund (inclusive)."""
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


@dataclass(frozen=True)
class CancellationPolicy:
    """What a customer is told about cancelling a booking on a slot.

    `text` is the policy, without a final full stop ("Free cancellation until
    ..." or "This booking cannot be cancelled for a refund"); `warning` is set only when a paid booking made
    (or paid) now falls inside the no-refund window, and names how soon the
    slot starts: "Starts in 4 minutes: this booking cannot be cancelled for a refund."
    """

    paid: bool
    refundable: bool
    deadline: datetime | None
    text: str
    warning: str = ""


def cancellation_policy(
    *, starts_at: datetime, cutoff_hours: int, paid: bool, tz_name: str, now: datetime | None = None
) -> CancellationPolicy:
    """The policy of a booking on a slot starting at `starts_at`, as it stands at `now`.

    `paid`: the booking costs money (a free one can be cancelled until the
    start, there is nothing to refund). Times are in `tz_name`, the merchant's zone.
    """
    now = now or timezone.now()
    if not paid:
        return CancellationPolicy(
            paid=False,
            refundable=True,
            deadline=None,
            text="Free booking: you can cancel it until the start",
        )
    deadline = refund_deadline(starts_at=starts_at, cutoff_hours=cutoff_hours)
    if now <= deadline:
        return CancellationPolicy(
            paid=True,
            refundable=True,
            deadline=deadline,
            text=f"Free cancellation until {local_datetime(deadline, tz_name)}",
        )
    return CancellationPolicy(
        paid=True,
        refundable=False,
        deadline=deadline,
        text=NO_REFUND,
        warning=f"Starts in {time_until_in_words(starts_at - now)}: this booking cannot be cancelled for a refund.",
    )


def slot_cancellation_policy(slot, *, now: datetime | None = None) -> CancellationPolicy:
    """For a booking about to be made on `slot` (needs slot.theme.merchant): the booking form."""
    theme = slot.theme
    return cancellation_policy(
        starts_at=slot.starts_at,
        cutoff_hours=theme.cancellation_cutoff_hours,
        paid=theme.price > 0,
        tz_name=theme.merchant.timezone,
        now=now,
    )


def booking_cancellation_policy(booking, *, now: datetime | None = None) -> CancellationPolicy:
    """For an existing booking (needs booking.slot.theme.merchant): the checkout and the confirmation email."""
    slot = booking.slot
    theme = slot.theme
    return cancellation_policy(
        starts_at=slot.starts_at,
        cutoff_hours=theme.cancellation_cutoff_hours,
        paid=booking.amount > 0,
        tz_name=theme.merchant.timezone,
        now=now,
    )
