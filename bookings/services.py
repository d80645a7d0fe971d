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
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import User
from bookings.models import (
    SEAT_HOLDING_STATUSES,
    Booking,
    BookingStatus,
    BookingStatusChange,
)
from bookings.policy import effective_policy, refund_amount, refund_percent_at, tier_deadline
from bookings.pricing import Ticket, booking_price, is_private
from bookings.promo import (
    promo_discount,
    promo_find,
    promo_follow_transition,
    promo_give_back_expired,
    promo_redeem,
)
from bookings.seating import SEND_CONFIRMED_TASK as SEND_CONFIRMED_TASK
from bookings.seating import SEND_GUARANTEED_TASK as SEND_GUARANTEED_TASK
from bookings.seating import notify_confirmed as _notify_confirmed
from bookings.seating import slot_closed_reason as _slot_closed_reason
from bookings.seating import slot_stamp_guaranteed as slot_stamp_guaranteed
from bookings.selectors import join_recount_annotations, seats_taken
from bookings.waitlist import (
    waitlist_active_exists,
    waitlist_booking_confirmed,
    waitlist_offer_before_join,
    waitlist_offer_due,
    waitlist_offer_freed_seats,
)
from bookwise import outbox
from bookwise.errors import DomainError, InvalidInput
from bookwise.money import format_money
from bookwise.sql_shapes import values_rows
from bookwise.transactions import require_atomic
from catalog.minimum import has_minimum, minimum_deadline
from catalog.models import Slot, SlotStatus
from catalog.services import slot_price_validate
from merchants.permissions import user_manages

# Dispatched by name through bookwise.outbox: a services module imports no tasks module.
SEND_RESCHEDULED_NOTICE_TASK = "bookings.tasks.send_merchant_reschedule_notice"

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
    # A code's redemption follows its booking: given back when a hold ends unpaid, counted again on a late payment.
    promo_follow_transition(booking=booking, from_status=current, to_status=to, now=now)


def _require_seats(*, slot: Slot, party_size: int, now: datetime, taken: int | None = None) -> None:
    """409 `slot_full` unless `party_size` seats are free on `slot` (a private one: unless it is empty).

    Caller holds the slot row lock, so the count is the one a join or a move may
    trust. seats_taken counts a private slot with a holding booking as full
    (bookings.selectors). `taken`: that count, when the caller read it under the
    same lock already (a join, in its recount statement).
    """
    require_atomic()
    if taken is None:
        taken = seats_taken(slot_id=slot.pk, now=now)
    if is_private(slot.theme) and taken > 0:
        raise DomainError("slot_full", "This time is already booked privately by another group.")
    left = slot.capacity - taken
    if party_size > left:
        raise DomainError("slot_full", f"Only {max(left, 0)} seats are left at this time.")


def hold_expiry(*, starts_at: datetime, now: datetime) -> datetime:
    """When an unpaid hold made at `now` runs out: BOOKING_HOLD_MINUTES later, never after the slot's start."""
    return min(now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES), starts_at)


class _WaitlistPassFirst(Exception):
    """A join found a queue on its slot before its queue pass ran: roll back, offer, then join again."""


def booking_join(
    *,
    slot_id: int,
    customer: User,
    party_size: int | None = None,
    tickets: list[Ticket] | None = None,
    now: datetime | None = None,
    promo_code: str | None = None,
) -> Booking:
    """Hold seats on a slot for a customer's party: `party_size` (default 1), or `tickets` on a tiered theme.

    The price is bookings.pricing's `booking_price`. A paid booking gives a
    `pending_payment` hold for BOOKING_HOLD_MINUTES, cut short at the slot's
    start (`hold_expiry`); one that costs nothing confirms at once. On a
    private theme the first seat-holding booking takes the whole slot: any
    other holding booking means `slot_full`, counted under the same slot lock
    as the seats. Raises DomainError slot_full / already_booked / slot_closed /
    too_many_holds, InvalidInput invalid_party_size / invalid_tickets.

    `promo_code` (bookings.promo): its discount comes off the price (`amount`
    is what is left, `discount` what came off; 0 left confirms at once) and its
    redemption is counted by the join's last lock, the code's row; 409
    `promo_invalid` in words when it cannot be used. Ignored on a free price.

    Seats freed lazily (a hold that ran out before the sweep) go to the slot's
    waitlist first. With nobody queued (the usual case) that costs one EXISTS
    under the slot lock. With a queue, the join rolls back before doing
    anything, `waitlist_offer_before_join` commits the offers in a transaction
    of its own (so they stay made even when this join is then refused), and
    the join runs again, offering under its lock whatever was freed meanwhile.
    """
    now = now or timezone.now()
    for queue_offered in (False, True):
        try:
            return _booking_join_locked(
                slot_id=slot_id,
                customer=customer,
                party_size=party_size,
                tickets=tickets,
                now=now,
                promo_code=promo_code,
                queue_offered=queue_offered,
            )
        except _WaitlistPassFirst:
            waitlist_offer_before_join(slot_id=slot_id, now=now)
    raise AssertionError("unreachable: the second attempt never raises _WaitlistPassFirst")


