"""The booking engine: join, cancel, confirm after payment, expire, attendance.

Seat rules (PRODUCT.md): a join counts seats and inserts its booking inside
one transaction that holds the slot's row lock, so no two joins on one slot
ever count at the same time, in any number of processes. Lock order, to stay
free of deadlocks: customer row, then slot row, then booking rows (then
payments' payment and refund rows, taken by checkout.services in the same
transaction).

The flows that also move money (a cancel with its refund, a confirmation from
a payment) are composed by checkout.services; the functions here are their
booking halves and run inside its transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from bookings.merchant_notifications import merchant_notice_record
from bookings.models import (
    SEAT_HOLDING_STATUSES,
    Booking,
    BookingStatus,
    BookingStatusChange,
    MerchantBookingEvent,
)
from bookings.policy import refund_deadline
from bookings.selectors import customer_free_upcoming_count, customer_unpaid_hold_count, seats_taken
from bookwise import outbox
from bookwise.errors import DomainError, InvalidInput
from bookwise.transactions import require_atomic
from catalog.models import Slot, SlotStatus
from catalog.selectors import theme_is_bookable
from merchants.permissions import user_manages

# Dispatched by name through bookwise.outbox: a services module imports no tasks module.
SEND_CONFIRMED_TASK = "bookings.tasks.send_booking_confirmed"

# Every legal move. Anything else is refused by `_transition`.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    BookingStatus.PENDING_PAYMENT: {BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.EXPIRED},
    BookingStatus.EXPIRED: {BookingStatus.CONFIRMED},  # a late payment while seats are still free
    BookingStatus.CONFIRMED: {BookingStatus.CANCELLED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW},
    BookingStatus.ATTENDED: {BookingStatus.NO_SHOW},
    BookingStatus.NO_SHOW: {BookingStatus.ATTENDED},
    BookingStatus.CANCELLED: set(),
}


def _transition(
    booking: Booking, to: str, *, by: User | None = None, reason: str = "", now: datetime | None = None
) -> None:
    """Move a booking to `to` and write the audit row. Caller holds the booking row lock."""
    require_atomic()
    now = now or timezone.now()
    current = booking.status
    if to not in ALLOWED_TRANSITIONS.get(current, set()):
        raise DomainError("invalid_transition", f"A {current} booking cannot become {to}.")
    booking.status = to
    fields = ["status", "updated_at"]
    if to == BookingStatus.CONFIRMED:
        booking.confirmed_at = now
        booking.expires_at = None
        fields += ["confirmed_at", "expires_at"]
    elif to == BookingStatus.CANCELLED:
        booking.cancelled_at = now
        fields.append("cancelled_at")
    booking.save(update_fields=fields)
    BookingStatusChange.objects.create(
        booking=booking,
        from_status=current,
        to_status=to,
        changed_by=by if getattr(by, "pk", None) else None,
        reason=reason[:200],
    )


def _slot_closed_reason(slot: Slot, now: datetime) -> str | None:
    theme = slot.theme
    if slot.status != SlotStatus.OPEN:
        return "This slot was cancelled."
    if slot.starts_at <= now:
        return "This slot has already started."
    if not theme_is_bookable(theme=theme):
        return "This theme is not bookable."
    return None


def hold_expiry(*, starts_at: datetime, now: datetime) -> datetime:
    """When an unpaid hold made at `now` runs out: BOOKING_HOLD_MINUTES later, never after the slot's start."""
    return min(now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES), starts_at)


