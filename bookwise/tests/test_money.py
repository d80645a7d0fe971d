"""The currency table and its conversions (bookwise.money): no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookwise import money


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (Decimal("29.50"), "eur", 2950),
        (Decimal("29.5"), "EUR", 2950),
        (Decimal("5000"), "jpy", 5000),
        (Decimal("5000.00"), "jpy", 5000),
        (Decimal("0"), "usd", 0),
        ("12", "krw", 12),
        (Decimal("1000000.00"), "usd", 100_000_000),
    ],
)
def test_to_minor_uses_the_currencys_exponent(amount, currency, minor):
    assert money.to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (Decimal("0.5"), "jpy", "JPY amounts have no decimal places."),
        (Decimal("29.505"), "eur", "EUR amounts have at most 2 decimal places."),
    ],
)
def test_to_minor_never_rounds_a_too_precise_amount(amount, currency, message):
    with pytest.raises(money.TooPrecise, match=message):
        money.to_minor(amount, currency)


@pytest.mark.parametrize("code", ["huf", "xyz", "", "us", "usdd", "€"])
def test_currencies_outside_the_table_are_unsupported(code):
    with pytest.raises(money.UnsupportedCurrency, match="is not a supported currency"):
        money.to_minor(Decimal("1"), code)
    with pytest.raises(money.UnsupportedCurrency):
        money.normalize_currency(code)


def test_from_minor_is_the_inverse_of_to_minor():
    assert money.from_minor(2950, "eur") == Decimal("29.50")
    assert str(money.from_minor(2950, "eur")) == "29.50"
    assert str(money.from_minor(5000, "jpy")) == "5000"
    for code in money.SUPPORTED_CURRENCIES:
        assert money.to_minor(money.from_minor(123456, code), code) == 123456


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (8850, "eur", "€88.50"),
        (5000, "jpy", "¥5,000"),
        (500000, "JPY", "¥500,000"),
        (3000, "usd", "$30.00"),
        (3000, "chf", "CHF 30.00"),
        (123456789, "gbp", "£1,234,567.89"),
        (1500, "krw", "₩1,500"),
        (0, "usd", "$0.00"),
        (1234, "xyz", "XYZ 12.34"),  # a code from before the table: read with two decimals
        (None, "usd", ""),
    ],
)
def test_format_money(amount, currency, shown):
    assert money.format_money(amount, currency) == shown


def test_minor_bound_rounds_to_stay_inclusive():
    assert money.minor_bound(Decimal("0.5"), 0, upper=False) == 1
    assert money.minor_bound(Decimal("0.5"), 0, upper=True) == 0
    assert money.minor_bound(Decimal("25.5"), 2, upper=True) == 2550


def test_every_supported_currency_has_a_stripe_exponent_of_0_or_2():
    assert money.SUPPORTED_CURRENCIES[0] == money.DEFAULT_CURRENCY
    assert {c.exponent for c in money.CURRENCIES.values()} == {0, 2}
    assert {code for code, c in money.CURRENCIES.items() if c.exponent == 0} == {"jpy", "krw"}
    assert all(code == code.lower() and len(code) == 3 for code in money.CURRENCIES)
