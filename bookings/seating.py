"""Seat rules shared by the booking engine (bookings.services) and the waitlist (bookings.waitlist).

Below both, so that each may use them without an import cycle between the
modules of `bookings` (the `acyclic` import-linter contract): whether a slot
takes new bookings, how many seats are free under the slot lock, and the side
effects of a confirmation (the emails and the minimum-players stamp).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from bookings.merchant_notifications import merchant_notice_record
from bookings.models import SETTLED_HOLDING_STATUSES, Booking, MerchantBookingEvent
from bookings.pricing import is_private
from bookings.selectors import seats_taken
from bookwise import outbox
from bookwise.transactions import require_atomic
from catalog.minimum import has_minimum, minimum_closes_joins
from catalog.models import Slot, SlotStatus
from catalog.selectors import theme_is_bookable

# Dispatched by name through bookwise.outbox: a services module imports no tasks module.
SEND_CONFIRMED_TASK = "bookings.tasks.send_booking_confirmed"
SEND_GUARANTEED_TASK = "bookings.tasks.send_slot_guaranteed"


def slot_closed_reason(slot: Slot, now: datetime) -> str | None:
    """Why `slot` takes no new booking now (cancelled, started, theme not bookable, below its minimum), or None."""
    theme = slot.theme
    if slot.status != SlotStatus.OPEN:
        return "This slot was cancelled."
    if slot.starts_at <= now:
        return "This slot has already started."
    if not theme_is_bookable(theme=theme):
        return "This theme is not bookable."
    if minimum_closes_joins(slot=slot, theme=theme, now=now):
        return f"This slot did not reach its minimum of {theme.min_players} players in time and will not run."
    return None


def seats_free(*, slot: Slot, now: datetime) -> int:
    """Seats a new party may take on `slot` now: none on a private slot someone holds. Caller holds the slot lock."""
    require_atomic()
    taken = seats_taken(slot_id=slot.pk, now=now)
    if is_private(slot.theme) and taken > 0:
        return 0
    return max(slot.capacity - taken, 0)


def notify_confirmed(booking_id: int) -> None:
    """Queue the confirmation email in the caller's transaction (bookwise.outbox); it is sent after commit.

    Caller is inside the transaction that confirmed the booking and holds the
    booking row lock. The merchant's notice (an email now, or a line of the
    hourly digest, per the merchant's choice) is written here too.
    """
    outbox.enqueue(SEND_CONFIRMED_TASK, booking_id)
    merchant_notice_record(booking_id=booking_id, event=MerchantBookingEvent.CONFIRMED)


def slot_stamp_guaranteed(*, slot: Slot, now: datetime | None = None) -> bool:
    """Stamp `guaranteed_at` once a slot's confirmed seats reach its theme's minimum, and tell its customers.

    Called in the transaction that confirmed seats (a free join, a payment, a
    move onto the slot, a free waitlist offer), by a caller holding the slot
    row lock: two confirmations cannot both stamp. Only settled seats count,
    so an unpaid hold that runs out never un-guarantees a slot its customers
    were told will run. One "your slot will run" email per settled booking,
    queued through bookwise.outbox. Returns whether this call stamped the slot.
    """
    require_atomic()
    now = now or timezone.now()
    theme = slot.theme
    if not has_minimum(theme) or slot.guaranteed_at is not None or slot.status != SlotStatus.OPEN:
        return False
    settled = list(
        Booking.objects.filter(slot_id=slot.pk, status__in=SETTLED_HOLDING_STATUSES)
        .order_by("pk")
        .values_list("pk", "party_size")
    )
    if sum(size for _, size in settled) < theme.min_players:
        return False
    slot.guaranteed_at = now
    slot.save(update_fields=["guaranteed_at", "updated_at"])
    for booking_id, _ in settled:
        outbox.enqueue(SEND_GUARANTEED_TASK, booking_id)
    return True
