"""Promo codes through the API (API.md "Promo codes"): create, list, pause, and a join that sends `promo_code`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import PromoCode
from bookings.promo import promo_code_create
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from payments.tests.factories import SucceededPaymentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/promo-codes/"


def test_a_merchant_creates_a_percent_code(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    valid_to = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    response = merchant_client.post(
        URL,
        {
            "code": "Spring-25",
            "percent_off": 25,
            "valid_to": valid_to.isoformat(),
            "max_redemptions": 50,
            "themes": [theme.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "Spring-25"
    assert (body["percent_off"], body["amount_off"], body["currency"]) == (25, None, "")
    assert (body["max_redemptions"], body["redemptions"], body["revenue"], body["is_active"]) == (50, 0, 0, True)
    assert body["themes"] == [theme.pk]
    assert PromoCode.objects.get(pk=body["id"]).merchant == merchant


def test_an_amount_code_needs_a_supported_currency(merchant_client):
    response = merchant_client.post(URL, {"code": "FIVE", "amount_off": 500}, format="json")
    assert response.status_code == 400
    assert "currency" in response.json()
    response = merchant_client.post(URL, {"code": "FIVE", "amount_off": 500, "currency": "EUR"}, format="json")
    assert response.status_code == 201
    assert (response.json()["amount_off"], response.json()["currency"]) == (500, "eur")


@pytest.mark.parametrize(
    "body",
    [
        {"code": "a b", "percent_off": 10},
        {"code": "OK10", "percent_off": 0},
        {"code": "OK10"},
        {"code": "OK10", "percent_off": 10, "amount_off": 100, "currency": "usd"},
        {"code": "OK10", "percent_off": 10, "valid_to": "2030-01-01T10:00:00"},  # no offset
        {"code": "OK10", "percent_off": 10, "valid_from": "2030-02-01T10:00:00Z", "valid_to": "2030-01-01T10:00:00Z"},
        {"code": "OK10", "percent_off": 10, "max_redemptions": 0},
        {"code": "OK10", "percent_off": 10, "themes": ["x"]},
    ],
)
def test_invalid_bodies_are_400(merchant_client, body):
    assert merchant_client.post(URL, body, format="json").status_code == 400


def test_a_theme_of_another_merchant_is_400(merchant_client):
    response = merchant_client.post(
        URL, {"code": "MINE", "percent_off": 10, "themes": [ThemeFactory().pk]}, format="json"
    )
    assert response.status_code == 400
    assert "themes" in response.json()


def test_a_duplicate_code_in_another_case_is_409(merchant, merchant_client):
    promo_code_create(merchant=merchant, code="WELCOME10", percent_off=10)
    response = merchant_client.post(URL, {"code": "welcome10", "percent_off": 5}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "promo_code_exists"


def test_the_list_shows_own_codes_with_redemptions_and_revenue(merchant, merchant_client):
    code = promo_code_create(merchant=merchant, code="WELCOME10", percent_off=10, max_redemptions=100)
    promo_code_create(merchant=MerchantFactory(), code="OTHER", percent_off=10)
    slot = SlotFactory(theme__merchant=merchant, theme__price=3000)
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), promo_code="welcome10")
    SucceededPaymentFactory(booking=booking)
    services.booking_confirm_payment(booking_id=booking.pk)
    for n in range(3):
        promo_code_create(merchant=merchant, code=f"EXTRA{n}", percent_off=5)

    with CaptureQueriesContext(connection) as queries:
        response = merchant_client.get(URL)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["code"] for row in rows] == ["EXTRA2", "EXTRA1", "EXTRA0", "WELCOME10"]
    assert rows[-1]["id"] == code.pk
    assert (rows[-1]["redemptions"], rows[-1]["max_redemptions"], rows[-1]["revenue"]) == (1, 100, 2700)
    assert len(queries) <= 8  # no query per code (themes are prefetched)


def test_patch_pauses_and_changes_the_end_and_the_maximum(merchant, merchant_client):
    code = promo_code_create(merchant=merchant, code="WELCOME10", percent_off=10, max_redemptions=10)
    PromoCode.objects.filter(pk=code.pk).update(redemptions=4)
    url = f"{URL}{code.pk}/"
    valid_to = (timezone.now() + timedelta(days=3)).replace(microsecond=0)

    response = merchant_client.patch(
        url, {"is_active": False, "valid_to": valid_to.isoformat(), "max_redemptions": 4}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["is_active"], body["max_redemptions"], body["redemptions"]) == (False, 4, 4)

    response = merchant_client.patch(url, {"max_redemptions": 3}, format="json")
    assert response.status_code == 400
    assert "max_redemptions" in response.json()
    assert merchant_client.patch(url, {"is_active": True, "max_redemptions": None}, format="json").status_code == 200
    code.refresh_from_db()
    assert (code.is_active, code.max_redemptions) == (True, None)


def test_another_merchant_cannot_see_or_change_a_code(merchant):
    code = promo_code_create(merchant=merchant, code="WELCOME10", percent_off=10)
    other = bearer_client(MerchantFactory().owner)
    assert other.patch(f"{URL}{code.pk}/", {"is_active": False}, format="json").status_code == 404
    assert other.get(f"{URL}{code.pk}/").status_code == 404
    assert other.get(URL).json()["results"] == []


def test_customers_are_refused(customer_client):
    assert customer_client.get(URL).status_code == 403
    assert customer_client.post(URL, {"code": "MINE", "percent_off": 10}, format="json").status_code == 403


def test_a_join_sends_promo_code_and_gets_the_discount(customer_client):
    slot = SlotFactory(theme__price=2500)
    promo_code_create(merchant=slot.theme.merchant, code="WELCOME10", percent_off=10)
    response = customer_client.post(
        f"/api/v1/slots/{slot.pk}/join/", {"party_size": 2, "promo_code": "welcome10"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["amount"], response.json()["discount"]) == (4500, 500)


def test_a_join_with_a_refused_code_is_409_promo_invalid_in_words(customer_client):
    slot = SlotFactory()
    code = promo_code_create(merchant=slot.theme.merchant, code="FULL", percent_off=10, max_redemptions=1)
    PromoCode.objects.filter(pk=code.pk).update(redemptions=1)
    response = customer_client.post(f"/api/v1/slots/{slot.pk}/join/", {"promo_code": "full"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"code": "promo_invalid", "detail": "This code has been used up."}
    response = customer_client.post(f"/api/v1/slots/{slot.pk}/join/", {"promo_code": "x" * 41}, format="json")
    assert response.status_code == 400


def test_an_empty_promo_code_is_no_code(customer_client):
    slot = SlotFactory(theme__price=2500)
    response = customer_client.post(f"/api/v1/slots/{slot.pk}/join/", {"promo_code": ""}, format="json")
    assert response.status_code == 201
    assert response.json()["discount"] == 0
