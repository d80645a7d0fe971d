"""The merchant portal's Payouts page (/merchant/payouts/): account, onboarding, balances, statement, CSV, chart."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ThemeFactory
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from payments.models import ConnectedAccount, ConnectedAccountStatus
from payments.tests.test_connect import fake_stripe  # noqa: F401 (fixture)
from payments.tests.test_payout_selectors import at_lisbon, paid_booking

pytestmark = pytest.mark.django_db

PAGE = "/merchant/payouts/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def merchant():
    return MerchantFactory(timezone="Europe/Lisbon")


@pytest.fixture
def client(merchant) -> Client:
    return client_for(merchant.owner)


@pytest.fixture
def june(merchant):
    """Paid bookings in June 2030: one transferred, one in yen; and one of another merchant."""
    eur = ThemeFactory(merchant=merchant, currency="eur", title="The Vault")
    jpy = ThemeFactory(merchant=merchant, currency="jpy", title="Edo Escape")
    paid_booking(eur, at_lisbon(date(2030, 6, 1), 9), gross=5000, fee=500, transferred=4500)
    paid_booking(jpy, at_lisbon(date(2030, 6, 3), 9), gross=6000, fee=600)
    paid_booking(ThemeFactory(currency="eur", title="Not Mine"), at_lisbon(date(2030, 6, 2), 9), gross=1, fee=0)


def test_the_merchant_navigation_links_the_payouts_page(client):
    response = client.get(reverse("merchant:home"))
    assert f'href="{PAGE}"' in response.content.decode()


def test_before_onboarding_the_page_offers_the_setup_button(client):
    response = client.get(PAGE)
    page = response.content.decode()
    assert response.status_code == 200
    assert "You have not set up payouts yet" in page
    assert f'action="{reverse("merchant:payouts-onboarding")}"' in page
    assert "Set up payouts with Stripe" in page
    assert "No paid bookings yet." in page


def test_onboarding_button_goes_to_stripe_and_return_shows_the_result(client, merchant, fake_stripe):  # noqa: F811
    response = client.post(reverse("merchant:payouts-onboarding"))

    account = ConnectedAccount.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response["Location"].startswith("https://connect.stripe.test/setup/")
    assert account.stripe_account_id in response["Location"]
    page = client.get(PAGE).content.decode()
    assert "Continue on Stripe" in page
    assert "Stripe needs your bank details." in page

    fake_stripe.complete_onboarding(account.stripe_account_id)  # what the merchant did at Stripe
    response = client.get(reverse("merchant:payouts-return"))

    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert messages_of(response) == ["Your Stripe account is ready: payouts are on."]
    account.refresh_from_db()
    assert account.status == ConnectedAccountStatus.ENABLED
    page = client.get(PAGE).content.decode()
    assert "Payouts are on" in page
    assert "Set up payouts with Stripe" not in page


def test_refresh_starts_a_new_link_for_the_same_account(client, merchant, fake_stripe):  # noqa: F811
    first = client.post(reverse("merchant:payouts-onboarding"))["Location"]
    second = client.get(reverse("merchant:payouts-refresh"))["Location"]
    assert first != second
    assert len(fake_stripe.posts("/v1/accounts")) == 1
    assert ConnectedAccount.objects.get(merchant=merchant).stripe_account_id in second


def test_onboarding_while_stripe_is_down_comes_back_with_a_message(client, fake_stripe):  # noqa: F811
    fake_stripe.down = True
    response = client.post(reverse("merchant:payouts-onboarding"))
    assert (response.status_code, response["Location"]) == (302, PAGE)
    assert "Stripe cannot be reached" in messages_of(response)[0]


def test_onboarding_is_a_post(client, fake_stripe):  # noqa: F811
    assert client.get(reverse("merchant:payouts-onboarding")).status_code == 405
    assert fake_stripe.calls == []


def test_balances_statement_and_chart(client, june):
    response = client.get(PAGE, {"from": "2030-06-01", "to": "2030-06-30"})
    page = response.content.decode()

    assert response.status_code == 200
    assert "€45.00" in page  # transferred
    assert "¥5,400" in page  # owed in yen
    assert "The Vault" in page and "Edo Escape" in page  # noqa: PT018
    assert "Not Mine" not in page
    assert f"{reverse('merchant:payouts-statement-csv')}?from=2030-06-01&amp;to=2030-06-30" in page


def test_the_chart_is_an_svg_with_one_bar_per_week(client, merchant):
    theme = ThemeFactory(merchant=merchant, currency="eur")
    paid_booking(theme, timezone.now() - timedelta(days=1), gross=5000, fee=500)
    page = client.get(PAGE).content.decode()
    assert page.count("<svg") == 1
    assert page.count('<rect class="week-chart-bar') == 12
    assert "€45.00" in page


def test_statement_csv_download_equals_the_api_lines(client, merchant, june):
    query = {"from": "2030-06-01", "to": "2030-06-30"}
    api_lines = bearer_client(merchant.owner).get(f"/api/v1/merchants/{merchant.pk}/statement/", query).json()

    response = client.get(reverse("merchant:payouts-statement-csv"), query)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"] == f'attachment; filename="statement-{merchant.pk}-2030-06-01-2030-06-30.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [{key: str(value) for key, value in line.items()} for line in api_lines["results"]]
    api_csv = bearer_client(merchant.owner).get(
        f"/api/v1/merchants/{merchant.pk}/statement/", {**query, "format": "csv"}
    )
    assert response.content == api_csv.content


def test_bad_statement_dates_are_explained(client):
    response = client.get(PAGE, {"from": "2030-06-10", "to": "2030-06-01"})
    assert response.status_code == 400
    assert "The last day must not be before the first day." in response.content.decode()
    csv_response = client.get(reverse("merchant:payouts-statement-csv"), {"from": "nope"})
    assert (csv_response.status_code, csv_response["Location"]) == (302, PAGE)


def test_page_queries_do_not_grow_with_bookings(client, merchant):
    theme = ThemeFactory(merchant=merchant, currency="eur")
    paid_booking(theme, at_lisbon(date(2030, 6, 1), 9), gross=1000, fee=100)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE, {"from": "2030-06-01", "to": "2030-06-30"})
    for hour in range(10, 20):
        paid_booking(theme, at_lisbon(date(2030, 6, 1), hour), gross=1000, fee=100, transferred=900)
    with CaptureQueriesContext(connection) as many:
        response = client.get(PAGE, {"from": "2030-06-01", "to": "2030-06-30"})
    assert response.content.decode().count('data-label="Booking"') == 11
    assert len(many) == len(few)


def test_only_approved_merchants_see_the_page():
    response = client_for(UserFactory()).get(PAGE)
    assert (response.status_code, response["Location"]) == (302, reverse("merchant:home"))
    assert Client().get(PAGE).status_code == 302  # to the login page
