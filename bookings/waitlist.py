"""The waitlist of a full slot (API.md "Waitlist"): join, leave, and the offers made when seats free up.

Lock discipline. Every write to a slot's entries happens under that slot's
row lock (the lock order: customer row, slot row, booking rows): a join to
the waitlist and a leave take it here; the offers are made by the flow that
frees the seats, in its own transaction and under the slot lock it already
holds (`waitlist_offer_freed_seats`): a cancel (checkout.services), a capacity
raised and a move away (bookings.services), a payment that confirms an offer,
and the expiry sweep (`waitlist_offer_due`, one transaction per slot, after
the holds were expired). A join (bookings.services.booking_join) runs the same
pass under its slot lock before it counts the seats, so seats freed by a hold
that ran out before the sweep go to the queue first, never to a newcomer.
Since every pass counts seats under the slot lock, one seat is never offered
twice and a slot is never oversold.

An offer is a normal `pending_payment` booking for the entry's party, held
WAITLIST_OFFER_MINUTES (never past the slot's start), emailed with a link to
its checkout. On a free theme the booking is confirmed at once. The entry
follows its booking: paid -> booked; expired or cancelled unpaid -> expired,
and the next entry that fits gets the seats.

This module sits below bookings.services (which calls it); the rules both need
are in bookings.seating.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Min, OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from bookings.models import (
    SETTLED_HOLDING_STATUSES,
    WAITLIST_ACTIVE_STATUSES,
    Booking,
    BookingStatus,
    BookingStatusChange,
    WaitlistEntry,
    WaitlistStatus,
)
from bookings.pricing import Price, Ticket, booking_price
from bookings.seating import notify_confirmed, seats_free, slot_closed_reason, slot_stamp_guaranteed
from bookings.selectors import holding_q, seats_taken_subquery
from bookwise import outbox
from bookwise.errors import DomainError, InvalidInput
from bookwise.transactions import require_atomic
from catalog.models import Slot, SlotStatus

logger = logging.getLogger(__name__)

# Dispatched by name through bookwise.outbox (bookings.tasks.send_waitlist_offer).
SEND_OFFER_TASK = "bookings.tasks.send_waitlist_offer"
# The audit reason of the booking an offer creates.
OFFER_REASON = "offered from the waitlist"
# Slots one run of the sweep looks at; the rest wait for the next run (each slot is one transaction).
OFFER_SWEEP_LIMIT = 200


def offer_expiry(*, starts_at: datetime, now: datetime) -> datetime:
    """When an unpaid offer made at `now` runs out: WAITLIST_OFFER_MINUTES later, never after the slot's start."""
    return min(now + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES), starts_at)


def waitlist_price(*, slot: Slot, party_size: int) -> Price:
    """What an offer to a party of `party_size` costs, validating the party like a join (400 invalid_party_size).

    A waitlist entry has a party size only: on a theme with ticket tiers it is
    priced as that many tickets of the theme's first tier (its standard ticket).
    """
    tickets: list[Ticket] | None = None
    if slot.theme.price_tiers:
        tickets = [{"tier": str(slot.theme.price_tiers[0]["code"]), "quantity": party_size}]
    return booking_price(slot=slot, party_size=party_size, tickets=tickets)


def _lock_slot(slot_id: int) -> Slot:
    try:
        return Slot.objects.select_for_update(of=("self",)).select_related("theme", "theme__merchant").get(pk=slot_id)
    except Slot.DoesNotExist:
        raise DomainError("not_found", "No such slot.", http_status=404) from None


