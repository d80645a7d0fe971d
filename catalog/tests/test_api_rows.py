"""The catalog's hot lists built from `.values()` rows give byte for byte the JSON of their serializers.

catalog/api_rows.py replaces ThemeOutSerializer and SlotOutSerializer at run time on
GET /themes/ and GET /themes/{id}/slots/; these tests render both on rich data
(tiers, private themes, peak prices, policies, reminders, photos, several
currencies, guaranteed and cancelled slots, seats taken) and compare the JSON text,
so key order and types (int vs float, null vs []) count too.
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from bookings import catalog_selectors
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog import api_rows
from catalog.api import SlotOutSerializer, ThemeOutSerializer
from catalog.models import BookingMode, SlotStatus, Theme
from catalog.selectors import ThemeFilters
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

THEMES = "/api/v1/themes/"


@pytest.fixture(autouse=True)
def _no_response_cache(settings):
    settings.CATALOG_CACHE_SECONDS = 0  # every request reaches the view (bookwise/response_cache.py)


def _text(data) -> str:
    """The JSON text DRF's renderer gives: order- and type-sensitive."""
    return json.dumps(json.loads(JSONRenderer().render(data)), ensure_ascii=False)


def _rich_catalog():
    paris = MerchantFactory(name="Énigmes & Co", city="Paris")
    tokyo = MerchantFactory(name="Tokyo Rooms", city="Tokyo")
    tiered = ThemeFactory(
        merchant=paris,
        title="Tiered room",
        currency="eur",
        price=2950,
        price_tiers=[
            {"code": "adult", "label": "Adult", "price": 2950},
            {"code": "child", "label": "Enfant (6-12)", "price": 1500},
        ],
        cancellation_policy=[{"hours_before": 48, "refund_percent": 100}, {"hours_before": 2, "refund_percent": 50}],
        reminder_offsets_hours=[24, 2],
        rating_avg=Decimal("4.25"),
        review_count=12,
        venue_street="1 rue de la Paix",
        venue_postcode="75002",
        venue_city="Paris",
        venue_country="FR",
        min_players=3,
        min_players_deadline_hours=6,
    )
    private = ThemeFactory(
        merchant=tokyo,
        title="Private dinner",
        currency="jpy",
        price=5000,
        booking_mode=BookingMode.PRIVATE,
        private_price=40000,
        reminder_offsets_hours=[],
        rating_avg=Decimal("5.00"),
        min_party=2,
        max_party=8,
    )
    free = ThemeFactory(merchant=paris, title="Free walk", price=0, currency="usd", rating_avg=Decimal("0"))
    plain = ThemeFactory(title="A plain room", cancellation_cutoff_hours=0)
    return [tiered, private, free, plain]


def test_theme_list_rows_match_the_serializer_on_rich_data(api_client):
    _rich_catalog()
    for params in ({}, {"ordering": "price"}, {"ordering": "-rating_avg"}, {"city": "paris"}):
        response = api_client.get(THEMES, {**params, "page_size": 100})
        assert response.status_code == 200
        filters = ThemeFilters(city=params.get("city"), ordering=params.get("ordering"))
        expected = ThemeOutSerializer(list(catalog_selectors.theme_list_filtered(filters=filters)), many=True).data
        assert expected  # the comparison is about something
        assert _text(response.json()["results"]) == _text(expected)


def test_theme_rows_match_for_every_theme_in_the_table():
    _rich_catalog()
    qs = Theme.objects.select_related("merchant").order_by("id")
    assert _text(api_rows.theme_rows(api_rows.theme_values(qs))) == _text(ThemeOutSerializer(qs, many=True).data)


def test_theme_list_pages_and_links_are_unchanged(api_client):
    ThemeFactory.create_batch(5)
    first = api_client.get(THEMES, {"page_size": 2}).json()
    assert first["next"].endswith("page=2&page_size=2") or "page=2" in first["next"]
    second = api_client.get(first["next"]).json()
    assert second["previous"] is not None
    assert not {t["id"] for t in first["results"]} & {t["id"] for t in second["results"]}


def _rich_slots(theme):
    now = timezone.now()
    start = (now + timedelta(days=60)).replace(microsecond=123456)
    slots = [
        SlotFactory(theme=theme, starts_at=start, ends_at=start + timedelta(minutes=90), capacity=6),
        SlotFactory(theme=theme, price=4500, capacity=4),  # a peak price
        SlotFactory(theme=theme, capacity=0),
        SlotFactory(theme=theme, status=SlotStatus.CANCELLED),
        SlotFactory(theme=theme, guaranteed_at=now, capacity=8),
    ]
    ConfirmedBookingFactory(slot=slots[0], party_size=2)
    BookingFactory(slot=slots[0], party_size=1)  # an unpaid hold counts
    BookingFactory(slot=slots[1], party_size=1, expires_at=now - timedelta(minutes=1))  # ran out: does not
    ConfirmedBookingFactory(slot=slots[4], party_size=3)
    return slots


@pytest.mark.parametrize("kind", ["minimum", "private", "plain"])
def test_slot_list_rows_match_the_serializer(api_client, kind):
    theme = {
        "minimum": lambda: ThemeFactory(min_players=3, price_tiers=[{"code": "a", "label": "A", "price": 10}]),
        "private": lambda: ThemeFactory(booking_mode=BookingMode.PRIVATE, private_price=9000, currency="jpy"),
        "plain": ThemeFactory,
    }[kind]()
    _rich_slots(theme)
    response = api_client.get(f"{THEMES}{theme.pk}/slots/", {"page_size": 100})
    assert response.status_code == 200
    slots = list(catalog_selectors.slot_list_for_theme(theme_id=theme.pk))
    expected = SlotOutSerializer(slots, many=True, context={"theme": theme}).data
    assert len(expected) == 5
    assert _text(response.json()["results"]) == _text(expected)
    assert any(row["price"] is None for row in expected)
    assert any(row["price"] == 4500 for row in expected)


def test_slot_list_queries_stay_two(api_client):
    theme = ThemeFactory(min_players=2)
    _rich_slots(theme)
    with CaptureQueriesContext(connection) as ctx:
        assert api_client.get(f"{THEMES}{theme.pk}/slots/").status_code == 200
    assert len(ctx.captured_queries) == 2  # the theme (404 and `guaranteed`), then one page with seats_left


def test_theme_list_reads_only_the_columns_it_shows(api_client):
    _rich_catalog()
    with CaptureQueriesContext(connection) as ctx:
        assert api_client.get(THEMES).status_code == 200
    (query,) = ctx.captured_queries
    assert "search_vector" not in query["sql"]
    assert '"catalog_theme"."created_at"' not in query["sql"]
