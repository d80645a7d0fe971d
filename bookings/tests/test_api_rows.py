"""My bookings and a slot's participants built from `.values()` rows give byte for byte their serializers' JSON.

bookings/api_rows.py replaces BookingOutSerializer and ParticipantSerializer at run
time on GET /bookings/ and GET /slots/{id}/participants/; these tests render both on
rich data (tickets, promo discounts, refunds, several currencies, unpaid holds,
expired and cancelled bookings, names with accents) and compare the JSON text.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from accounts.tests.factories import UserFactory
from bookings import selectors, services
from bookings.api import BookingOutSerializer, ParticipantSerializer
from bookings.models import BookingStatus
from bookings.promo import promo_code_create
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import BookingMode
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db


def _text(data) -> str:
    return json.dumps(json.loads(JSONRenderer().render(data)), ensure_ascii=False)


def _rich_bookings(customer):
    tiered = ThemeFactory(
        currency="eur",
        price=2000,
        price_tiers=[
            {"code": "adult", "label": "Adult", "price": 2000},
            {"code": "child", "label": "Child", "price": 900},
        ],
    )
    services.booking_join(
        slot_id=SlotFactory(theme=tiered).pk,
        customer=customer,
        tickets=[{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}],
    )
    promo_code_create(merchant=tiered.merchant, code="TEN", percent_off=10)
    services.booking_join(
        slot_id=SlotFactory(theme=tiered).pk,
        customer=customer,
        tickets=[{"tier": "adult", "quantity": 1}],
        promo_code="ten",
    )
    services.booking_join(slot_id=SlotFactory(theme__price=0).pk, customer=customer, party_size=2)
    private = ThemeFactory(booking_mode=BookingMode.PRIVATE, private_price=30000, currency="jpy", price=5000)
    services.booking_join(slot_id=SlotFactory(theme=private, price=45000).pk, customer=customer, party_size=3)
    now = timezone.now()
    BookingFactory(customer=customer, status=BookingStatus.EXPIRED, expires_at=now - timedelta(hours=1))
    BookingFactory(customer=customer, expires_at=now - timedelta(minutes=2))  # ran out, not swept yet
    ConfirmedBookingFactory(customer=customer, status=BookingStatus.CANCELLED, refunded_amount=1250)
    BookingFactory(party_size=4)  # somebody else's


def test_my_bookings_rows_match_the_serializer(customer, customer_client):
    _rich_bookings(customer)
    response = customer_client.get("/api/v1/bookings/", {"page_size": 100})
    assert response.status_code == 200
    expected = BookingOutSerializer(list(selectors.booking_list_for(user=customer)), many=True).data
    assert len(expected) == 7
    assert any(row["tickets"] for row in expected)
    assert any(row["discount"] for row in expected)
    assert _text(response.json()["results"]) == _text(expected)


def test_my_bookings_cursor_pages_cover_the_list_once(customer, customer_client):
    _rich_bookings(customer)
    seen, url, pages = [], "/api/v1/bookings/?page_size=3", 0
    while url:
        body = customer_client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    expected = list(selectors.booking_list_for(user=customer).values_list("id", flat=True))
    assert seen == expected
    assert pages == 3


def test_my_bookings_is_two_queries_at_most(customer, customer_client):
    _rich_bookings(customer)
    with CaptureQueriesContext(connection) as ctx:
        assert customer_client.get("/api/v1/bookings/").status_code == 200
    assert len(ctx.captured_queries) <= 2  # the token's user, then one page joined to slot and theme


def _participants(slot, n):
    for i in range(n):
        customer = UserFactory(full_name=["Zoë Ørsted", "", "Jean-Luc"][i % 3])
        factory = ConfirmedBookingFactory if i % 2 else BookingFactory
        factory(slot=slot, customer=customer, party_size=1)


def test_participants_rows_match_the_serializer():
    slot = SlotFactory(capacity=12)
    _participants(slot, 5)
    BookingFactory(slot=slot, status=BookingStatus.CANCELLED)
    client = bearer_client(slot.theme.merchant.owner)
    response = client.get(f"/api/v1/slots/{slot.pk}/participants/")
    assert response.status_code == 200
    body = response.json()
    expected = ParticipantSerializer(list(selectors.slot_participants(slot_id=slot.pk)), many=True).data
    assert (body["count"], body["next"], body["previous"]) == (5, None, None)
    assert _text(body["results"]) == _text(expected)


def test_participants_fitting_on_one_page_need_no_count_query():
    slot = SlotFactory(capacity=12)
    _participants(slot, 4)
    client = bearer_client(slot.theme.merchant.owner)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get(f"/api/v1/slots/{slot.pk}/participants/").json()
    assert body["count"] == 4
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
    assert len(ctx.captured_queries) <= 3  # the token's user, the slot, one page


@pytest.mark.parametrize("participants", [0, 2, 3, 7])
def test_participants_pages_and_count_are_unchanged(participants):
    slot = SlotFactory(capacity=12)
    _participants(slot, participants)
    client = bearer_client(slot.theme.merchant.owner)
    url = f"/api/v1/slots/{slot.pk}/participants/?page_size=3"
    body = client.get(url).json()
    assert body["count"] == participants
    assert len(body["results"]) == min(3, participants)
    assert (body["next"] is not None) == (participants > 3)
    if participants > 3:
        last = client.get(f"{url}&page=3").json()
        assert (last["count"], len(last["results"]), last["next"]) == (7, 1, None)
    assert client.get(f"{url}&page=9").status_code == 404
