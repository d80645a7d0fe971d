"""The admin shows only the dj-stripe models platform admins use, and the money of the last 12 months."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from payments.models import LedgerEntry, LedgerKind
from payments.revenue_selectors import month_starts, platform_monthly_totals
from portal.admin_site import DJSTRIPE_ADMIN_MODELS

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
_keys = itertools.count(1)


# --- dj-stripe in the admin ---------------------------------------------------------------


def test_only_the_dj_stripe_models_admins_use_are_registered():
    registered = {model.__name__ for model in admin.site._registry if model._meta.app_label == "djstripe"}

    assert registered == {
        "Event",
        "WebhookEventTrigger",
        "WebhookEndpoint",
        "PaymentIntent",
        "Refund",
        "Dispute",
        "Transfer",
    }
    assert registered == DJSTRIPE_ADMIN_MODELS


def test_our_models_stay_registered():
    labels = {model._meta.label for model in admin.site._registry}
    assert {
        "accounts.User",
        "merchants.Merchant",
        "catalog.Theme",
        "catalog.Slot",
        "bookings.Booking",
        "payments.Payment",
        "payments.Refund",
        "payments.LedgerEntry",
        "payments.Transfer",
        "payments.Dispute",
        "reviews.Review",
        "bookwise.OutboxMessage",
        "django_celery_beat.PeriodicTask",
    } <= labels


@pytest.mark.parametrize("model", ["customer", "subscription", "product", "invoice", "charge", "apikey", "account"])
def test_unused_dj_stripe_pages_are_gone(client, model):
    with pytest.raises(NoReverseMatch):
        reverse(f"admin:djstripe_{model}_changelist")
    client.force_login(AdminFactory())
    assert client.get(f"/admin/djstripe/{model}/").status_code == 404


@pytest.mark.parametrize("model", ["event", "webhookeventtrigger", "webhookendpoint", "paymentintent", "refund"])
def test_kept_dj_stripe_pages_open(client, model):
    client.force_login(AdminFactory())
    assert client.get(reverse(f"admin:djstripe_{model}_changelist")).status_code == 200


def test_the_index_lists_only_the_kept_dj_stripe_models(client):
    client.force_login(AdminFactory())
    page = client.get(INDEX).content.decode()
    assert reverse("admin:djstripe_webhookendpoint_changelist") in page
    assert "/admin/djstripe/customer/" not in page
    assert "/admin/djstripe/subscription/" not in page


# --- Money per month ----------------------------------------------------------------------


def entry(booking, kind, amount, at):
    LedgerEntry.objects.create(
        merchant=booking.slot.theme.merchant,
        booking=booking,
        kind=kind,
        amount=amount,
        currency=booking.currency,
        key=f"money:{next(_keys)}",
        created_at=at,
    )


def paid_booking(currency, *, gross, at, fee_bps=1000, refund=0, refund_at=None, transferred=False):
    """A booking's ledger: charge and fee; a refund with its fee share back; a transfer (not revenue)."""
    booking = ConfirmedBookingFactory(
        slot=SlotFactory(theme=ThemeFactory(currency=currency)), amount=gross, currency=currency
    )
    fee = gross * fee_bps // 10_000
    entry(booking, LedgerKind.CHARGE, gross, at)
    entry(booking, LedgerKind.FEE, -fee, at)
    if refund:
        entry(booking, LedgerKind.REFUND, -refund, refund_at or at)
        entry(booking, LedgerKind.FEE, fee * refund // gross, refund_at or at)
    if transferred:
        entry(booking, LedgerKind.TRANSFER, -(gross - fee), at + timedelta(days=2))
    return booking


@pytest.fixture
def money():
    """Charges, fees, refunds and transfers over 14 months in EUR and JPY; "now" is 15 June 2030."""
    paid_booking("eur", gross=10000, at=datetime(2030, 6, 3, 12, tzinfo=UTC), transferred=True)
    paid_booking("eur", gross=5000, at=datetime(2030, 6, 10, tzinfo=UTC), refund=5000)  # refunded in full
    # Paid in May, half refunded in June: each entry counts in its own month.
    paid_booking(
        "eur",
        gross=8000,
        at=datetime(2030, 5, 31, 23, 59, tzinfo=UTC),
        refund=4000,
        refund_at=datetime(2030, 6, 1, tzinfo=UTC),
    )
    paid_booking("jpy", gross=12000, at=datetime(2030, 5, 1, tzinfo=UTC))
    paid_booking("eur", gross=3000, at=datetime(2029, 7, 1, tzinfo=UTC))  # the oldest month shown
    paid_booking("eur", gross=9999, at=datetime(2029, 6, 30, 23, 59, tzinfo=UTC))  # 13 months ago: left out
    return datetime(2030, 6, 15, tzinfo=UTC)


def sql_month_totals(since: datetime) -> dict[tuple[date, str], tuple[int, int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, currency,
                      COALESCE(SUM(amount) FILTER (WHERE kind = 'charge'), 0),
                      -COALESCE(SUM(amount) FILTER (WHERE kind = 'refund'), 0),
                      -COALESCE(SUM(amount) FILTER (WHERE kind = 'fee'), 0),
                      COALESCE(SUM(amount) FILTER (WHERE kind IN ('charge', 'refund', 'fee')), 0)
               FROM payments_ledgerentry WHERE created_at >= %s GROUP BY 1, 2""",
            [since],
        )
        return {(month, code): tuple(int(v) for v in values) for month, code, *values in cursor.fetchall()}


def test_monthly_totals_equal_sql_over_the_ledger(money):
    months = platform_monthly_totals(months=12, now=money)

    expected = sql_month_totals(datetime(2029, 7, 1, tzinfo=UTC))
    found = {(m.month, m.currency): (m.gross, m.refunded, m.fees, m.net_to_merchants) for m in months}
    assert {key: value for key, value in found.items() if any(value)} == expected
    # In words: June 2030 in EUR is 10000 + 5000 paid, 5000 + 4000 refunded, fees 1000 + 0 - 400.
    assert expected[(date(2030, 6, 1), "eur")] == (15000, 9000, 600, 5400)
    assert expected[(date(2030, 5, 1), "eur")] == (8000, 0, 800, 7200)
    assert (date(2029, 6, 1), "eur") not in found
    # Every month of the window for each currency, newest first.
    assert [m.month for m in months if m.currency == "eur"] == month_starts(months=12, now=money)
    assert len(months) == 24
    assert months[0].month == date(2030, 6, 1)


def test_admin_index_shows_the_money_per_month(client):
    now = timezone.now()
    month = now.astimezone(UTC).date().replace(day=1)
    paid_booking("usd", gross=10000, at=now - timedelta(seconds=5), refund=2500)
    client.force_login(AdminFactory())

    page = client.get(INDEX).content.decode()

    assert 'id="bookwise-money"' in page
    row_start = page.index(f'data-month="{month:%Y-%m}" data-currency="usd"')
    row = page[row_start : page.index("</tr>", row_start)]
    # 10000 paid, 2500 refunded, fee 1000 - 250 given back, net 10000 - 2500 - 750.
    assert '<td class="amount money-gross">$100.00</td>' in row
    assert '<td class="amount money-refunded">$25.00</td>' in row
    assert '<td class="amount money-fees">$7.50</td>' in row
    assert '<td class="amount money-net">$67.50</td>' in row


def test_admin_index_without_money_says_so(client):
    client.force_login(AdminFactory())
    assert "No money moved in the last 12 months." in client.get(INDEX).content.decode()


def test_staff_who_may_not_read_the_ledger_do_not_see_the_money(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_booking", "view_payment", "view_merchant"],
            content_type__app_label__in=["bookings", "payments", "merchants"],
        )
    )
    client.force_login(staff)
    page = client.get(INDEX).content.decode()
    assert "bookwise-summary" in page
    assert "bookwise-money" not in page
