"""A payment confirmed while its booking is being moved locks the slot the booking ends up on.

`booking_confirm_payment` reads the booking's slot id, locks that slot, then the
booking. A reschedule committing between the read and the booking lock moves
the booking: the confirmation must re-lock the new slot (bookings.services
`_lock_slot_then_booking`), not judge seats and openness on the old one.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.services import ConfirmOutcome, booking_confirm_payment
from bookings.tests.factories import BookingFactory
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def test_a_confirmation_waiting_on_a_moved_booking_locks_and_judges_its_new_slot():
    theme = ThemeFactory(price=2500)
    start = timezone.now() + timedelta(days=3)
    old = SlotFactory(theme=theme, starts_at=start, capacity=4)
    new = SlotFactory(theme=theme, starts_at=start + timedelta(hours=3), capacity=4)
    booking = BookingFactory(slot=old, party_size=2, status=BookingStatus.PENDING_PAYMENT)
    # The old slot is cancelled: judged on it, the payment could only be refunded.
    old.status = SlotStatus.CANCELLED
    old.save(update_fields=["status"])

    mover_holds_the_booking, confirmer_pid, release = threading.Event(), [], threading.Event()
    results: dict[str, object] = {}

    def move() -> None:
        try:
            with transaction.atomic():
                Booking.objects.select_for_update().get(pk=booking.pk)
                mover_holds_the_booking.set()
                release.wait(WAIT)
                Booking.objects.filter(pk=booking.pk).update(slot=new)
        finally:
            connection.close()

    def confirm() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                confirmer_pid.append(cursor.fetchone()[0])
            results["outcome"] = booking_confirm_payment(booking_id=booking.pk)
        except Exception as exc:  # asserted below
            results["outcome"] = exc
        finally:
            connection.close()

    mover = threading.Thread(target=move)
    mover.start()
    assert mover_holds_the_booking.wait(WAIT)
    confirmer = threading.Thread(target=confirm)
    confirmer.start()
    # The confirmation has read the old slot id, locked the old slot and now waits for the booking.
    deadline = timezone.now() + timedelta(seconds=WAIT)
    while not (confirmer_pid and _waiting_on_a_lock(confirmer_pid[0])) and timezone.now() < deadline:
        threading.Event().wait(0.05)
    release.set()
    mover.join(WAIT)
    confirmer.join(WAIT)

    assert results["outcome"] == ConfirmOutcome.CONFIRMED
    booking.refresh_from_db()
    assert (booking.slot_id, booking.status) == (new.pk, BookingStatus.CONFIRMED)