def waitlist_join(*, slot_id: int, customer: User, party_size: int, now: datetime | None = None) -> WaitlistEntry:
    """Put a customer's party on a full slot's waitlist, at the end of the queue.

    Under the customer row lock then the slot row lock, like a join. Refuses
    with 409 `slot_closed` (cancelled, started, not bookable), 400
    `invalid_party_size` (the theme's min_party..max_party), 409
    `already_booked` (the customer holds a booking on the slot), 409
    `already_waiting` (an active entry already; the database's conditional
    unique constraint backs it), 409 `seats_available` when the party fits now
    (seats freed lazily are first offered to the queue, under this lock).
    """
    now = now or timezone.now()
    with transaction.atomic():
        get_user_model().objects.select_for_update().only("pk").get(pk=customer.pk)
        slot = _lock_slot(slot_id)
        slot.theme.merchant.refresh_from_db(fields=["status"])  # a suspension may have just committed
        closed = slot_closed_reason(slot, now)
        if closed:
            raise DomainError("slot_closed", closed)
        waitlist_price(slot=slot, party_size=party_size)
        if party_size > slot.capacity:
            raise InvalidInput(
                "invalid_party_size",
                f"This time has {slot.capacity} seats in all: a party of {party_size} cannot wait for it.",
                field="party_size",
            )
        if Booking.objects.filter(holding_q(now), slot_id=slot.pk, customer_id=customer.pk).exists():
            raise DomainError("already_booked", "You already have a booking on this slot.")
        if WaitlistEntry.objects.filter(
            slot_id=slot.pk, customer_id=customer.pk, status__in=WAITLIST_ACTIVE_STATUSES
        ).exists():
            raise DomainError("already_waiting", "You are already on the waitlist of this slot.")
        # Seats already free (a hold that ran out before the sweep) go to those waiting first.
        waitlist_offer_freed_seats(slot=slot, now=now)
        free = seats_free(slot=slot, now=now)
        if party_size <= free:
            raise DomainError(
                "seats_available",
                f"{free} seat{'' if free == 1 else 's'} {'is' if free == 1 else 'are'} free: book it.",
            )
        try:
            with transaction.atomic():
                entry = WaitlistEntry.objects.create(slot=slot, customer_id=customer.pk, party_size=party_size)
        except IntegrityError:
            raise DomainError("already_waiting", "You are already on the waitlist of this slot.") from None
    return entry


def waitlist_leave(*, entry_id: int, customer: User) -> WaitlistEntry:
    """The customer leaves the queue (status `left`). Leaving again changes nothing.

    An entry already offered keeps its booking: it is a normal booking the
    customer pays or cancels. 404 for an entry that is not theirs.
    """
    slot_id = (
        WaitlistEntry.objects.filter(pk=entry_id, customer_id=customer.pk).values_list("slot_id", flat=True).first()
    )
    if slot_id is None:
        raise DomainError("not_found", "No such waitlist entry.", http_status=404)
    with transaction.atomic():
        Slot.objects.select_for_update(of=("self",)).only("pk").get(pk=slot_id)
        entry = WaitlistEntry.objects.get(pk=entry_id)
        if entry.status in WAITLIST_ACTIVE_STATUSES:
            entry.status = WaitlistStatus.LEFT
            entry.save(update_fields=["status", "updated_at"])
    return entry


def _sync_offers(*, slot: Slot, offered: list[WaitlistEntry], now: datetime) -> None:
    """Offered entries follow their booking: paid -> booked; ran out, expired, cancelled or moved away -> expired."""
    for entry in offered:
        booking = entry.booking
        if booking is None or booking.slot_id != slot.pk:
            status = WaitlistStatus.CLOSED
        elif booking.status in SETTLED_HOLDING_STATUSES:
            status = WaitlistStatus.BOOKED
        elif booking.status == BookingStatus.PENDING_PAYMENT and booking.expires_at and booking.expires_at > now:
            continue  # still held for them
        else:
            status = WaitlistStatus.EXPIRED
        entry.status = status
        entry.save(update_fields=["status", "updated_at"])


