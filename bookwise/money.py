"""Money: the one table of supported currencies, and conversions between what people type and what is stored.

Amounts are stored as integers in the currency's minor unit as Stripe counts it:
cents for USD and EUR (2950 = 29.50), yen for JPY (5000 = ¥5,000, which has
no minor unit). Every form, serializer, template and email converts through
here, so a price never gains or loses a factor of 100.

Only currencies in `CURRENCIES` can be sold. Each one is a currency Stripe
charges with exactly the exponent given; those Stripe special-cases (HUF, ISK,
TWD, UGX: amounts that must be multiples of 100, or differ between charges
and payouts) are left out. Rows stored before the table existed with another
code are shown with two decimals, which is what every form assumed then.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation


@dataclass(frozen=True)
class Currency:
    code: str  # lowercase ISO 4217, as Stripe and the database spell it
    exponent: int  # decimal places of the major unit: 2 for EUR, 0 for JPY
    symbol: str = ""  # shown before the amount; without one, the upper-case code is


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("usd", 2, "$"),
        Currency("eur", 2, "€"),
        Currency("gbp", 2, "£"),
        Currency("chf", 2),
        Currency("cad", 2, "CA$"),
        Currency("aud", 2, "A$"),
        Currency("nzd", 2, "NZ$"),
        Currency("sek", 2),
        Currency("nok", 2),
        Currency("dkk", 2),
        Currency("pln", 2),
        Currency("czk", 2),
        Currency("sgd", 2, "S$"),
        Currency("hkd", 2, "HK$"),
        Currency("mxn", 2, "MX$"),
        Currency("brl", 2, "R$"),
        Currency("inr", 2, "₹"),
        Currency("zar", 2),
        Currency("aed", 2),
        Currency("try", 2),
        Currency("jpy", 0, "¥"),
        Currency("krw", 0, "₩"),
    )
}
SUPPORTED_CURRENCIES: tuple[str, ...] = tuple(CURRENCIES)
DEFAULT_CURRENCY = "usd"

# The currency a merchant in a country most likely sells in (ISO 3166-1 alpha-2 -> a code of
# CURRENCIES): countries whose own (or official) currency is supported; others get DEFAULT_CURRENCY.
_COUNTRIES_BY_CURRENCY: dict[str, str] = {
    # The euro area, its microstates and Montenegro, French overseas departments, Åland.
    "eur": "AD AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MC ME MT NL PT SI SK SM VA GF GP MQ RE YT PM BL MF AX",
    "usd": "US PR GU VI AS MP UM EC SV PA TL FM MH PW BQ TC VG",
    "gbp": "GB IM JE GG",
    "chf": "CH LI",
    "cad": "CA",
    "aud": "AU CX CC NF KI NR TV",
    "nzd": "NZ CK NU PN TK",
    "sek": "SE",
    "nok": "NO SJ BV",
    "dkk": "DK FO GL",
    "pln": "PL",
    "czk": "CZ",
    "sgd": "SG",
    "hkd": "HK",
    "mxn": "MX",
    "brl": "BR",
    "inr": "IN BT",
    "zar": "ZA LS NA",
    "aed": "AE",
    "try": "TR",
    "jpy": "JP",
    "krw": "KR",
}
COUNTRY_CURRENCIES: dict[str, str] = {
    country: currency for currency, countries in _COUNTRIES_BY_CURRENCY.items() for country in countries.split()
}
assert set(COUNTRY_CURRENCIES.values()) <= set(CURRENCIES)


def currency_for_country(country: str | None) -> str:
    """The supported currency used in `country` (ISO alpha-2, any case), else DEFAULT_CURRENCY."""
    return COUNTRY_CURRENCIES.get((country or "").strip().upper(), DEFAULT_CURRENCY)


# Amounts already stored in a currency that has since left the table are read as
# two-decimal amounts: what every form assumed before the table existed.
_LEGACY_EXPONENT = 2


class UnsupportedCurrency(ValueError):
    pass


class TooPrecise(ValueError):
    """More decimal places than the currency has (0.5 JPY, 29.505 EUR)."""


def currency_choices() -> list[tuple[str, str]]:
    """For forms and model choices: [("usd", "USD"), ...]."""
    return [(code, code.upper()) for code in SUPPORTED_CURRENCIES]


def normalize_currency(code: str) -> str:
    """`"EUR"`, `" eur "` -> `"eur"`; raises UnsupportedCurrency for anything not in the table."""
    normalized = (code or "").strip().lower()
    if normalized not in CURRENCIES:
        raise UnsupportedCurrency(unsupported_currency_message(code))
    return normalized


def unsupported_currency_message(code: str) -> str:
    shown = (code or "").strip().upper()[:10] or "(empty)"
    return f"{shown} is not a supported currency. Use one of: {', '.join(c.upper() for c in SUPPORTED_CURRENCIES)}."


def exponent(currency: str) -> int:
    known = CURRENCIES.get((currency or "").lower())
    return known.exponent if known else _LEGACY_EXPONENT


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """A major-unit amount as stored: (Decimal("29.50"), "eur") -> 2950, (5000, "jpy") -> 5000.

    Raises UnsupportedCurrency, or TooPrecise when the amount has more decimal
    places than the currency (it is never rounded: 0.5 JPY is an input error).
    """
    currency = normalize_currency(currency)
    try:
        scaled = Decimal(amount).scaleb(CURRENCIES[currency].exponent)
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not an amount.") from exc
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        places = CURRENCIES[currency].exponent
        raise TooPrecise(
            f"{currency.upper()} amounts have no decimal places."
            if places == 0
            else f"{currency.upper()} amounts have at most {places} decimal places."
        )
    return int(scaled)


def from_minor(amount: int, currency: str) -> Decimal:
    """A stored amount in major units, with the currency's decimal places: (2950, "eur") -> Decimal("29.50")."""
    places = exponent(currency)
    return Decimal(amount).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def minor_bound(amount: Decimal, places: int, *, upper: bool) -> int:
    """A major-unit bound in minor units of a currency with `places` decimals, rounded to stay inclusive.

    For filters over several currencies at once: "at least 0.5" is at least 1 yen,
    "at most 0.5" is at most 0 yen.
    """
    return int(Decimal(amount).scaleb(places).to_integral_value(rounding=ROUND_FLOOR if upper else ROUND_CEILING))


def exponent_groups() -> dict[int, tuple[str, ...]]:
    """Supported currencies by exponent: {2: ("usd", ...), 0: ("jpy", "krw")}."""
    groups: dict[int, list[str]] = {}
    for c in CURRENCIES.values():
        groups.setdefault(c.exponent, []).append(c.code)
    return {places: tuple(codes) for places, codes in groups.items()}


def format_money(amount: int | None, currency: str | None) -> str:
    """A stored amount as people read it: (8850, "eur") -> "€88.50", (5000, "jpy") -> "¥5,000",
    (3000, "chf") -> "CHF 30.00". None -> "".
    """
    if amount is None:
        return ""
    code = (currency or "").lower()
    value = from_minor(amount, code)
    number = f"{value:,}"
    known = CURRENCIES.get(code)
    if known and known.symbol:
        return f"-{known.symbol}{number[1:]}" if number.startswith("-") else f"{known.symbol}{number}"
    return f"{code.upper()} {number}".strip()
