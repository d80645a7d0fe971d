"""Money end to end: one currency table (bookwise.money) behind forms, API, pages and emails.

A zero-decimal currency (JPY) is stored as typed: a ¥5,000 theme is 5000, never
500000; a two-decimal one (EUR) in cents. Unsupported currencies are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.notifications import send_booking_confirmed_email
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.models import Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.notifications import send_booking_cancelled_email
from checkout.services import booking_cancel_and_refund
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from payments.models import PaymentStatus
from payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

THEME_FORM = {
    "title": "Ninja Dojo Escape",
    "description": "Sneak out.",
    "duration_minutes": "60",
    "min_party": "1",
    "max_party": "6",
    "cancellation_cutoff_hours": "24",
}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def tokyo():
    return MerchantFactory(name="Tokyo Craft Studio", city="Tokyo", timezone="Asia/Tokyo")


# --- The merchant portal's theme form ------------------------------------------------------------------


def test_a_jpy_theme_created_in_the_portal_at_5000_stores_5000_and_shows_5000_yen(tokyo):
    client = client_for(tokyo.owner)

    response = client.post(reverse("merchant:theme-create"), {**THEME_FORM, "price": "5000", "currency": "jpy"})

    assert response.status_code == 302
    theme = Theme.objects.get(merchant=tokyo)
    assert (theme.price, theme.currency) == (5000, "jpy")
    assert "¥5,000" in client.get(reverse("merchant:theme-list")).content.decode()
    page = Client().get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()
    assert "¥5,000 per person" in page
    assert "¥500,000" not in page
    edit = client.get(reverse("merchant:theme-edit", args=[theme.pk])).content.decode()
    assert 'value="5000"' in edit


def test_a_eur_theme_at_29_50_stores_2950_cents(tokyo):
    client = client_for(tokyo.owner)

    client.post(reverse("merchant:theme-create"), {**THEME_FORM, "price": "29.50", "currency": "EUR"})

    theme = Theme.objects.get(merchant=tokyo)
    assert (theme.price, theme.currency) == (2950, "eur")
    assert "€29.50" in client.get(reverse("merchant:theme-list")).content.decode()
    assert 'value="29.50"' in client.get(reverse("merchant:theme-edit", args=[theme.pk])).content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"price": "5000.50", "currency": "jpy"}, "price", "JPY amounts have no decimal places."),
        ({"price": "10", "currency": "xyz"}, "currency", "XYZ is not a supported currency."),
        ({"price": "10", "currency": "huf"}, "currency", "HUF is not a supported currency."),
        ({"price": "100000000", "currency": "usd"}, "price", "The price may be at most $1,000,000.00."),
    ],
)
def test_the_portal_theme_form_refuses_what_the_currency_cannot_hold(tokyo, changes, field, message):
    response = client_for(tokyo.owner).post(reverse("merchant:theme-create"), {**THEME_FORM, **changes})

    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    assert not Theme.objects.filter(merchant=tokyo).exists()


def test_the_largest_jpy_price_fits(tokyo):
    client_for(tokyo.owner).post(
        reverse("merchant:theme-create"), {**THEME_FORM, "price": "100000000", "currency": "jpy"}
    )

    assert Theme.objects.get(merchant=tokyo).price == 100_000_000


# --- The API -----------------------------------------------------------------------------------------------

API_THEME = {"title": "Sushi Rolling Class", "duration_minutes": 90, "price": 5000, "currency": "JPY"}


def test_the_api_stores_a_jpy_price_as_sent_and_lowercases_the_currency(tokyo):
    response = bearer_client(tokyo.owner).post("/api/v1/themes/", API_THEME, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["price"], response.json()["currency"]) == (5000, "jpy")


@pytest.mark.parametrize("currency", ["xyz", "huf", "usdd", ""])
def test_the_api_refuses_an_unsupported_currency_with_400_on_the_field(tokyo, currency):
    client = bearer_client(tokyo.owner)

    response = client.post("/api/v1/themes/", {**API_THEME, "currency": currency}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["currency"]
    assert not Theme.objects.exists()


def test_the_api_refuses_an_unsupported_currency_on_patch(tokyo):
    theme = ThemeFactory(merchant=tokyo, currency="jpy", price=5000)

    response = bearer_client(tokyo.owner).patch(f"/api/v1/themes/{theme.pk}/", {"currency": "xyz"}, format="json")

    assert response.status_code == 400
    assert "is not a supported currency" in response.json()["currency"][0]
    theme.refresh_from_db()
    assert theme.currency == "jpy"


def test_the_theme_service_refuses_an_unsupported_currency_for_any_caller(tokyo):
    from bookwise.errors import InvalidInput
    from catalog.services import theme_create

    with pytest.raises(InvalidInput) as exc:
        theme_create(merchant=tokyo, title="X", duration_minutes=60, price=100, currency="xyz")
    assert (exc.value.code, exc.value.field) == ("unsupported_currency", "currency")


# --- Pages: the customer catalog's price filter is in each theme's own currency -------------------------


def test_catalog_price_filters_compare_in_each_themes_currency():
    ThemeFactory(title="Dollar room", price=2500, currency="usd")  # $25.00
    ThemeFactory(title="Yen room", price=2500, currency="jpy")  # ¥2,500
    ThemeFactory(title="Cheap yen room", price=20, currency="jpy")  # ¥20

    in_yen = Client().get(reverse("portal:catalog"), {"max_price": "30", "currency": "jpy"}).content.decode()
    in_dollars = Client().get(reverse("portal:catalog"), {"max_price": "30", "currency": "usd"}).content.decode()

    # "At most 30" is read in the chosen currency's major unit, and only themes in that currency are listed.
    assert "Cheap yen room" in in_yen
    assert "Yen room" not in in_yen  # ¥2,500 is more than ¥30 ("Cheap yen room" is lowercase)
    assert "Dollar room" not in in_yen
    assert "Dollar room" in in_dollars  # $25.00, not 2500 of anything
    assert "Cheap yen room" not in in_dollars


# --- Emails ------------------------------------------------------------------------------------------------


def test_booking_emails_show_jpy_amounts_without_a_factor_of_100(tokyo, mailoutbox):
    theme = ThemeFactory(merchant=tokyo, price=5000, currency="jpy")
    slot = SlotFactory(theme=theme, starts_at=datetime(2030, 7, 4, 1, 0, tzinfo=UTC))
    booking = ConfirmedBookingFactory(slot=slot, party_size=2, customer=UserFactory())
    assert (booking.amount, booking.currency) == (10000, "jpy")
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())

    send_booking_confirmed_email(booking_id=booking.pk)
    slot.starts_at = timezone.now() + timedelta(days=10)  # far enough to cancel with a refund
    slot.ends_at = slot.starts_at + timedelta(hours=1)
    slot.save()
    result = booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    send_booking_cancelled_email(booking_id=booking.pk)

    assert result.refund_amount == 10000
    confirmed, cancelled = mailoutbox
    for body in (confirmed.body, confirmed.alternatives[0][0]):
        assert "¥10,000" in body
        assert "¥1,000,000" not in body
    assert "A full refund of ¥10,000 has been issued" in cancelled.body