def waitlist_offer_freed_seats(*, slot: Slot, now: datetime) -> list[WaitlistEntry]:
    """Offer the free seats of `slot` to its queue, in order of joining; the entries offered now.

    Caller holds the slot row lock (and loaded `slot.theme`). First each
    offered entry follows its booking (`_sync_offers`), then, if the slot
    still takes bookings, each waiting party that fits the seats left gets an
    offer; a party too large is skipped and keeps its place (a 4 keeps waiting
    while a 2 and a 1 behind it are offered). A customer who holds a booking on
    the slot already is not offered: their entry is closed. A cancelled slot
    closes its queue.
    """
    require_atomic()
    active = list(
        WaitlistEntry.objects.filter(slot_id=slot.pk, status__in=WAITLIST_ACTIVE_STATUSES)
        .select_related("booking")
        .order_by("created_at", "id")
    )
    if not active:
        return []
    _sync_offers(slot=slot, offered=[e for e in active if e.status == WaitlistStatus.OFFERED], now=now)
    waiting = [e for e in active if e.status == WaitlistStatus.WAITING]
    if not waiting:
        return []
    if slot.status != SlotStatus.OPEN:
        waitlist_close_for_slots(slot_ids=[slot.pk])
        return []
    if slot_closed_reason(slot, now):
        return []
    free = seats_free(slot=slot, now=now)
    if free <= 0:
        return []
    holders = set(
        Booking.objects.filter(holding_q(now), slot_id=slot.pk).values_list("customer_id", flat=True).distinct()
    )
    offered: list[WaitlistEntry] = []
    for entry in waiting:
        if free <= 0:
            break
        if entry.customer_id in holders:
            entry.status = WaitlistStatus.CLOSED
            entry.save(update_fields=["status", "updated_at"])
            continue
        if entry.party_size > free:
            continue
        if _offer(entry=entry, slot=slot, now=now):
            offered.append(entry)
            free = seats_free(slot=slot, now=now)
    if any(e.status == WaitlistStatus.BOOKED for e in offered):
        slot_stamp_guaranteed(slot=slot, now=now)
    if offered:
        logger.info("slot %s: %s waitlist offers", slot.pk, len(offered))
    return offered


def _offer(*, entry: WaitlistEntry, slot: Slot, now: datetime) -> bool:
    """Create the entry's booking (a hold, or confirmed on a free theme) and queue its email. Caller holds the lock."""
    try:
        price = waitlist_price(slot=slot, party_size=entry.party_size)
    except DomainError:
        # The theme's party limits or tiers changed since the entry joined: it can no longer be priced.
        entry.status = WaitlistStatus.CLOSED
        entry.save(update_fields=["status", "updated_at"])
        return False
    is_free = price.amount == 0
    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                slot=slot,
                customer_id=entry.customer_id,
                party_size=price.party_size,
                status=BookingStatus.CONFIRMED if is_free else BookingStatus.PENDING_PAYMENT,
                amount=price.amount,
                tickets=price.tickets,
                currency=slot.theme.currency,
                expires_at=None if is_free else offer_expiry(starts_at=slot.starts_at, now=now),
                confirmed_at=now if is_free else None,
            )
    except IntegrityError:
        # booking_one_active_per_customer_slot: they booked it meanwhile (a hold not yet swept, say).
        entry.status = WaitlistStatus.CLOSED
        entry.save(update_fields=["status", "updated_at"])
        return False
    BookingStatusChange.objects.create(
        booking=booking, from_status="", to_status=booking.status, changed_by=None, reason=OFFER_REASON
    )
    entry.status = WaitlistStatus.BOOKED if is_free else WaitlistStatus.OFFERED
    entry.booking = booking
    entry.offered_at = now
    entry.save(update_fields=["status", "booking", "offered_at", "updated_at"])
    if is_free:
        notify_confirmed(booking.pk)
    outbox.enqueue(SEND_OFFER_TASK, entry.pk)
    return True


def waitlist_active_exists(*, slot_id: int) -> Exists:
    """Anyone waiting or holding an offer on the slot, as an indexed EXISTS to annotate a query the caller runs anyway.

    A join reads it in the statement that re-reads the merchant after the slot lock (bookings.services).
    """
    return Exists(WaitlistEntry.objects.filter(slot_id=slot_id, status__in=WAITLIST_ACTIVE_STATUSES))


def waitlist_offer_before_join(*, slot_id: int, now: datetime) -> None:
    """Before a join: offer seats freed without an offer yet, in a transaction of its own, so they stay offered.

    A join calls this only after it found a queue under its slot lock (`waitlist_active_exists`) and rolled
    back; it then runs the same pass again under its own lock, but a join refused for want of seats rolls back
    with that pass, while the offers made here stay. One indexed EXISTS when nobody waits.
    """
    if not WaitlistEntry.objects.filter(slot_id=slot_id, status=WaitlistStatus.WAITING).exists():
        return
    with transaction.atomic():
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("theme", "theme__merchant")
            .filter(pk=slot_id)
            .first()
        )
        if slot is not None:
            waitlist_offer_freed_seats(slot=slot, now=now)


