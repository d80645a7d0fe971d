"""Reads of bookings and seats, each with its visibility rule."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.models import User
from accounts.permissions import user_is_platform_admin
from bookings.models import SEAT_HOLDING_STATUSES, SETTLED_HOLDING_STATUSES, Booking, BookingStatus
from catalog.models import BookingMode
from merchants.permissions import managed_by_owner_q


def holding_q(now: datetime, prefix: str = "") -> Q:
    """Bookings that occupy seats at `now`: settled ones, and unpaid holds not yet run out.

    An unpaid hold stops counting the moment `expires_at` passes, before the
    periodic sweep marks it expired (read-time rule).
    """
    return Q(**{f"{prefix}status__in": SETTLED_HOLDING_STATUSES}) | Q(
        **{f"{prefix}status": BookingStatus.PENDING_PAYMENT, f"{prefix}expires_at__gt": now}
    )


def booking_effective_status(booking: Booking, *, now: datetime | None = None) -> str:
    """The status a person should see: an unpaid hold past `expires_at` is already expired (read-time rule)."""
    now = now or timezone.now()
    if booking.status == BookingStatus.PENDING_PAYMENT and booking.expires_at is not None and booking.expires_at <= now:
        return BookingStatus.EXPIRED
    return booking.status


def _private_slot_capacity() -> Max:
    """Over a slot's holding bookings: the slot's capacity when its theme is private, else 0.

    A private theme's first holding booking takes the whole slot, so its seats
    taken are the capacity (or the party, if larger: a capacity lowered below it).
    """
    return Max(
        Case(
            When(slot__theme__booking_mode=BookingMode.PRIVATE, then=F("slot__capacity")),
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def seats_taken(*, slot_id: int, now: datetime | None = None, exclude_booking_id: int | None = None) -> int:
    """Seats held on a slot; a private slot with any holding booking is full.

    Under the slot row lock this is the number a join may trust.
    """
    now = now or timezone.now()
    qs = Booking.objects.filter(holding_q(now), slot_id=slot_id)
    if exclude_booking_id is not None:
        qs = qs.exclude(pk=exclude_booking_id)
    counts = qs.aggregate(n=Coalesce(Sum("party_size"), 0), whole=Coalesce(_private_slot_capacity(), 0))
    taken: int = max(counts["n"], counts["whole"])
    return taken


def seats_taken_subquery(now: datetime, slot_ref: str = "pk") -> Coalesce:
    """Correlated subquery: seats held on the slot `slot_ref` points at (one index scan per slot).

    A private slot with any holding booking counts as full (`seats_taken`).
    """
    taken = (
        Booking.objects.filter(holding_q(now), slot_id=OuterRef(slot_ref))
        .order_by()
        .values("slot_id")
        .annotate(n=Greatest(Sum("party_size"), _private_slot_capacity()))
        .values("n")
    )
    return Coalesce(Subquery(taken, output_field=IntegerField()), Value(0))


def seats_left_expression(now: datetime, slot_ref: str = "pk") -> Greatest:
    """`capacity - seats taken`, never below zero (capacity may have been lowered)."""
    return Greatest(F("capacity") - seats_taken_subquery(now, slot_ref), Value(0))


def booking_list_for(*, user: User) -> QuerySet[Booking]:
    """The caller's own bookings, newest first."""
    return Booking.objects.filter(customer=user).select_related("slot", "slot__theme").order_by("-created_at", "-id")


def booking_visible_to(*, user: User) -> QuerySet[Booking]:
    """Bookings a user may open: their own, those on their approved merchant's slots, or all for admins."""
    qs = Booking.objects.select_related("slot", "slot__theme", "slot__theme__merchant", "customer")
    if user_is_platform_admin(user):
        return qs
    return qs.filter(Q(customer=user) | managed_by_owner_q(user, merchant_path="slot__theme__merchant"))


def slot_participants(*, slot_id: int, now: datetime | None = None) -> QuerySet[Booking]:
    """Active bookings on a slot (holding seats now), oldest first, with their customers."""
    now = now or timezone.now()
    return (
        Booking.objects.filter(holding_q(now), slot_id=slot_id).select_related("customer").order_by("created_at", "id")
    )


def customer_unpaid_hold_count(*, customer_id: int, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return _customer_unpaid_holds(customer_id, now).count()


def customer_free_upcoming_count(*, customer_id: int, now: datetime | None = None) -> int:
    """Free bookings the customer holds on slots that have not started (the BOOKING_MAX_FREE_HOLDS cap)."""
    now = now or timezone.now()
    return _customer_free_upcoming(customer_id, now).count()


def _customer_unpaid_holds(customer_id: int, now: datetime) -> QuerySet[Booking]:
    return Booking.objects.filter(customer_id=customer_id, status=BookingStatus.PENDING_PAYMENT, expires_at__gt=now)


def _customer_free_upcoming(customer_id: int, now: datetime) -> QuerySet[Booking]:
    return Booking.objects.filter(
        customer_id=customer_id, status=BookingStatus.CONFIRMED, amount=0, slot__starts_at__gt=now
    )


def _count_subquery(qs: QuerySet[Booking]) -> Coalesce:
    """`SELECT COUNT(*)` of `qs` as a scalar subquery (0 when nothing matches)."""
    counted = qs.order_by().values("customer_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def join_recount_annotations(*, customer_id: int, now: datetime) -> dict[str, Subquery | Coalesce]:
    """What a join counts under its locks, as annotations of one statement on the locked slot row.

    `taken` is `seats_taken`, `unpaid_holds` `customer_unpaid_hold_count`, `free_upcoming`
    `customer_free_upcoming_count`, and `existing_id` the customer's seat-holding booking on the slot
    (None when there is none). bookings.services.booking_join reads them in the one statement it runs
    after taking the customer and slot locks, so each is as fresh as a query of its own would be,
    for one round trip instead of four.
    """
    existing = Booking.objects.filter(
        slot_id=OuterRef("pk"), customer_id=customer_id, status__in=SEAT_HOLDING_STATUSES
    ).values("pk")[:1]
    return {
        "taken": seats_taken_subquery(now),
        "unpaid_holds": _count_subquery(_customer_unpaid_holds(customer_id, now)),
        "free_upcoming": _count_subquery(_customer_free_upcoming(customer_id, now)),
        "existing_id": Subquery(existing, output_field=IntegerField()),
    }


def booking_upcoming_q(now: datetime) -> Q:
    """Bookings still to come for their customer: holding seats at `now` on a slot that has not started.

    Everything else (cancelled, expired or run-out holds, slots that have started) is past.
    """
    return holding_q(now) & Q(slot__starts_at__gt=now)
