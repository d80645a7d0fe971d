"""Catalog writes racing each other on PostgreSQL: real threads, one connection each."""

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings import services as booking_services
from bookings.models import Booking
from bookings.selectors import holding_q, seats_taken
from bookings.services import booking_join
from bookwise.errors import DomainError
from catalog import services
from catalog.models import Slot, SlotStatus, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import merchant_suspend, slot_cancel_and_refund
from merchants.services import merchant_approve
from reviews.tests.factories import ReviewFactory
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_overlapping_slot_creates_have_exactly_one_winner():
    theme = ThemeFactory(duration_minutes=60)
    base = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    starts = [base + timedelta(minutes=10 * i) for i in range(6)]  # all within one hour of each other
    results = run_together([lambda s=s: services.slot_create(theme=theme, starts_at=s, capacity=4) for s in starts])
    winners = [r for r in results if isinstance(r, Slot)]
    assert len(winners) == 1, results
    assert {r.code for r in results if not isinstance(r, Slot)} == {"slot_overlap"}
    assert Slot.objects.filter(theme=theme).count() == 1


def test_concurrent_identical_bulk_schedules_create_each_slot_once():
    theme = ThemeFactory(duration_minutes=60)
    schedule = dict(
        start_date=date(2030, 6, 3),
        end_date=date(2030, 6, 16),
        weekdays=[0, 2, 4],
        times=[time(10, 0), time(14, 0)],
        capacity=4,
    )
    plan_now = datetime(2029, 6, 1, 12, 0, tzinfo=UTC)  # keeps 2030 ahead, within the two-year horizon
    results = run_together([lambda: services.slot_bulk_create(theme=theme, now=plan_now, **schedule)] * 4)
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(created for created, _ in results) == 12
    assert sorted(results) == [(0, 12), (0, 12), (0, 12), (12, 0)]
    assert Slot.objects.filter(theme=theme).count() == 12


def test_lowering_capacity_while_customers_join_never_leaves_more_seats_taken_than_capacity():
    slot = SlotFactory(capacity=6, theme__price=0)
    customers = [UserFactory() for _ in range(6)]
    workers = [lambda c=c: booking_join(slot_id=slot.pk, customer=c) for c in customers]
    workers.append(lambda: booking_services.slot_update_capacity(slot=slot, capacity=2))
    results = run_together(workers)
    slot.refresh_from_db()
    assert seats_taken(slot_id=slot.pk) <= slot.capacity
    lowered = not isinstance(results[-1], Exception)
    if lowered:
        assert slot.capacity == 2
    else:
        assert results[-1].code == "capacity_below_booked"
        assert slot.capacity == 6


def test_cancelling_a_slot_while_customers_join_leaves_no_active_booking_on_it(merchant):
    slot = SlotFactory(theme__merchant=merchant, capacity=10)
    customers = [UserFactory() for _ in range(5)]
    workers = [lambda c=c: booking_join(slot_id=slot.pk, customer=c) for c in customers]
    workers.append(lambda: slot_cancel_and_refund(slot=slot, by=merchant.owner))
    results = run_together(workers)
    assert not isinstance(results[-1], Exception), results[-1]
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELLED
    assert not Booking.objects.filter(holding_q(timezone.now()), slot=slot).exists()
    late = [r for r in results[:-1] if isinstance(r, DomainError)]
    assert {e.code for e in late} <= {"slot_closed"}
    _, cancelled = results[-1]
    assert cancelled == len(results) - 1 - len(late)


# --- slot_create locks its theme row only ---------------------------------------------------


def test_slot_create_locks_only_the_theme_row_and_without_the_key():
    theme = ThemeFactory()
    with CaptureQueriesContext(connection) as queries:
        services.slot_create(theme=theme, starts_at=timezone.now() + timedelta(days=3), capacity=4)
    locking = [q["sql"] for q in queries.captured_queries if "FOR " in q["sql"] and "UPDATE" in q["sql"]]
    assert len(locking) == 1, locking
    assert locking[0].endswith('FOR NO KEY UPDATE OF "catalog_theme"'), locking[0]


def test_a_slot_create_holding_its_lock_blocks_neither_the_merchants_approval_nor_new_themes_nor_reviews():
    """While a slot create holds its lock, the merchant's row stays free and the theme can be referenced.

    Before the fix the lock (FOR UPDATE, no OF) also covered the merchant row:
    approving the merchant, or inserting any theme of theirs, waited for it.
    A suspension does wait for the slot create in flight, and only for it: the
    database copies the merchant's approval onto its themes (catalog migration
    0007, for the catalog's indexes), and that update waits for the theme row the
    slot create holds, as a suspension already waits out the joins in flight.
    """
    theme = ThemeFactory(duration_minutes=60)
    merchant = theme.merchant
    admin = AdminFactory()
    reviewer = UserFactory()
    holding, release = threading.Event(), threading.Event()

    def create_slot_and_hold_the_lock():
        try:
            with transaction.atomic():
                services.slot_create(theme=theme, starts_at=timezone.now() + timedelta(days=3), capacity=4)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=create_slot_and_hold_the_lock)
    holder.start()
    try:
        assert holding.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Blocking would fail the test in 2 s instead of hanging it.
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            merchant_approve(merchant=merchant, by=admin)  # already approved: locks the row, changes nothing
            new_theme = services.theme_create(merchant=merchant, title="Second room", duration_minutes=45, price=0)
            ReviewFactory(theme=theme, author=reviewer)
    finally:
        release.set()
        holder.join(30)
    merchant_suspend(merchant=merchant, by=admin, reason="Test suspension")

    assert Theme.objects.filter(pk=new_theme.pk).exists()
    assert Slot.objects.filter(theme=theme).count() == 1
    assert not Theme.objects.filter(merchant=merchant, merchant_approved=True).exists()
