"""Display helpers for the merchant portal."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def money(amount: int | None, currency: str = "") -> str:
    """Minor units as a price: 2500, "usd" -> "25.00 USD" (the same rule as the forms' input)."""
    if amount is None:
        return ""
    value = (Decimal(amount) / 100).quantize(Decimal("0.01"))
    return f"{value:,} {currency.upper()}".strip()
