"""Display helpers for the customer portal."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()

# Stripe's zero-decimal currencies: their amounts are already in major units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$", "jpy": "¥"}


@register.filter
def money(amount: int | None, currency: str = "usd") -> str:
    """Minor units as a price people read: (7500, "usd") -> "$75.00", (1000, "chf") -> "10.00 CHF"."""
    if amount is None:
        return ""
    currency = (currency or "").lower()
    if currency in ZERO_DECIMAL_CURRENCIES:
        value = f"{Decimal(amount):,}"
    else:
        value = f"{(Decimal(amount) / 100).quantize(Decimal('0.01')):,}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}".strip()


@register.filter
def places(count: int | None) -> str:
    """3 -> "3 places", 1 -> "1 place"."""
    count = count or 0
    return f"{count} place" if count == 1 else f"{count} places"


@register.filter
def duration(minutes: int | None) -> str:
    """90 -> "1 h 30 min", 60 -> "1 h", 45 -> "45 min"."""
    minutes = minutes or 0
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


@register.filter
def clock(seconds: int | None) -> str:
    """A countdown as minutes and seconds: 905 -> "15:05"."""
    minutes, rest = divmod(max(int(seconds or 0), 0), 60)
    return f"{minutes}:{rest:02d}"