def _customer_lock_query(*, customer_id: int) -> QuerySet[Any]:
    return get_user_model().objects.select_for_update().filter(pk=customer_id).values("pk")


def _join_recount_query(*, slot_id: int, customer_id: int, now: datetime) -> QuerySet[Any]:
    """The statement a join reads its counts with, after its customer and slot locks (see below)."""
    return (
        Slot.objects.filter(pk=slot_id)
        .annotate(
            merchant_status=F("theme__merchant__status"),
            queued=waitlist_active_exists(slot_id=slot_id),
            **join_recount_annotations(customer_id=customer_id, now=now),
        )
        # The plugin cannot see annotations passed as **kwargs.
        .values("merchant_status", "queued", "taken", "unpaid_holds", "free_upcoming", "existing_id")  # type: ignore[misc]
    )


def _booking_join_locked(
    *,
    slot_id: int,
    customer: User,
    party_size: int | None,
    tickets: list[Ticket] | None,
    now: datetime,
    promo_code: str | None,
    queue_offered: bool,
) -> Booking:
    """`booking_join`'s transaction; _WaitlistPassFirst when the slot has a queue and `queue_offered` is False."""
    with transaction.atomic():
        # The customer row lock serialises one customer's joins, so the
        # unpaid-holds limit cannot be passed by joining many slots at once.
        if not values_rows(("booking_join", "customer_lock"), _customer_lock_query, customer_id=customer.pk):
            raise get_user_model().DoesNotExist
        try:
            slot = (
                Slot.objects.select_for_update(of=("self",)).select_related("theme", "theme__merchant").get(pk=slot_id)
            )
        except Slot.DoesNotExist:
            raise DomainError("not_found", "No such slot.", http_status=404) from None
        theme = slot.theme
        # One statement, a new snapshot taken after both locks, reads everything the join counts:
        # - the merchant again: the row joined above is as of the statement's start, and a suspension
        #   that held this slot's lock may have committed since (checkout.services.merchant_suspend
        #   locks the merchant's slots before listing bookings);
        # - whether anyone queues on the slot: a party queued since cannot be overtaken by this join;
        # - the seats taken (trusted under the slot lock), the customer's unpaid holds and free upcoming
        #   bookings (under the customer lock) and their booking on this slot, if any.
        # Its SQL is compiled once per process (bookwise.sql_shapes): a join's hottest statement.
        (recount,) = values_rows(
            ("booking_join", "recount"), _join_recount_query, slot_id=slot.pk, customer_id=customer.pk, now=now
        )
        theme.merchant.status = recount["merchant_status"]
        queued = recount["queued"]
        if queued and not queue_offered:
            raise _WaitlistPassFirst

        closed = _slot_closed_reason(slot, now)
        if closed:
            raise DomainError("slot_closed", closed)
        price = booking_price(slot=slot, party_size=party_size, tickets=tickets)

        existing = None
        if recount["existing_id"] is not None:
            # Rare: lock it, and look at it as it is now (a cancel may have committed since the recount).
            existing = (
                Booking.objects.select_for_update()
                .filter(pk=recount["existing_id"], status__in=SEAT_HOLDING_STATUSES)
                .first()
            )
        if existing is not None:
            if _hold_ran_out(existing, now):
                # The customer's own hold ran out but the sweep has not run yet.
                _transition(existing, BookingStatus.EXPIRED, reason="hold expired (found at re-join)", now=now)
            else:
                raise DomainError("already_booked", "You already have a booking on this slot.")

        promo = None
        discount = 0
        if promo_code and price.amount > 0:
            promo = promo_find(
                merchant_id=theme.merchant_id, theme_id=theme.pk, code=promo_code, currency=theme.currency, now=now
            )
            discount = promo_discount(promo=promo, amount=price.amount)
        is_free = price.amount - discount == 0
        # Both caps are counted under the customer row lock taken above, so parallel
        # joins of one customer (API, portal, several slots) cannot pass them together.
        # A hold of the customer's own that ran out (expired just above) was not counted: expires_at <= now.
        if not is_free and recount["unpaid_holds"] >= settings.BOOKING_MAX_UNPAID_HOLDS:
            raise DomainError(
                "too_many_holds",
                f"You already hold {settings.BOOKING_MAX_UNPAID_HOLDS} unpaid bookings: pay or cancel one first.",
            )
        # Free seats cost nothing to hoard: bound the free bookings held on slots still to come.
        if is_free and recount["free_upcoming"] >= settings.BOOKING_MAX_FREE_HOLDS:
            cap = settings.BOOKING_MAX_FREE_HOLDS
            raise DomainError(
                "too_many_holds",
                f"You already hold {cap} free booking{'' if cap == 1 else 's'} on upcoming slots: "
                "cancel one you will not use first.",
            )

        # Seats freed without an offer yet (a hold that ran out before the sweep) go to the waitlist first.
        # The offers take seats: count again after them (None: `_require_seats` counts).
        taken = recount["taken"]
        if queued:
            waitlist_offer_freed_seats(slot=slot, now=now)
            taken = None
        _require_seats(slot=slot, party_size=price.party_size, now=now, taken=taken)
        if promo is not None:
            # The last lock of a join (customer > slot > bookings > promo code), held until it commits.
            promo_redeem(promo=promo, theme_id=theme.pk, currency=theme.currency, now=now)

        try:
            # No savepoint around the insert (two round trips saved): a failure here leaves the
            # transaction aborted, and the DomainError raised at once rolls all of it back as it
            # leaves the atomic block above; nothing runs on the connection in between.
            booking = Booking.objects.create(
                slot=slot,
                customer_id=customer.pk,
                party_size=price.party_size,
                status=BookingStatus.CONFIRMED if is_free else BookingStatus.PENDING_PAYMENT,
                amount=price.amount - discount,
                discount=discount,
                promo_code=promo,
                tickets=price.tickets,
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
            slot_stamp_guaranteed(slot=slot, now=now)
    return booking


def _hold_ran_out(booking: Booking, now: datetime) -> bool:
    """An unpaid hold whose time is up, swept or not (booking_pending_has_expiry: a hold has an expires_at)."""
    return (
        booking.status == BookingStatus.PENDING_PAYMENT and booking.expires_at is not None and booking.expires_at <= now
    )


def _acts_for_merchant(booking: Booking, by: User | None) -> bool:
    """`by` cancels as the slot's (approved) merchant or an admin (merchant rules), not as the customer."""
    return by is not None and user_manages(by, booking.slot.theme.merchant)


def booking_refundable_paid(booking: Booking) -> int:
    """What a refund of this booking is a share of: what its customer paid and still has not had back.

    `amount` is the price now (a move to a cheaper time lowers it by the
    difference it refunds, `booking_reschedule`), so it is that; payments caps
    the refund at what is left of the payment too.
    """
    return int(booking.amount)


@dataclass(frozen=True)
class CancelTerms:
    """Whether `by` may cancel a booking now, and what happens to the money.

    `refund` is True when a paid (confirmed, non-free) booking would be
    refunded: `refund_amount` minor units, `refund_percent` % of what was paid
    (bookings.policy). `reason` explains a refusal; `refund_deadline` is when
    the customer's current refund ends (the last tier's, once past it).
    """

    allowed: bool
    refund: bool = False
    reason: str = ""
    refund_deadline: datetime | None = None
    refund_amount: int = 0
    refund_percent: int = 0


def booking_cancel_terms(
    *, booking: Booking, by: User | None, now: datetime | None = None, automatic: bool = False
) -> CancelTerms:
    """The cancellation rule, shared by `booking_cancel` and the pages that explain it beforehand.

    Customers cancel a paid booking under the theme's policy (bookings.policy:
    the percent of the first tier still ahead, the deadline itself included;
    past every tier only if some tier gives 0 %, and never once the slot has
    started), an unpaid or free one until the start; merchants (and admins)
    may cancel until the slot ends, always with a full refund; so may the
    platform itself (`automatic`: a slot below its minimum players). Needs
    `booking.slot.theme.merchant` (loaded or loadable).
    """
    now = now or timezone.now()
    merchant_side = automatic or _acts_for_merchant(booking, by)
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
        if not paid:
            return CancelTerms(allowed=True)
        full = refund_amount(paid=booking_refundable_paid(booking), percent=100)
        return CancelTerms(allowed=True, refund=full > 0, refund_amount=full, refund_percent=100)
    if paid:
        starts_at = booking.slot.starts_at
        tiers = effective_policy(booking.slot.theme)
        percent = refund_percent_at(tiers, starts_at=starts_at, now=now)
        ahead = [t for t in tiers if now <= tier_deadline(t, starts_at=starts_at)]
        deadline = tier_deadline(ahead[0] if ahead else tiers[-1], starts_at=starts_at)
        if percent is None:
            return CancelTerms(
                allowed=False,
                reason=f"Paid bookings can be cancelled up to {tiers[-1].hours_before} hours before the start.",
                refund_deadline=deadline,
            )
        if starts_at <= now:
            return CancelTerms(allowed=False, reason="This slot has already started.", refund_deadline=deadline)
        amount = refund_amount(paid=booking_refundable_paid(booking), percent=percent)
        return CancelTerms(
            allowed=True, refund=amount > 0, refund_deadline=deadline, refund_amount=amount, refund_percent=percent
        )
    if booking.slot.starts_at <= now:
        return CancelTerms(allowed=False, reason="This slot has already started.")
    return CancelTerms(allowed=True)


@dataclass(frozen=True)
class Cancellation:
    """A cancel just made under the booking row lock: the booking, on whose side, and the refund it decided.

    `refund_amount`: for a confirmed paid booking, the policy's refund in minor
    units (0: nothing back, record no refund); None for a booking that was not
    paid, whose payment, should one land or have landed, is refunded in full.
    """

    booking: Booking
    by_merchant: bool  # the slot's merchant or an admin cancelled (merchant rules), not the customer
    refund_amount: int | None = None
    refund_percent: int = 100


def booking_cancel(
    *, booking_id: int, by: User | None, reason: str = "", now: datetime | None = None, automatic: bool = False
) -> Cancellation:
    """Cancel a booking and free its seats: the booking's half of checkout.services.booking_cancel_and_refund.

    The rule is `booking_cancel_terms`, applied under the booking row lock
    taken here. Runs inside the caller's transaction, which records the refund
    of a paid booking and queues the emails before it commits. Caller has
    already checked that `by` may see the booking; `automatic` (no user: the
    platform cancels a slot below its minimum players) applies merchant rules.
    """
    require_atomic()
    now = now or timezone.now()
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("slot", "slot__theme", "slot__theme__merchant")
        .get(pk=booking_id)
    )
    terms = booking_cancel_terms(booking=booking, by=by, now=now, automatic=automatic)
    if not terms.allowed:
        raise DomainError("not_cancellable", terms.reason)
    by_merchant = automatic or _acts_for_merchant(booking, by)
    was_paid = booking.status == BookingStatus.CONFIRMED and booking.amount > 0
    _transition(booking, BookingStatus.CANCELLED, by=by, reason=reason or "cancelled", now=now)
    if not was_paid:
        return Cancellation(booking=booking, by_merchant=by_merchant)
    return Cancellation(
        booking=booking,
        by_merchant=by_merchant,
        refund_amount=terms.refund_amount,
        refund_percent=terms.refund_percent,
    )


