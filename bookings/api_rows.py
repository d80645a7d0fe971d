"""The bookings API's hot lists built from `.values()` rows: their serializers' JSON, without model instances.

Same approach as catalog/api_rows.py: a caller's bookings and a slot's
participants read only the columns their serializers show and build the
same dictionaries (keys, order, types, DRF's datetime format). The
serializers in bookings/api.py stay the contract and the OpenAPI schema;
bookings/tests/test_api_rows.py compares both outputs on rich data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet

from bookings.models import Booking
from catalog.api_rows import datetime_out

# Columns of BookingOutSerializer; `id` and `created_at` also place the cursor (NewestFirstCursorPagination).
BOOKING_COLUMNS = (
    "id",
    "slot_id",
    "slot__theme_id",
    "slot__theme__title",
    "slot__starts_at",
    "party_size",
    "status",
    "amount",
    "currency",
    "expires_at",
    "created_at",
    "tickets",
    "discount",
    "refunded_amount",
)


def booking_values(qs: QuerySet[Booking]) -> QuerySet[Any]:
    """A booking list (`booking_list_for`) as plain rows of BOOKING_COLUMNS: one query, joined to slot and theme."""
    return qs.values(*BOOKING_COLUMNS)


def _tickets(tickets: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if tickets is None:
        return None
    return [{"tier": str(t["tier"]), "quantity": int(t["quantity"])} for t in tickets]


def booking_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """BookingOutSerializer's dictionary for one row of `booking_values`."""
    return {
        "id": row["id"],
        "slot": row["slot_id"],
        "theme": row["slot__theme_id"],
        "theme_title": row["slot__theme__title"],
        "starts_at": datetime_out(row["slot__starts_at"]),
        "party_size": row["party_size"],
        "status": row["status"],
        "amount": row["amount"],
        "currency": row["currency"],
        "expires_at": datetime_out(row["expires_at"]),
        "created_at": datetime_out(row["created_at"]),
        "tickets": _tickets(row["tickets"]),
        "discount": row["discount"],
        "refunded_amount": row["refunded_amount"],
    }


def booking_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [booking_row(row) for row in rows]


# Columns of ParticipantSerializer (the customer through the join `slot_participants` selects).
PARTICIPANT_COLUMNS = (
    "id",
    "customer_id",
    "customer__full_name",
    "customer__email",
    "party_size",
    "status",
    "created_at",
)


def participant_values(qs: QuerySet[Booking]) -> QuerySet[Any]:
    """A slot's participants (`slot_participants`) as plain rows of PARTICIPANT_COLUMNS."""
    return qs.values(*PARTICIPANT_COLUMNS)


def participant_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """ParticipantSerializer's dictionaries."""
    return [
        {
            "booking": row["id"],
            "customer": {
                "id": row["customer_id"],
                "full_name": row["customer__full_name"],
                "email": row["customer__email"],
            },
            "party_size": row["party_size"],
            "status": row["status"],
            "created_at": datetime_out(row["created_at"]),
        }
        for row in rows
    ]
