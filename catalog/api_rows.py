"""The catalog API's hot lists built from `.values()` rows: the JSON of the output serializers, without model instances.

A ModelSerializer builds a model instance per row and then walks every field
through `get_attribute` and `to_representation`: most of the CPU of a catalog
page. These functions read the columns they need with `.values()` and build
the same dictionaries by hand: same keys in the same order, same types
(ints, floats, strings, null, lists), datetimes through DRF's own
`DateTimeField`, so the format follows REST_FRAMEWORK's settings exactly as
before. The serializers in catalog/api.py stay the contract: the OpenAPI
schema, the writes and single objects use them, and
catalog/tests/test_api_rows.py checks that both give identical JSON on rich
data (tiers, private themes, peak prices, policies, several currencies).

Preconditions: the query sets passed in are the ones the views paginate
(`theme_list_filtered`, `slot_list_for_theme` with its `seats_left`
annotation); `.values()` keeps their filters and ordering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from rest_framework.fields import DateTimeField

from catalog.minimum import has_minimum
from catalog.models import Theme

_DATETIME = DateTimeField()


def datetime_out(value: datetime | None) -> str | None:
    """A datetime as DRF's DateTimeField writes it (ISO 8601, UTC as `Z`), None as null."""
    return None if value is None else _DATETIME.to_representation(value)


# Columns of ThemeOutSerializer, in its field order (merchant name and city through the join).
THEME_COLUMNS = (
    "id",
    "merchant_id",
    "merchant__name",
    "merchant__city",
    "title",
    "description",
    "duration_minutes",
    "price",
    "currency",
    "min_party",
    "max_party",
    "cancellation_cutoff_hours",
    "rating_avg",
    "review_count",
    "is_active",
    "venue_street",
    "venue_postcode",
    "venue_city",
    "venue_country",
    "booking_mode",
    "private_price",
    "price_tiers",
    "min_players",
    "min_players_deadline_hours",
    "cancellation_policy",
    "reminder_offsets_hours",
)


def theme_values(qs: QuerySet[Theme]) -> QuerySet[Any]:
    """The list's query set as plain rows of THEME_COLUMNS (one query, no instances)."""
    return qs.values(*THEME_COLUMNS)


def _price_tiers(tiers: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if tiers is None:
        return None
    return [{"code": str(t["code"]), "label": str(t["label"]), "price": int(t["price"])} for t in tiers]


def _cancellation_policy(tiers: list[dict[str, Any]] | None) -> list[dict[str, int]] | None:
    if tiers is None:
        return None
    return [{"hours_before": int(t["hours_before"]), "refund_percent": int(t["refund_percent"])} for t in tiers]


def theme_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """ThemeOutSerializer's dictionary for one row of `theme_values`."""
    offsets = row["reminder_offsets_hours"]
    return {
        "id": row["id"],
        "merchant": row["merchant_id"],
        "merchant_name": row["merchant__name"],
        "city": row["merchant__city"],
        "title": row["title"],
        "description": row["description"],
        "duration_minutes": row["duration_minutes"],
        "price": row["price"],
        "currency": row["currency"],
        "min_party": row["min_party"],
        "max_party": row["max_party"],
        "cancellation_cutoff_hours": row["cancellation_cutoff_hours"],
        "rating_avg": float(row["rating_avg"]),
        "review_count": row["review_count"],
        "is_active": row["is_active"],
        "venue_street": row["venue_street"],
        "venue_postcode": row["venue_postcode"],
        "venue_city": row["venue_city"],
        "venue_country": row["venue_country"],
        "booking_mode": row["booking_mode"],
        "private_price": row["private_price"],
        "price_tiers": _price_tiers(row["price_tiers"]),
        "min_players": row["min_players"],
        "min_players_deadline_hours": row["min_players_deadline_hours"],
        "cancellation_policy": _cancellation_policy(row["cancellation_policy"]),
        "reminder_offsets_hours": None if offsets is None else [int(hours) for hours in offsets],
    }


def theme_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [theme_row(row) for row in rows]


# Columns of SlotOutSerializer (`seats_left` is the list's annotation; `guaranteed_at` feeds `guaranteed`).
SLOT_COLUMNS = ("id", "theme_id", "starts_at", "ends_at", "capacity", "seats_left", "status", "price", "guaranteed_at")


def slot_values(qs: QuerySet[Any]) -> QuerySet[Any]:
    """A slot list annotated with `seats_left` (`with_seats_left`) as plain rows of SLOT_COLUMNS."""
    return qs.values(*SLOT_COLUMNS)


def slot_rows(rows: Iterable[Mapping[str, Any]], *, theme: Theme) -> list[dict[str, Any]]:
    """SlotOutSerializer's dictionaries for slots of `theme` (`guaranteed` is catalog.minimum.slot_is_guaranteed)."""
    no_minimum = not has_minimum(theme)
    return [
        {
            "id": row["id"],
            "theme": row["theme_id"],
            "starts_at": datetime_out(row["starts_at"]),
            "ends_at": datetime_out(row["ends_at"]),
            "capacity": row["capacity"],
            "seats_left": row["seats_left"],
            "status": row["status"],
            "price": row["price"],
            "guaranteed": no_minimum or row["guaranteed_at"] is not None,
        }
        for row in rows
    ]