def booking_set_refunded(*, booking: Booking, refunded_amount: int) -> None:
    """Store the sum of the booking's recorded refunds (payments), in the transaction that recorded one.

    Set, not added to: a refund found already recorded (deterministic keys)
    is never counted twice. Caller holds the booking row lock.
    """
    require_atomic()
    if booking.refunded_amount == refunded_amount:
        return
    booking.refunded_amount = refunded_amount
    booking.save(update_fields=["refunded_amount", "updated_at"])


def booking_lock_with_slot(*, booking_id: int) -> None:
    """Lock a booking's slot row, then the booking row: the lock order, for a flow that goes on to the payment.

    checkout.services takes these before payments locks the payment row of a
    succeeded intent, so the confirmation that follows (`booking_confirm_payment`)
    never waits for a lock out of order. Caller holds the transaction.
    """
    require_atomic()
    _lock_slot_then_booking(booking_id=booking_id)


class _SlotMovedWhileLocking(Exception):
    """The booking moved to another slot between reading its slot id and locking it (a reschedule)."""


def _lock_slot_then_booking(*, booking_id: int, attempts: int = 3) -> tuple[Slot, Booking]:
    """Lock the booking's slot, then the booking, in the lock order: (slot, booking), both locked.

    The slot id is read before either lock; a reschedule committing in between
    moves the booking, and the caller would hold the old slot's lock. Each try
    runs in a savepoint: when the locked booking names another slot, rolling
    the savepoint back releases both row locks (PostgreSQL releases locks taken
    after a savepoint that is rolled back) and the next try locks the new slot.
    Raises DomainError not_found when the booking does not exist.
    """
    require_atomic()
    for _ in range(attempts):
        slot_id = Booking.objects.filter(pk=booking_id).values_list("slot_id", flat=True).first()
        if slot_id is None:
            raise DomainError("not_found", "No such booking.", http_status=404)
        try:
            with transaction.atomic():
                slot = Slot.objects.select_for_update(of=("self",)).select_related("theme").get(pk=slot_id)
                booking = Booking.objects.select_for_update().get(pk=booking_id)
                if booking.slot_id != slot_id:
                    raise _SlotMovedWhileLocking
                return slot, booking
        except _SlotMovedWhileLocking:
            continue
    raise DomainError("booking_busy", "This booking is being changed; try again.", http_status=409)