def booking_join(*, slot_id: int, customer: User, party_size: int = 1, now: datetime | None = None) -> Booking:
    """Hold `party_size` seats on a slot for a customer.

    A paid theme gives a `pending_payment` hold for BOOKING_HOLD_MINUTES, cut
    short at the slot's start (`hold_expiry`); a free theme confirms at once.
    Raises DomainError slot_full / already_booked / slot_closed /
    too_many_holds, InvalidInput for a party size out of range.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # The customer row lock serialises one customer's joins, so the
        # unpaid-holds limit cannot be passed by joining many slots at once.
        get_user_model().objects.select_for_update().only("pk").get(pk=customer.pk)
        try:
            slot = (
                Slot.objects.select_for_update(of=("self",)).select_related("theme", "theme__merchant").get(pk=slot_id)
            )
        except Slot.DoesNotExist:
            raise DomainError("not_found", "No such slot.", http_status=404) from None
        theme = slot.theme
        # Read the merchant again now that the slot is locked: the row joined above is as of the
        # statement's start, and a suspension that held this slot's lock may have committed since
        # (checkout.services.merchant_suspend locks the merchant's slots before listing bookings).
        theme.merchant.refresh_from_db(fields=["status"])

        closed = _slot_closed_reason(slot, now)
        if closed:
            raise DomainError("slot_closed", closed)
        if not theme.min_party <= party_size <= theme.max_party:
            raise InvalidInput(
                "invalid_party_size",
                f"Party size must be between {theme.min_party} and {theme.max_party}.",
                field="party_size",
            )

        existing = (
            Booking.objects.select_for_update()
            .filter(slot=slot, customer_id=customer.pk, status__in=SEAT_HOLDING_STATUSES)
            .first()
        )
        if existing is not None:
            if _hold_ran_out(existing, now):
                # The customer's own hold ran out but the sweep has not run yet.
                _transition(existing, BookingStatus.EXPIRED, reason="hold expired (found at re-join)", now=now)
            else:
                raise DomainError("already_booked", "You already have a booking on this slot.")

        is_free = theme.price == 0
        # Both caps are counted under the customer row lock taken above, so parallel
        # joins of one customer (API, portal, several slots) cannot pass them together.
        if not is_free and customer_unpaid_hold_count(customer_id=customer.pk, now=now) >= (
            settings.BOOKING_MAX_UNPAID_HOLDS
        ):
            raise DomainError(
                "too_many_holds",
                f"You already hold {settings.BOOKING_MAX_UNPAID_HOLDS} unpaid bookings: pay or cancel one first.",
            )
        # Free seats cost nothing to hoard: bound the free bookings held on slots still to come.
        if is_free and customer_free_upcoming_count(customer_id=customer.pk, now=now) >= (
            settings.BOOKING_MAX_FREE_HOLDS
        ):
            cap = settings.BOOKING_MAX_FREE_HOLDS
            raise DomainError(
                "too_many_holds",
                f"You already hold {cap} free booking{'' if cap == 1 else 's'} on upcoming slots: "
                "cancel one you will not use first.",
            )

        left = slot.capacity - seats_taken(slot_id=slot.pk, now=now)
        if party_size > left:
            raise DomainError("slot_full", f"Only {max(left, 0)} seats are left on this slot.")

        try:
            with transaction.atomic():
                booking = Booking.objects.create(
                    slot=slot,
                    customer_id=customer.pk,
                    party_size=party_size,
                    status=BookingStatus.CONFIRMED if is_free else BookingStatus.PENDING_PAYMENT,
                    amount=theme.price * party_size,
                    currency=theme.currency,
                    expires_at=None if is_free else hold_expiry(starts_at=slot.starts_at, now=now),
                    confirmed_at=now if is_free else None,
                )
        except IntegrityError:
            # Backstop: the conditional unique constraint (one active booking per slot).
            raise DomainError("already_booked", "You already have a booking on this slot.") from None
        BookingStatusChange.objects.create(
            booking=booking, from_status="", to_status=booking.status, changed_by=customer, reason="joined"
        )
        if is_free:
            _notify_confirmed(booking.pk)
    return booking


def _hold_ran_out(booking: Booking, now: datetime) -> bool:
    """An unpaid hold whose time is up, swept or not (booking_pending_has_expiry: a hold has an expires_at)."""
    return (
        booking.status == BookingStatus.PENDING_PAYMENT and booking.expires_at is not None and booking.expires_at <= now
    )


def _acts_for_merchant(booking: Booking, by: User | None) -> bool:
    """`by` cancels as the slot's (approved) merchant or an admin (merchant rules), not as the customer."""
    return by is not None and user_manages(by, booking.slot.theme.merchant)


def _customer_refund_deadline(booking: Booking) -> datetime:
    return refund_deadline(starts_at=booking.slot.starts_at, cutoff_hours=booking.slot.theme.cancellation_cutoff_hours)


@dataclass(frozen=True)
class CancelTerms:
    """Whether `by` may cancel a booking now, and what happens to the money.

    `refund` is True when a paid (confirmed, non-free) booking would be refunded
    in full. `reason` explains a refusal; `refund_deadline` is when a customer's
    paid booking stops being cancellable.
    """

    allowed: bool
    refund: bool = False
    reason: str = ""
    refund_deadline: datetime | None = None


