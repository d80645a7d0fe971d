"""Reads of the waitlist (bookings.waitlist): a customer's entries with their place in the queue, a slot's queue."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from bookings.models import WAITLIST_ACTIVE_STATUSES, WaitlistEntry, WaitlistStatus


def _ahead_q() -> Q:
    """Entries joined before the outer one (`created_at`, then id)."""
    return Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))


def with_positions(entries: QuerySet[WaitlistEntry]) -> QuerySet[WaitlistEntry]:
    """Annotate `position`: 1 + the waiting entries of the same slot joined before; None unless waiting."""
    ahead = (
        WaitlistEntry.objects.filter(_ahead_q(), slot_id=OuterRef("slot_id"), status=WaitlistStatus.WAITING)
        .order_by()
        .values("slot_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return entries.annotate(
        position=Case(
            When(
                status=WaitlistStatus.WAITING,
                then=Coalesce(Subquery(ahead, output_field=IntegerField()), Value(0)) + Value(1),
            ),
            default=None,
            output_field=IntegerField(),
        )
    )


def waitlist_position(entry: WaitlistEntry) -> int | None:
    """The entry's place in its slot's queue (1 = next to be offered); None unless it is waiting."""
    if entry.status != WaitlistStatus.WAITING:
        return None
    ahead = (
        WaitlistEntry.objects.filter(slot_id=entry.slot_id, status=WaitlistStatus.WAITING)
        .filter(Q(created_at__lt=entry.created_at) | Q(created_at=entry.created_at, id__lt=entry.pk))
        .count()
    )
    return ahead + 1


def waitlist_entries_for(*, customer: User) -> QuerySet[WaitlistEntry]:
    """A customer's entries, every status, with `position`, their slot, theme and merchant."""
    return with_positions(
        WaitlistEntry.objects.filter(customer_id=customer.pk).select_related(
            "slot", "slot__theme", "slot__theme__merchant", "booking"
        )
    )


def waitlist_active_upcoming_for(*, customer: User, now: datetime | None = None) -> QuerySet[WaitlistEntry]:
    """The customer's waiting and offered entries on slots still to come, soonest first ("My bookings")."""
    now = now or timezone.now()
    return (
        waitlist_entries_for(customer=customer)
        .filter(status__in=WAITLIST_ACTIVE_STATUSES, slot__starts_at__gt=now)
        .order_by("slot__starts_at", "id")
    )


def waitlist_positions_for_slots(*, customer: User, slot_ids: list[int]) -> dict[int, int | None]:
    """slot id -> the customer's position (None once offered) for their active entries on those slots."""
    if not customer.is_authenticated or not slot_ids:
        return {}
    entries = with_positions(
        WaitlistEntry.objects.filter(customer_id=customer.pk, slot_id__in=slot_ids, status__in=WAITLIST_ACTIVE_STATUSES)
    )
    return {entry.slot_id: getattr(entry, "position", None) for entry in entries}


def waitlist_for_slot(*, slot_id: int) -> QuerySet[WaitlistEntry]:
    """A slot's queue for its merchant, in order of joining, every status, with `position` and the customer."""
    return with_positions(WaitlistEntry.objects.filter(slot_id=slot_id).select_related("customer", "booking")).order_by(
        "created_at", "id"
    )
