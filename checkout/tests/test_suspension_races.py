"""Suspending a merchant while customers are joining its slots: no booking is left behind or let in.

A join checks the merchant under its slot's lock; a suspension locks the
merchant, then every upcoming slot of it (catalog.services.slots_lock_upcoming),
then lists the bookings to cancel. Each test holds one side at the point where
the other could slip past it, with real threads on their own connections.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings import services as booking_services
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join
from bookwise.errors import DomainError
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout import services
from merchants.models import MerchantStatus

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10


def _in_thread(call, results: dict, name: str) -> threading.Thread:
    def run() -> None:
        try:
            results[name] = call()
        except Exception as exc:  # asserted by the test
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_join_in_flight_when_the_merchant_is_suspended_is_cancelled_with_the_others(monkeypatch):
    slot = SlotFactory(theme=ThemeFactory(price=0), starts_at=timezone.now() + timedelta(days=3), capacity=4)
    merchant = slot.theme.merchant
    customer, admin = UserFactory(), AdminFactory()
    join_holds_the_slot, suspension_started = threading.Event(), threading.Event()
    checked = booking_services._slot_closed_reason

    def check_then_wait(*args, **kwargs):
        reason = checked(*args, **kwargs)  # the merchant was still approved
        join_holds_the_slot.set()
        suspension_started.wait(WAIT)
        # Without the suspension waiting for this slot's lock, it would list the
        # bookings and commit during this pause, and miss the one made here.
        threading.Event().wait(0.5)
        return reason

    monkeypatch.setattr(booking_services, "_slot_closed_reason", check_then_wait)
    results: dict = {}
    joining = _in_thread(lambda: booking_join(slot_id=slot.pk, customer=customer, party_size=2), results, "join")
    assert join_holds_the_slot.wait(WAIT)

    def suspend():
        suspension_started.set()
        return services.merchant_suspend(merchant=merchant, by=admin, reason="Closed", keep_bookings=False)

    suspending = _in_thread(suspend, results, "suspend")
    joining.join(WAIT * 2)
    suspending.join(WAIT * 2)

    assert isinstance(results["join"], Booking)
    assert results["suspend"].cancelled == 1
    assert Booking.objects.get(pk=results["join"].pk).status == BookingStatus.CANCELLED


def test_a_join_waiting_on_a_suspension_is_refused_once_it_commits(monkeypatch):
    slot = SlotFactory(theme=ThemeFactory(price=0), starts_at=timezone.now() + timedelta(days=3), capacity=4)
    merchant = slot.theme.merchant
    customer, admin = UserFactory(), AdminFactory()
    slots_locked, join_started = threading.Event(), threading.Event()
    lock_slots = services.slots_lock_upcoming

    def lock_then_wait(**kwargs):
        ids = lock_slots(**kwargs)
        slots_locked.set()
        join_started.wait(WAIT)
        threading.Event().wait(0.5)  # the join is now waiting for the slot's lock
        return ids

    monkeypatch.setattr(services, "slots_lock_upcoming", lock_then_wait)
    results: dict = {}
    suspending = _in_thread(
        lambda: services.merchant_suspend(merchant=merchant, by=admin, reason="Closed", keep_bookings=True),
        results,
        "suspend",
    )
    assert slots_locked.wait(WAIT)

    def join():
        join_started.set()
        return booking_join(slot_id=slot.pk, customer=customer, party_size=2)

    joining = _in_thread(join, results, "join")
    suspending.join(WAIT * 2)
    joining.join(WAIT * 2)

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    assert isinstance(results["join"], DomainError)
    assert results["join"].code == "slot_closed"
    assert not Booking.objects.filter(slot=slot).exists()