def booking_cancel_terms(*, booking: Booking, by: User | None, now: datetime | None = None) -> CancelTerms:
    """The cancellation rule, shared by `booking_cancel` and the pages that explain it beforehand.

    Customers may cancel a paid booking up to the theme's cutoff before the
    start (full refund), an unpaid or free one until the start; merchants (and
    admins) may cancel until the slot ends, always with a full refund. Needs
    `booking.slot.theme.merchant` (loaded or loadable).
    """
    now = now or timezone.now()
    merchant_side = _acts_for_merchant(booking, by)
    if _hold_ran_out(booking, now):
        return CancelTerms(allowed=False, reason="This hold has already expired.")
    if booking.status not in (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED):
        return CancelTerms(
            allowed=False, reason=f"A {booking.get_status_display().lower()} booking cannot be cancelled."
        )
    paid = booking.status == BookingStatus.CONFIRMED and booking.amount > 0
    if merchant_side:
        if booking.slot.ends_at <= now:
            return CancelTerms(allowed=False, reason="This slot has already ended.")
        return CancelTerms(allowed=True, refund=paid)
    if paid:
        deadline = _customer_refund_deadline(booking)
        if now > deadline:
            return CancelTerms(
                allowed=False,
                reason=f"Paid bookings can be cancelled up to {booking.slot.theme.cancellation_cutoff_hours} hours "
                "before the start.",
                refund_deadline=deadline,
            )
        return CancelTerms(allowed=True, refund=True, refund_deadline=deadline)
    if booking.slot.starts_at <= now:
        return CancelTerms(allowed=False, reason="This slot has already started.")
    return CancelTerms(allowed=True)


@dataclass(frozen=True)
class Cancellation:
    """A cancel just made under the booking row lock: the booking, and on whose side it was made."""

    booking: Booking
    by_merchant: bool  # the slot's merchant or an admin cancelled (merchant rules), not the customer


def booking_cancel(*, booking_id: int, by: User | None, reason: str = "", now: datetime | None = None) -> Cancellation:
    """Cancel a booking and free its seats: the booking's half of checkout.services.booking_cancel_and_refund.

    The rule is `booking_cancel_terms`, applied under the booking row lock
    taken here. Runs inside the caller's transaction, which records the refund
    of a paid booking and queues the emails before it commits. Caller has
    already checked that `by` may see the booking.
    """
    require_atomic()
    now = now or timezone.now()
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("slot", "slot__theme", "slot__theme__merchant")
        .get(pk=booking_id)
    )
    terms = booking_cancel_terms(booking=booking, by=by, now=now)
    if not terms.allowed:
        raise DomainError("not_cancellable", terms.reason)
    by_merchant = _acts_for_merchant(booking, by)
    _transition(booking, BookingStatus.CANCELLED, by=by, reason=reason or "cancelled", now=now)
    return Cancellation(booking=booking, by_merchant=by_merchant)


def booking_lock_with_slot(*, booking_id: int) -> None:
    """Lock a booking's slot row, then the booking row: the lock order, for a flow that goes on to the payment.

    checkout.services takes these before payments locks the payment row of a
    succeeded intent, so the confirmation that follows (`booking_confirm_payment`)
    never waits for a lock out of order. Caller holds the transaction.
    """
    require_atomic()
    slot_id = Booking.objects.values_list("slot_id", flat=True).get(pk=booking_id)
    Slot.objects.select_for_update(of=("self",)).only("pk").get(pk=slot_id)
    Booking.objects.select_for_update(of=("self",)).only("pk").get(pk=booking_id)


class ConfirmOutcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    MUST_REFUND = "must_refund"  # paid, but the seats are gone or the booking was cancelled


