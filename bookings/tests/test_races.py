"""Races with real threads on PostgreSQL: each thread has its own connection."""

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import Booking, BookingStatus
from bookings.selectors import holding_q, seats_taken
from bookwise.errors import DomainError
from catalog.models import Slot
from catalog.tests.factories import SlotFactory
from checkout.services import booking_cancel_and_refund
from conftest import bearer_client
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_concurrent_joins_on_capacity_five_give_exactly_five_bookings():
    slot = SlotFactory(capacity=5)
    clients = [bearer_client(UserFactory()) for _ in range(50)]
    url = f"/api/v1/slots/{slot.pk}/join/"
    responses = run_together([lambda c=c: c.post(url, {"party_size": 1}, format="json") for c in clients])
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 5
    assert codes.count(409) == 45
    assert all(r.json()["code"] == "slot_full" for r in responses if r.status_code == 409)
    assert Booking.objects.filter(slot=slot).count() == 5
    assert seats_taken(slot_id=slot.pk) == 5


def test_two_concurrent_joins_of_three_on_capacity_five_have_one_winner():
    slot = SlotFactory(capacity=5)
    customers = [UserFactory(), UserFactory()]
    results = run_together(
        [lambda c=c: services.booking_join(slot_id=slot.pk, customer=c, party_size=3) for c in customers]
    )
    winners = [r for r in results if isinstance(r, Booking)]
    losers = [r for r in results if isinstance(r, DomainError)]
    assert len(winners) == 1
    assert [e.code for e in losers] == ["slot_full"]
    assert seats_taken(slot_id=slot.pk) == 3


def test_same_customer_joining_twice_concurrently_gets_one_booking():
    slot = SlotFactory(capacity=5)
    customer = UserFactory()
    results = run_together([lambda: services.booking_join(slot_id=slot.pk, customer=customer)] * 4)
    assert sum(isinstance(r, Booking) for r in results) == 1
    assert {e.code for e in results if isinstance(e, DomainError)} == {"already_booked"}


def test_join_cancel_and_sweep_together_never_oversell():
    """Joins, cancels and expiry sweeps interleave; a watcher checks the invariant throughout."""
    capacity = 4
    slot = SlotFactory(capacity=capacity)
    # Some holds that are already due, so the sweep has work while joins run.
    for _ in range(3):
        Booking.objects.create(
            slot=slot,
            customer=UserFactory(),
            party_size=1,
            amount=0,
            currency="usd",
            expires_at=timezone.now() - timedelta(seconds=1),
        )
    customers = [UserFactory() for _ in range(16)]
    stop = threading.Event()
    violations = []

    def watcher():
        try:
            while not stop.is_set():
                now = timezone.now()
                held = seats_taken(slot_id=slot.pk, now=now)
                capacity_now = Slot.objects.get(pk=slot.pk).capacity
                if held > capacity_now:
                    violations.append(held)
                time.sleep(0.005)
        finally:
            connection.close()

    def customer_flow(customer):
        def flow():
            outcomes = []
            for _ in range(3):
                try:
                    booking = services.booking_join(
                        slot_id=slot.pk, customer=customer, party_size=random.choice([1, 2])
                    )
                except DomainError as exc:
                    outcomes.append(exc.code)
                    continue
                outcomes.append("joined")
                if random.random() < 0.6:
                    booking_cancel_and_refund(booking_id=booking.pk, by=customer)
                    outcomes.append("cancelled")
            return outcomes

        return flow

    def sweeper():
        return [services.bookings_expire_due() for _ in range(5)]

    watch = threading.Thread(target=watcher)
    watch.start()
    try:
        results = run_together([customer_flow(c) for c in customers] + [sweeper, sweeper])
    finally:
        stop.set()
        watch.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert violations == []
    held = Booking.objects.filter(holding_q(timezone.now()), slot=slot)
    total = sum(b.party_size for b in held)
    assert total <= capacity
    assert seats_taken(slot_id=slot.pk) == total
    # Both sweepers together expired each due hold exactly once.
    assert Booking.objects.filter(slot=slot, status=BookingStatus.EXPIRED).count() == 3
    assert sum(sum(r) for r in results[-2:]) == 3


def _unlocked_join(slot_id, customer):
    """The broken way (check, then insert, no lock): what the real service must never do."""
    with transaction.atomic():
        slot = Slot.objects.get(pk=slot_id)
        if seats_taken(slot_id=slot_id) + 1 > slot.capacity:
            raise DomainError("slot_full", "full")
        time.sleep(0.05)  # widen the window between check and insert
        return Booking.objects.create(
            slot=slot,
            customer=customer,
            party_size=1,
            amount=0,
            currency="usd",
            expires_at=timezone.now() + timedelta(minutes=15),
        )


def test_control_the_same_race_through_an_unlocked_path_oversells():
    """Proves the race tests can fail: without the slot lock, the same scenario oversells."""
    slot = SlotFactory(capacity=5)
    customers = [UserFactory() for _ in range(20)]
    run_together([lambda c=c: _unlocked_join(slot.pk, c) for c in customers])
    assert seats_taken(slot_id=slot.pk) > slot.capacity


def test_concurrent_free_joins_of_one_customer_never_pass_the_free_bookings_cap(settings):
    settings.BOOKING_MAX_FREE_HOLDS = 3
    customer = UserFactory()
    slots = [SlotFactory(theme__price=0, capacity=5) for _ in range(10)]

    results = run_together([lambda s=s: services.booking_join(slot_id=s.pk, customer=customer) for s in slots])

    winners = [r for r in results if isinstance(r, Booking)]
    assert len(winners) == 3, results
    assert {r.code for r in results if not isinstance(r, Booking)} == {"too_many_holds"}
    assert Booking.objects.filter(customer=customer, status=BookingStatus.CONFIRMED).count() == 3
