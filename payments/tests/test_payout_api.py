"""The payouts API (API.md "Merchant payouts"): onboarding, payouts, statement (JSON and CSV), the admin's fee."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import AdminFactory, UserFactory
from catalog.tests.factories import ThemeFactory
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from payments.models import ConnectedAccount, TransferStatus
from payments.tests.factories import TransferFactory
from payments.tests.test_connect import fake_stripe  # noqa: F401 (fixture)
from payments.tests.test_payout_selectors import at_lisbon, paid_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return MerchantFactory(timezone="Europe/Lisbon")


@pytest.fixture
def owner(merchant):
    return bearer_client(merchant.owner)


@pytest.fixture
def books(merchant):
    """Three paid bookings in June 2030 (one transferred, one half refunded, one in yen) and one in July."""
    eur = ThemeFactory(merchant=merchant, currency="eur", title='=HYPERLINK("x")')
    jpy = ThemeFactory(merchant=merchant, currency="jpy", title='Edo, "Escape"')
    paid_booking(eur, at_lisbon(date(2030, 6, 1), 9), gross=5000, fee=500, transferred=4500)
    half, _ = paid_booking(eur, at_lisbon(date(2030, 6, 2), 9), gross=2000, fee=200, refunds=[1000], fee_back=100)
    TransferFactory(booking=half, amount=900, status=TransferStatus.PENDING)
    paid_booking(jpy, at_lisbon(date(2030, 6, 3), 9), gross=6000, fee=600)
    paid_booking(eur, at_lisbon(date(2030, 7, 1), 9), gross=100, fee=10)


def url(merchant, what: str) -> str:
    return f"/api/v1/merchants/{merchant.pk}/{what}/"


# --- GET payouts ----------------------------------------------------------------------------------


def test_payouts_before_onboarding(owner, merchant, settings):
    settings.PLATFORM_FEE_BPS = 1200
    response = owner.get(url(merchant, "payouts"))
    assert response.status_code == 200
    assert response.json() == {
        "account_id": None,
        "status": "none",
        "payouts_enabled": False,
        "charges_enabled": False,
        "requirements_due": [],
        "requirements": [],
        "fee_bps": 1200,
        "balances": [],
    }


def test_payouts_show_the_account_and_balances_to_the_owner_and_admins(owner, merchant, books):
    # The books' transfers made an (enabled) account: Stripe has since restricted it.
    account = ConnectedAccount.objects.get(merchant=merchant)
    ConnectedAccount.objects.filter(pk=account.pk).update(
        status="restricted", payouts_enabled=False, requirements_due=["external_account"]
    )
    merchant.fee_bps = 800
    merchant.save()

    for client in (owner, bearer_client(AdminFactory())):
        body = client.get(url(merchant, "payouts")).json()
        assert (body["account_id"], body["status"], body["payouts_enabled"]) == (
            account.stripe_account_id,
            "restricted",
            False,
        )
        assert body["fee_bps"] == 800
        assert body["requirements"] == ["Stripe needs your bank details"]
        assert body["balances"] == [
            {
                "currency": "eur",
                "owed": 900 + 90,
                "in_transit": 900,
                "transferred": 4500,
                "refunded": 1000,
                "fees": 500 + 100 + 10,
            },
            {"currency": "jpy", "owed": 5400, "in_transit": 0, "transferred": 0, "refunded": 0, "fees": 600},
        ]


@pytest.mark.parametrize("what", ["payouts", "statement"])
def test_another_merchants_payouts_are_404_and_customers_403(merchant, what):
    assert bearer_client(MerchantFactory().owner).get(url(merchant, what)).status_code == 404
    assert bearer_client(UserFactory()).get(url(merchant, what)).status_code == 403
    assert APIClient().get(url(merchant, what)).status_code == 401


# --- POST payouts/onboarding ---------------------------------------------------------------------


def test_onboarding_answers_an_account_link(owner, merchant, fake_stripe):  # noqa: F811
    response = owner.post(url(merchant, "payouts/onboarding"))
    assert response.status_code == 200, response.content
    account = ConnectedAccount.objects.get(merchant=merchant)
    assert set(response.json()) == {"url"}
    assert account.stripe_account_id in response.json()["url"]
    assert owner.get(url(merchant, "payouts")).json()["status"] == "pending"


def test_onboarding_is_the_owners_only(merchant, fake_stripe):  # noqa: F811
    assert bearer_client(AdminFactory()).post(url(merchant, "payouts/onboarding")).status_code == 403
    assert bearer_client(MerchantFactory().owner).post(url(merchant, "payouts/onboarding")).status_code == 404
    assert bearer_client(UserFactory()).post(url(merchant, "payouts/onboarding")).status_code == 403
    assert fake_stripe.calls == []


def test_onboarding_while_stripe_is_down_is_a_503(owner, merchant, fake_stripe):  # noqa: F811
    fake_stripe.down = True
    response = owner.post(url(merchant, "payouts/onboarding"))
    assert response.status_code == 503
    assert response.json()["code"] == "payment_provider_unavailable"


# --- GET statement --------------------------------------------------------------------------------


def test_statement_lines_in_the_merchants_timezone(owner, merchant, books):
    response = owner.get(url(merchant, "statement"), {"from": "2030-06-01", "to": "2030-06-30"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"], body["timezone"], body["next"]) == (
        "2030-06-01",
        "2030-06-30",
        "Europe/Lisbon",
        None,
    )
    lines = body["results"]
    assert [line["slot_starts_at"] for line in lines] == [
        "2030-06-01T09:00:00+01:00",
        "2030-06-02T09:00:00+01:00",
        "2030-06-03T09:00:00+01:00",
    ]
    assert lines[0]["theme"] == '\'=HYPERLINK("x")'  # a spreadsheet must not run it
    assert {k: lines[1][k] for k in ("currency", "gross", "fee", "refunded", "net", "transfer_status")} == {
        "currency": "eur",
        "gross": 2000,
        "fee": 100,
        "refunded": 1000,
        "net": 900,
        "transfer_status": "pending",
    }
    assert lines[0]["transfer_id"].startswith("tr_")
    assert lines[0]["transfer_status"] == "paid"
    assert set(lines[0]) >= {
        "booking",
        "slot_starts_at",
        "theme",
        "gross",
        "fee",
        "refunded",
        "net",
        "transfer_id",
        "transfer_status",
    }


def test_statement_csv_equals_the_json_lines(owner, merchant, books):
    query = {"from": "2030-06-01", "to": "2030-07-31"}
    lines = owner.get(url(merchant, "statement"), query).json()["results"]

    response = owner.get(url(merchant, "statement"), {**query, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="statement-' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == len(lines) == 4
    assert rows == [{key: str(value) for key, value in line.items()} for line in lines]
    assert list(rows[0]) == [
        "booking",
        "slot_starts_at",
        "theme",
        "currency",
        "gross",
        "fee",
        "refunded",
        "net",
        "transfer_id",
        "transfer_status",
    ]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2030-02-30"},
        {"to": "yesterday"},
        {"from": "2030-06-10", "to": "2030-06-01"},
        {"from": "2029-01-01", "to": "2030-06-01"},
        {"from": "99999-01-01"},
    ],
)
def test_statement_bad_dates_are_400_also_as_csv(owner, merchant, query):
    for extra in ({}, {"format": "csv"}):
        response = owner.get(url(merchant, "statement"), {**query, **extra})
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/json"


def test_statement_unknown_format_is_404(owner, merchant):
    assert owner.get(url(merchant, "statement"), {"format": "xlsx"}).status_code == 404


def test_statement_for_an_admin(merchant, books):
    response = bearer_client(AdminFactory()).get(url(merchant, "statement"), {"from": "2030-06-01", "to": "2030-06-30"})
    assert len(response.json()["results"]) == 3


# --- PATCH merchants/{id}/: the platform fee ----------------------------------------------------------


def test_admin_sets_and_resets_the_fee(merchant, settings):
    settings.PLATFORM_FEE_BPS = 1000
    admin = bearer_client(AdminFactory())

    response = admin.patch(f"/api/v1/merchants/{merchant.pk}/", {"fee_bps": 750, "name": "Renamed"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["fee_bps"], response.json()["effective_fee_bps"]) == (750, 750)
    merchant.refresh_from_db()
    assert (merchant.fee_bps, merchant.name != "Renamed") == (750, True)
    assert bearer_client(merchant.owner).get(url(merchant, "payouts")).json()["fee_bps"] == 750

    response = admin.patch(f"/api/v1/merchants/{merchant.pk}/", {"fee_bps": None}, format="json")
    assert (response.json()["fee_bps"], response.json()["effective_fee_bps"]) == (None, 1000)


@pytest.mark.parametrize("value", [-1, 10001, "ten", 1.5])
def test_admin_fee_out_of_range_is_400(merchant, value):
    response = bearer_client(AdminFactory()).patch(
        f"/api/v1/merchants/{merchant.pk}/", {"fee_bps": value}, format="json"
    )
    assert response.status_code == 400
    merchant.refresh_from_db()
    assert merchant.fee_bps is None


def test_the_owner_cannot_set_the_fee(merchant, owner):
    assert owner.patch(f"/api/v1/merchants/{merchant.pk}/", {"fee_bps": 0}, format="json").status_code == 403
    assert owner.patch("/api/v1/merchants/me/", {"fee_bps": 0, "city": "Porto"}, format="json").status_code == 200
    merchant.refresh_from_db()
    assert (merchant.fee_bps, merchant.city) == (None, "Porto")