def booking_confirm_payment(*, booking_id: int, now: datetime | None = None) -> ConfirmOutcome:
    """Apply a successful payment to its booking. Idempotent; never moves a booking backwards.

    A payment that lands after the hold ran out still confirms the booking when
    the seats are free, under the same slot lock as a join; otherwise the
    caller must refund it. A payment that lands once the slot has started is
    always refunded (the late-payment rule), even for a hold that had not run
    out by its own clock (holds made before they were cut short at the start).
    """
    now = now or timezone.now()
    slot_id = Booking.objects.filter(pk=booking_id).values_list("slot_id", flat=True).first()
    if slot_id is None:
        raise DomainError("not_found", "No such booking.", http_status=404)
    with transaction.atomic():
        slot = Slot.objects.select_for_update(of=("self",)).select_related("theme").get(pk=slot_id)
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking.status in (BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW):
            return ConfirmOutcome.ALREADY_CONFIRMED
        if booking.status == BookingStatus.CANCELLED:
            return ConfirmOutcome.MUST_REFUND
        slot_open = slot.status == SlotStatus.OPEN and slot.starts_at > now
        if booking.status == BookingStatus.PENDING_PAYMENT and not _hold_ran_out(booking, now) and slot_open:
            _transition(booking, BookingStatus.CONFIRMED, reason="payment succeeded", now=now)
        else:
            # Late payment: the hold ran out (swept or not), or the slot started or was cancelled first.
            # Same rules as a join.
            if booking.status == BookingStatus.PENDING_PAYMENT:
                if _hold_ran_out(booking, now):
                    why = "hold expired before payment"
                elif slot.status != SlotStatus.OPEN:
                    why = "slot cancelled before payment"
                else:
                    why = "slot started before payment"
                _transition(booking, BookingStatus.EXPIRED, reason=why, now=now)
            free = slot.capacity - seats_taken(slot_id=slot.pk, now=now, exclude_booking_id=booking.pk)
            still_bookable = slot_open and booking.party_size <= free
            if not still_bookable:
                return ConfirmOutcome.MUST_REFUND
            try:
                with transaction.atomic():
                    _transition(booking, BookingStatus.CONFIRMED, reason="late payment, seats still free", now=now)
            except IntegrityError:
                # The customer booked the slot again meanwhile: this payment is surplus.
                return ConfirmOutcome.MUST_REFUND
        _notify_confirmed(booking_id)
    return ConfirmOutcome.CONFIRMED


def bookings_expire_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Mark unpaid holds whose time ran out as expired. Safe to run twice and concurrently.

    Rows are claimed with SKIP LOCKED, so concurrent sweeps split the work and
    a booking being paid right now is left for the next sweep.
    """
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            due = list(
                Booking.objects.select_for_update(skip_locked=True)
                .filter(status=BookingStatus.PENDING_PAYMENT, expires_at__lte=now)
                .order_by("expires_at", "id")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not due:
                return total
            updated = Booking.objects.filter(pk__in=due, status=BookingStatus.PENDING_PAYMENT).update(
                status=BookingStatus.EXPIRED, updated_at=now
            )
            BookingStatusChange.objects.bulk_create(
                BookingStatusChange(
                    booking_id=pk,
                    from_status=BookingStatus.PENDING_PAYMENT,
                    to_status=BookingStatus.EXPIRED,
                    reason="hold expired",
                )
                for pk in due
            )
            total += updated
        if len(due) < batch_size:
            return total


def booking_mark_attendance(*, booking_id: int, status: str, by: User, now: datetime | None = None) -> Booking:
    """Mark a confirmed booking attended or no-show once its slot has started (may be changed later)."""
    now = now or timezone.now()
    if status not in (BookingStatus.ATTENDED, BookingStatus.NO_SHOW):
        raise InvalidInput("invalid_status", "Status must be attended or no_show.", field="status")
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).select_related("slot").get(pk=booking_id)
        if booking.status not in (BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW):
            raise DomainError("not_confirmed", "Only confirmed bookings can be marked.")
        if booking.slot.starts_at > now:
            raise DomainError("slot_not_started", "Attendance can be marked once the slot has started.")
        if booking.status != status:
            _transition(booking, status, by=by, reason="attendance", now=now)
    return booking


def _notify_confirmed(booking_id: int) -> None:
    """Queue the confirmation email in the caller's transaction (bookwise.outbox); it is sent after commit.

    Caller is inside the transaction that confirmed the booking and holds the
    booking row lock. The merchant's notice (an email now, or a line of the
    hourly digest, per the merchant's choice) is written here too.
    """
    outbox.enqueue(SEND_CONFIRMED_TASK, booking_id)
    merchant_notice_record(booking_id=booking_id, event=MerchantBookingEvent.CONFIRMED)


def slot_update_capacity(*, slot: Slot, capacity: int, now: datetime | None = None) -> Slot:
    """Change a slot's capacity; never below the seats already taken.

    Here rather than in catalog: the floor is a count of bookings, taken under
    the same slot lock as a join, so a join and a capacity cut cannot both win.
    """
    with transaction.atomic():
        locked = Slot.objects.select_for_update().get(pk=slot.pk)
        if locked.status != SlotStatus.OPEN:
            raise DomainError("slot_closed", "A cancelled slot cannot be changed.")
        taken = seats_taken(slot_id=locked.pk, now=now)
        if capacity < taken:
            raise DomainError(
                "capacity_below_booked", f"{taken} seats are already taken; capacity cannot go below that."
            )
        locked.capacity = capacity
        locked.save(update_fields=["capacity", "updated_at"])
    return locked
