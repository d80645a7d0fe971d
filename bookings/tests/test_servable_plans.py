"""The participants and attendance lookups read one slot or booking by primary key, never the whole table.

`pk = X AND (pk IN (<every visible row>) OR <kept-bookings owner>)` made PostgreSQL
read every slot (the OR defeats the primary key): 64 ms on the 1 % dataset,
seconds at full size. The visibility subquery is narrowed to the same pk.
The test counts the rows the plan reads from the table, with EXPLAIN ANALYZE.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.api import _servable_booking, _servable_slot
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.models import Slot

MANY = 300


def _rows_read(sql: str, table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def walk(node) -> int:
        own = node.get("Actual Rows", 0) * node.get("Actual Loops", 1) if node.get("Relation Name") == table else 0
        return own + sum(walk(child) for child in node.get("Plans", []))

    return walk(plan[0]["Plan"])


@pytest.mark.django_db
def test_the_servable_slot_and_booking_are_read_by_primary_key():
    booking = ConfirmedBookingFactory()
    slot = booking.slot
    start = slot.ends_at + timedelta(days=1)
    others = Slot.objects.bulk_create(
        Slot(
            theme=slot.theme,
            starts_at=start + timedelta(hours=2 * i),
            ends_at=start + timedelta(hours=2 * i + 1),
            capacity=10,
        )
        for i in range(MANY)
    )
    Booking.objects.bulk_create(
        Booking(
            slot=other,
            customer=booking.customer,
            party_size=1,
            status=BookingStatus.CONFIRMED,
            amount=0,
            currency=booking.currency,
            confirmed_at=timezone.now(),
        )
        for other in others
    )
    owner = slot.theme.merchant.owner
    with CaptureQueriesContext(connection) as ctx:
        assert _servable_slot(owner, slot.pk).pk == slot.pk
        assert _servable_booking(owner, booking.pk).pk == booking.pk
    slot_sql, booking_sql = (query["sql"] for query in ctx.captured_queries)

    assert _rows_read(slot_sql, "catalog_slot") <= 3
    assert _rows_read(booking_sql, "bookings_booking") <= 3
