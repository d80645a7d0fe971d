"""What a join costs in round trips to PostgreSQL, and that the round trips cut kept their guarantees.

Issue 15 removed from every join: the waitlist EXISTS run before the transaction (now one EXISTS read
in the statement that re-reads the merchant under the slot lock), the savepoint around the booking's
INSERT, and three counting statements (own booking, unpaid holds, seats: now read in that same
statement, bookings.selectors.join_recount_annotations). The guarantees stay tested in test_races.py,
test_waitlist.py and test_promo.py.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import ConfirmedBookingFactory
from bookwise.errors import DomainError
from catalog.tests.factories import SlotFactory
from conftest import bearer_client


def _statements(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.django_db
def test_a_paid_join_through_the_api_is_at_most_nine_statements():
    slot = SlotFactory(capacity=5, theme__price=2000)
    client = bearer_client(UserFactory())
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"/api/v1/slots/{slot.pk}/join/", {"party_size": 2}, format="json")
    assert response.status_code == 201
    sql = _statements(ctx)
    # The token's user (unless cached), the visible slot, then the transaction (a savepoint inside the test's):
    # customer lock, slot lock, one recount (merchant, queue EXISTS, seats, unpaid holds, free bookings, own
    # booking), INSERT, audit INSERT.
    assert len(sql) <= 9, "\n".join(sql)
    # One recount after the locks; no COUNT or SUM of bookings in a statement of its own.
    assert sum('AS "unpaid_holds"' in s for s in sql) == 1
    assert not [s for s in sql if s.startswith(("SELECT COUNT(*)", "SELECT COALESCE(SUM"))], sql
    assert sum(s.startswith("SAVEPOINT") for s in sql) == 1  # the join's own transaction, no savepoint inside it
    assert sum("bookings_waitlistentry" in s for s in sql) == 1


@pytest.mark.django_db
def test_the_unique_backstop_still_answers_already_booked_and_leaves_the_connection_usable(monkeypatch):
    slot = SlotFactory(capacity=5, theme__price=0)
    customer = UserFactory()
    ConfirmedBookingFactory(slot=slot, customer=customer)
    # Blind the service's own check so that the INSERT meets the conditional unique constraint.
    monkeypatch.setattr(services, "SEAT_HOLDING_STATUSES", ["no-such-status"])
    with pytest.raises(DomainError) as exc:
        services.booking_join(slot_id=slot.pk, customer=customer, party_size=1)
    assert exc.value.code == "already_booked"
    assert Booking.objects.filter(slot=slot).count() == 1  # the transaction was rolled back, not left aborted


@pytest.mark.django_db(transaction=True)
def test_the_unique_backstop_rolls_the_whole_join_back_outside_any_transaction(monkeypatch):
    slot = SlotFactory(capacity=5, theme__price=2000)
    customer = UserFactory()
    services.booking_join(slot_id=slot.pk, customer=customer, party_size=1)
    monkeypatch.setattr(services, "SEAT_HOLDING_STATUSES", ["no-such-status"])
    with pytest.raises(DomainError) as exc:
        services.booking_join(slot_id=slot.pk, customer=customer, party_size=1)
    assert exc.value.code == "already_booked"
    assert list(Booking.objects.filter(slot=slot).values_list("status", flat=True)) == [BookingStatus.PENDING_PAYMENT]
    assert connection.in_atomic_block is False