# The audit reason of a move, parsed by nothing: "rescheduled from slot 12 to slot 15".
RESCHEDULE_REASON = "rescheduled from slot {old} to slot {new}"


@dataclass(frozen=True)
class Reschedule:
    """A move just made under the slot and booking row locks (`booking_move`).

    `refund` is what the customer gets back (minor units): the price difference
    of a paid booking moved to a cheaper time, 0 otherwise. `moved` is False
    when the booking already was on the slot (a repeated request): nothing changed.
    """

    booking: Booking
    from_slot_id: int
    amount_before: int
    refund: int = 0
    moved: bool = True


def booking_reschedule_refusal(*, booking: Booking, by: User | None, now: datetime | None = None) -> str:
    """Why `by` may not move `booking` to another time now ("" when they may): the reschedule rule.

    Only its customer, while the booking would still get a 100 % refund
    (`booking_cancel_terms` as the customer sees it) and its slot has not
    started: an unpaid hold or a free booking until the start, a paid one
    inside its theme's full-refund window. Needs `booking.slot.theme.merchant`.
    """
    now = now or timezone.now()
    if by is None or booking.customer_id != by.pk:
        return "Only the customer who booked may change its time."
    if booking.status not in (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED) or _hold_ran_out(booking, now):
        status = BookingStatus.EXPIRED if _hold_ran_out(booking, now) else booking.status
        return f"A {BookingStatus(status).label.lower()} booking cannot be moved to another time."
    if booking.slot.starts_at <= now:
        return "This slot has already started."
    terms = booking_cancel_terms(booking=booking, by=by, now=now)
    paid = booking.status == BookingStatus.CONFIRMED and booking.amount > 0
    if not terms.allowed or (paid and terms.refund_percent < 100):
        return "This booking can no longer be moved: it is past the time it could be cancelled for a full refund."
    return ""


