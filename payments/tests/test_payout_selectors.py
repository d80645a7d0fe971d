"""Balances, statement lines, weekly net and platform revenue: sums of the ledger (payments.payout_selectors)."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.tests.factories import ConfirmedBookingFactory
from bookwise.errors import InvalidInput
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments import payout_selectors as sel
from payments.models import LedgerEntry, LedgerKind, TransferStatus
from payments.tests.factories import ConnectedAccountFactory, TransferFactory

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)
LISBON = zoneinfo.ZoneInfo("Europe/Lisbon")


def entry(booking, kind, amount, *, at=None):
    return LedgerEntry.objects.create(
        merchant=booking.slot.theme.merchant,
        booking=booking,
        kind=kind,
        amount=amount,
        currency=booking.currency,
        key=f"test:{next(_keys)}",
        created_at=at or datetime.now(UTC),
    )


def paid_booking(theme, starts_at, *, gross, fee, refunds=(), fee_back=0, transferred=None, at=None):
    """A booking with the entries the ledger writes for it: charge, fee, refunds (with their fee share back)."""
    slot = SlotFactory(theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1))
    booking = ConfirmedBookingFactory(slot=slot, amount=gross, currency=theme.currency)
    entry(booking, LedgerKind.CHARGE, gross, at=at)
    entry(booking, LedgerKind.FEE, -fee, at=at)
    for refund in refunds:
        entry(booking, LedgerKind.REFUND, -refund, at=at)
    if fee_back:
        entry(booking, LedgerKind.FEE, fee_back, at=at)
    if transferred is not None:
        transfer = TransferFactory(
            booking=booking, amount=transferred, status=TransferStatus.PAID, stripe_transfer_id=f"tr_{booking.pk}"
        )
        entry(booking, LedgerKind.TRANSFER, -transferred, at=at)
        return booking, transfer
    return booking, None


@pytest.fixture
def merchant():
    merchant = MerchantFactory(timezone="Europe/Lisbon")
    ConnectedAccountFactory(merchant=merchant)
    return merchant


@pytest.fixture
def eur_theme(merchant):
    return ThemeFactory(merchant=merchant, currency="eur", price=2500, title="The Vault")


@pytest.fixture
def jpy_theme(merchant):
    return ThemeFactory(merchant=merchant, currency="jpy", price=3000, title="Edo Escape")


def at_lisbon(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LISBON)


def test_balances_per_currency_are_sums_of_the_ledger(merchant, eur_theme, jpy_theme):
    day = date(2030, 5, 6)
    # Transferred: 5000 - 500 fee = 4500 out.
    paid_booking(eur_theme, at_lisbon(day, 10), gross=5000, fee=500, transferred=4500)
    # Partly refunded, owed: 2500 - 250 + 50 fee back - 500 refunded = 1800.
    paid_booking(eur_theme, at_lisbon(day, 12), gross=2500, fee=250, refunds=[500], fee_back=50)
    # In transit: a pending transfer (its ledger entry is written once Stripe made it).
    booking, _ = paid_booking(eur_theme, at_lisbon(day, 14), gross=1000, fee=100)
    TransferFactory(booking=booking, amount=900, status=TransferStatus.PENDING)
    # Reversed after a dispute: 3000 - 300 out, then back.
    _, reversed_transfer = paid_booking(eur_theme, at_lisbon(day, 16), gross=3000, fee=300, transferred=2700)
    entry(reversed_transfer.booking, LedgerKind.TRANSFER_REVERSAL, 2700)
    paid_booking(jpy_theme, at_lisbon(day, 18), gross=6000, fee=600)
    other = MerchantFactory()
    paid_booking(ThemeFactory(merchant=other, currency="eur"), at_lisbon(day, 10), gross=9999, fee=1)

    with CaptureQueriesContext(connection) as queries:
        balances = sel.payout_balances(merchant=merchant)

    assert len(queries) == 2
    assert balances == [
        sel.CurrencyBalance(
            currency="eur",
            owed=1800 + 900 + 2700,
            in_transit=900,
            transferred=4500,
            refunded=500,
            fees=500 + 200 + 100 + 300,
            gross=5000 + 2500 + 1000 + 3000,
        ),
        sel.CurrencyBalance(currency="jpy", owed=5400, in_transit=0, transferred=0, refunded=0, fees=600, gross=6000),
    ]


def test_balances_of_a_merchant_without_bookings_are_empty(merchant):
    assert sel.payout_balances(merchant=merchant) == []


def test_statement_has_one_line_per_paid_booking_in_the_merchants_days(merchant, eur_theme, jpy_theme):
    # Lisbon is UTC+1 in summer: 00:30 local on 1 June is 23:30 UTC on 31 May, and belongs to June.
    first, first_transfer = paid_booking(
        eur_theme, at_lisbon(date(2030, 6, 1), 0) + timedelta(minutes=30), gross=5000, fee=500, transferred=4500
    )
    refunded, _ = paid_booking(
        eur_theme, at_lisbon(date(2030, 6, 15), 18), gross=2500, fee=250, refunds=[2500], fee_back=250
    )
    yen, _ = paid_booking(jpy_theme, at_lisbon(date(2030, 6, 30), 23), gross=6000, fee=600)
    paid_booking(eur_theme, at_lisbon(date(2030, 7, 1), 0), gross=100, fee=10)  # the day after the range
    paid_booking(eur_theme, at_lisbon(date(2030, 5, 31), 23), gross=100, fee=10)  # the day before
    ConfirmedBookingFactory(slot=SlotFactory(theme=eur_theme, starts_at=at_lisbon(date(2030, 6, 10), 9)))  # unpaid

    with CaptureQueriesContext(connection) as queries:
        lines = sel.statement_lines(merchant=merchant, date_from=date(2030, 6, 1), date_to=date(2030, 6, 30))

    assert len(queries) == 1
    assert [line.booking for line in lines] == [first.pk, refunded.pk, yen.pk]
    assert lines[0] == sel.StatementLine(
        booking=first.pk,
        slot_starts_at=first.slot.starts_at,
        theme="The Vault",
        currency="eur",
        gross=5000,
        fee=500,
        refunded=0,
        net=4500,
        transfer_id=first_transfer.stripe_transfer_id,
        transfer_status="paid",
    )
    assert (lines[1].gross, lines[1].fee, lines[1].refunded, lines[1].net) == (2500, 0, 2500, 0)
    assert (lines[1].transfer_id, lines[1].transfer_status) == ("", "")
    assert (lines[2].currency, lines[2].net, lines[2].theme) == ("jpy", 5400, "Edo Escape")


def test_statement_query_count_does_not_grow_with_bookings(merchant, eur_theme):
    for hour in range(8, 20):
        paid_booking(eur_theme, at_lisbon(date(2030, 6, 3), hour), gross=1000, fee=100, transferred=900)
    with CaptureQueriesContext(connection) as queries:
        lines = sel.statement_lines(merchant=merchant, date_from=date(2030, 6, 1), date_to=date(2030, 6, 30))
    assert (len(lines), len(queries)) == (12, 1)


def test_statement_period_defaults_to_this_month_and_refuses_bad_ranges(merchant):
    now = datetime(2030, 6, 30, 23, 30, tzinfo=UTC)  # already 1 July in Lisbon
    assert sel.statement_period(merchant=merchant, date_from=None, date_to=None, now=now) == (
        date(2030, 7, 1),
        date(2030, 7, 1),
    )
    assert sel.statement_period(merchant=merchant, date_from=None, date_to=date(2030, 3, 9), now=now) == (
        date(2030, 3, 1),
        date(2030, 3, 9),
    )
    with pytest.raises(InvalidInput):
        sel.statement_period(merchant=merchant, date_from=date(2030, 3, 2), date_to=date(2030, 3, 1))
    with pytest.raises(InvalidInput):
        sel.statement_period(merchant=merchant, date_from=date(2029, 1, 1), date_to=date(2030, 1, 2))


def test_weekly_net_has_every_week_and_counts_by_the_week_of_the_experience(merchant, eur_theme, jpy_theme):
    now = datetime(2030, 6, 12, 12, tzinfo=UTC)  # a Wednesday; this week starts Monday 10 June
    paid_booking(eur_theme, at_lisbon(date(2030, 6, 10), 0) + timedelta(minutes=30), gross=5000, fee=500)
    paid_booking(eur_theme, at_lisbon(date(2030, 6, 9), 23), gross=2000, fee=200, refunds=[1000], fee_back=100)
    paid_booking(eur_theme, at_lisbon(date(2030, 6, 3), 10), gross=1000, fee=100, transferred=900)
    paid_booking(jpy_theme, at_lisbon(date(2030, 4, 1), 10), gross=6000, fee=600)  # 11 weeks before: included
    paid_booking(eur_theme, at_lisbon(date(2030, 3, 20), 10), gross=7777, fee=7)  # too old

    with CaptureQueriesContext(connection) as queries:
        series = sel.weekly_net(merchant=merchant, weeks=12, now=now)

    assert len(queries) == 1
    assert [s.currency for s in series] == ["eur", "jpy"]
    eur = {week.week_start: week.net for week in series[0].weeks}
    assert len(eur) == 12
    assert (min(eur), max(eur)) == (date(2030, 3, 25), date(2030, 6, 10))
    assert eur[date(2030, 6, 10)] == 4500
    # Sunday 9 June 23:00 in Lisbon: the week of 3 June (transfers do not change what was earned).
    assert eur[date(2030, 6, 3)] == (2000 - 200 - 1000 + 100) + 900
    assert sum(eur.values()) == 4500 + 900 + 900
    assert {week.week_start: week.net for week in series[1].weeks}[date(2030, 4, 1)] == 5400


def test_platform_fees_by_month_net_of_refunded_shares(merchant, eur_theme):
    may, june = datetime(2030, 5, 20, tzinfo=UTC), datetime(2030, 6, 2, tzinfo=UTC)
    paid_booking(eur_theme, at_lisbon(date(2030, 6, 3), 10), gross=5000, fee=500, at=may)
    booking, _ = paid_booking(eur_theme, at_lisbon(date(2030, 6, 4), 10), gross=2000, fee=200, at=may)
    entry(booking, LedgerKind.FEE, 100, at=june)  # half refunded in June: half the fee back

    months = sel.platform_fees_by_month(months=3, now=datetime(2030, 6, 15, tzinfo=UTC))

    assert [(m.month, m.currency, m.fees, m.bookings) for m in months] == [
        (date(2030, 6, 1), "eur", -100, 0),
        (date(2030, 5, 1), "eur", 700, 2),
    ]