def waitlist_lock_slot_of_booking(*, booking_id: int) -> Slot | None:
    """Lock a booking's slot, then the booking (the lock order), for a cancel that offers the seats it frees.

    The slot returned is the one the booking is on under its lock; None when a
    concurrent move took it elsewhere meanwhile (the seats it frees there go to
    that slot's queue at its next join or sweep). Caller holds the transaction.
    """
    require_atomic()
    slot_id = Booking.objects.filter(pk=booking_id).values_list("slot_id", flat=True).first()
    if slot_id is None:
        return None
    slot = Slot.objects.select_for_update(of=("self",)).select_related("theme", "theme__merchant").get(pk=slot_id)
    locked_slot_id = (
        Booking.objects.select_for_update(of=("self",)).values_list("slot_id", flat=True).get(pk=booking_id)
    )
    return slot if locked_slot_id == slot.pk else None


def waitlist_close_for_slots(*, slot_ids: list[int]) -> int:
    """Close the queues of slots that will take no booking (cancelled, merchant suspended). Caller holds their locks."""
    require_atomic()
    if not slot_ids:
        return 0
    return WaitlistEntry.objects.filter(slot_id__in=slot_ids, status__in=WAITLIST_ACTIVE_STATUSES).update(
        status=WaitlistStatus.CLOSED, updated_at=timezone.now()
    )


def waitlist_booking_confirmed(*, booking_id: int) -> None:
    """An offer paid: its entry is booked (even after its hold ran out, when a late payment still got the seats).

    Caller holds the slot row lock, in the transaction that confirmed the booking.
    """
    require_atomic()
    WaitlistEntry.objects.filter(
        booking_id=booking_id, status__in=(WaitlistStatus.OFFERED, WaitlistStatus.EXPIRED, WaitlistStatus.CLOSED)
    ).update(status=WaitlistStatus.BOOKED, updated_at=timezone.now())


def _slots_due(*, now: datetime, limit: int) -> list[int]:
    """Slots whose queue may have something to do: an offer whose hold ended, or free seats a waiting party fits.

    A read without locks; each slot is checked again under its lock.
    """
    stale_offers = (
        WaitlistEntry.objects.filter(status=WaitlistStatus.OFFERED, slot__starts_at__gt=now)
        .exclude(booking__status__in=SETTLED_HOLDING_STATUSES)
        .exclude(booking__status=BookingStatus.PENDING_PAYMENT, booking__expires_at__gt=now)
        .values_list("slot_id", flat=True)
    )
    smallest_waiting = (
        WaitlistEntry.objects.filter(slot_id=OuterRef("pk"), status=WaitlistStatus.WAITING)
        .order_by()
        .values("slot_id")
        .annotate(n=Min("party_size"))
        .values("n")
    )
    with_seats = (
        Slot.objects.filter(
            status=SlotStatus.OPEN,
            starts_at__gt=now,
            pk__in=WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING).values("slot_id"),
        )
        .annotate(taken=seats_taken_subquery(now), smallest=Subquery(smallest_waiting))
        .filter(smallest__lte=F("capacity") - F("taken"))
        .values_list("pk", flat=True)
    )
    due = set(stale_offers[:limit]) | set(with_seats[:limit])
    return sorted(due)[:limit]


def waitlist_offer_due(*, now: datetime | None = None, limit: int = OFFER_SWEEP_LIMIT) -> int:
    """Periodic, after the expiry sweep: pass on the offers whose hold ran out, offer seats freed by expired holds.

    One transaction per slot, under its row lock (the expiry sweep itself
    locks bookings, which come after slots in the lock order, so it cannot
    offer in its own transaction). Also closes the queues of slots that have
    started. Safe to run twice and concurrently. Returns the number of offers made.
    """
    now = now or timezone.now()
    WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, slot__starts_at__lte=now).update(
        status=WaitlistStatus.CLOSED, updated_at=now
    )
    made = 0
    for slot_id in _slots_due(now=now, limit=limit):
        with transaction.atomic():
            slot = (
                Slot.objects.select_for_update(of=("self",)).select_related("theme", "theme__merchant").get(pk=slot_id)
            )
            made += len(waitlist_offer_freed_seats(slot=slot, now=now))
    return made