def booking_move(*, booking_id: int, slot_id: int, by: User, now: datetime | None = None) -> Reschedule:
    """Move a booking to another open slot of its theme: the booking's half of checkout.services.booking_reschedule.

    Locks the booking's current slot and the new one in pk order, then the
    booking (the lock order: a join into either slot waits, so neither is
    oversold), and checks the new slot like a join: open, not started, same
    theme, seats for the party (a private theme: the slot must be empty),
    priced by bookings.pricing with the booking's own tickets. Same price: the
    booking moves; cheaper: it moves, `amount` becomes the new price and a paid
    booking's `refunded_amount` grows by the difference, which the caller
    refunds in this transaction; dearer: 409 `price_differs`. An unpaid hold
    keeps its expiry, cut short at the new start. Writes the audit row, bumps
    `ics_sequence`, and queues the confirmation email (new .ics) for a
    confirmed booking. A booking already on `slot_id` is answered unchanged
    (a repeated request); one moved by a concurrent request after this one
    read it gets 409 `not_reschedulable`.
    """
    require_atomic()
    now = now or timezone.now()
    seen_slot_id = Booking.objects.filter(pk=booking_id).values_list("slot_id", flat=True).first()
    if seen_slot_id is None:
        raise DomainError("not_found", "No such booking.", http_status=404)
    locked = {
        slot.pk: slot
        for slot in Slot.objects.select_for_update(of=("self",))
        .select_related("theme", "theme__merchant")
        .filter(pk__in={seen_slot_id, slot_id})
        .order_by("pk")
    }
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("slot", "slot__theme", "slot__theme__merchant")
        .get(pk=booking_id)
    )
    if booking.customer_id != by.pk:
        raise DomainError("not_found", "No such booking.", http_status=404)
    if booking.slot_id == slot_id:
        return Reschedule(booking=booking, from_slot_id=booking.slot_id, amount_before=booking.amount, moved=False)
    if booking.slot_id != seen_slot_id:
        raise DomainError("not_reschedulable", "This booking was just moved to another time: reload and try again.")
    new_slot = locked.get(slot_id)
    if new_slot is None:
        raise DomainError("not_found", "No such slot.", http_status=404)
    refusal = booking_reschedule_refusal(booking=booking, by=by, now=now)
    if refusal:
        raise DomainError("not_reschedulable", refusal)
    theme = new_slot.theme
    if new_slot.theme_id != booking.slot.theme_id:
        raise DomainError("not_reschedulable", "A booking can only move to another time of the same theme.")
    # Read the merchant again under the slot lock, like a join (a suspension may have just committed).
    theme.merchant.refresh_from_db(fields=["status"])
    closed = _slot_closed_reason(new_slot, now)
    if closed:
        raise DomainError("slot_closed", closed)
    _require_seats(slot=new_slot, party_size=booking.party_size, now=now)
    try:
        price = booking_price(
            slot=new_slot, party_size=None if booking.tickets else booking.party_size, tickets=booking.tickets or None
        )
    except InvalidInput:
        # The theme's tiers changed since the booking was made: its tickets cannot be priced again.
        raise DomainError(
            "not_reschedulable", "This booking's tickets no longer match the theme's prices: it cannot be moved."
        ) from None
    new_amount = max(price.amount - booking.discount, 0)
    if new_amount > booking.amount:
        raise DomainError(
            "price_differs",
            f"This time costs more ({format_money(new_amount, booking.currency)} instead of "
            f"{format_money(booking.amount, booking.currency)}): choose a time at the same price or cheaper.",
        )
    paid = booking.status == BookingStatus.CONFIRMED and booking.amount > 0
    refund = booking.amount - new_amount if paid else 0

    from_slot_id, amount_before = booking.slot_id, booking.amount
    booking.slot = new_slot
    booking.amount = new_amount
    booking.refunded_amount += refund
    booking.ics_sequence += 1
    fields = ["slot", "amount", "refunded_amount", "ics_sequence", "updated_at"]
    if booking.status == BookingStatus.PENDING_PAYMENT and booking.expires_at is not None:
        booking.expires_at = min(booking.expires_at, new_slot.starts_at)
        fields.append("expires_at")
    try:
        with transaction.atomic():
            booking.save(update_fields=fields)
    except IntegrityError:
        # booking_one_active_per_customer_slot: the customer already holds a booking at that time.
        raise DomainError("already_booked", "You already have a booking at that time.") from None
    BookingStatusChange.objects.create(
        booking=booking,
        from_status=booking.status,
        to_status=booking.status,
        changed_by=by,
        reason=RESCHEDULE_REASON.format(old=from_slot_id, new=new_slot.pk),
    )
    if booking.status == BookingStatus.CONFIRMED:
        outbox.enqueue(SEND_CONFIRMED_TASK, booking.pk)  # the confirmation again, with the new .ics
        outbox.enqueue(SEND_RESCHEDULED_NOTICE_TASK, booking.pk, booking.ics_sequence, from_slot_id, refund)
        slot_stamp_guaranteed(slot=new_slot, now=now)  # this party may bring the new time to its minimum
    waitlist_offer_freed_seats(slot=locked[from_slot_id], now=now)  # the seats left behind go to its waitlist
    return Reschedule(booking=booking, from_slot_id=from_slot_id, amount_before=amount_before, refund=refund)


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
    with transaction.atomic():
        slot, booking = _lock_slot_then_booking(booking_id=booking_id)
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
        waitlist_booking_confirmed(booking_id=booking_id)  # an offer paid: its entry is booked
        slot_stamp_guaranteed(slot=slot, now=now)
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
                break
            promo_give_back_expired(booking_ids=due, now=now)  # their codes' redemptions (bookings.promo)
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
            break
    # The seats released go to the waitlists: one transaction per slot under its lock (slots come
    # before bookings in the lock order, so not in the transactions above); expired offers pass on.
    waitlist_offer_due(now=now)
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
        waitlist_offer_freed_seats(slot=locked, now=now or timezone.now())  # a raise offers the new seats
    return locked


def slot_update_price(*, slot: Slot, price: int | None, now: datetime | None = None) -> Slot:
    """Set or clear (None) a slot's peak price, only while no booking holds seats on it (`slot_has_bookings`).

    A held booking was priced at join (bookings.pricing); a price that moved
    under it would make the page, the charge and a reschedule's difference
    disagree. Counted under the slot row lock, like a join, so a join and a
    price change cannot both win.
    """
    with transaction.atomic():
        locked = Slot.objects.select_for_update(of=("self",)).select_related("theme").get(pk=slot.pk)
        if locked.status != SlotStatus.OPEN:
            raise DomainError("slot_closed", "A cancelled slot cannot be changed.")
        slot_price_validate(theme=locked.theme, price=price)
        if locked.price == price:
            return locked
        if seats_taken(slot_id=locked.pk, now=now) > 0:
            raise DomainError(
                "slot_has_bookings", "This slot already has bookings: its price can no longer be changed."
            )
        locked.price = price
        locked.save(update_fields=["price", "updated_at"])
    return locked


# --- Minimum players (catalog.minimum) ----------------------------------------------------------


def slot_lock_below_minimum(*, slot_id: int, now: datetime) -> Slot | None:
    """Lock a slot and say whether it is to be cancelled for want of players: the slot if so, else None.

    The booking half of checkout.services.slot_cancel_below_minimum: under the
    slot row lock (so no join or confirmation runs meanwhile) the slot is
    still open, not started, past its theme's deadline, not guaranteed, and
    the seats taken (running holds included) are below the minimum. A second
    sweep waiting on the lock finds the slot cancelled and gets None. Caller
    holds the transaction that cancels it.
    """
    require_atomic()
    slot = Slot.objects.select_for_update(of=("self",)).select_related("theme").filter(pk=slot_id).first()
    if slot is None or slot.status != SlotStatus.OPEN or slot.starts_at <= now:
        return None
    theme = slot.theme
    if not has_minimum(theme) or slot.guaranteed_at is not None or now < minimum_deadline(slot=slot, theme=theme):
        return None
    if seats_taken(slot_id=slot.pk, now=now) >= theme.min_players:
        return None
    return slot
