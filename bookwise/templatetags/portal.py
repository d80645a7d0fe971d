"""Display helpers for the portal pages (customer and merchant), the emails and the admin."""

from __future__ import annotations

from django import template

from bookwise.money import format_money

register = template.Library()

# The one money filter of every template (pages, emails, admin): {{ amount|money:currency }}.
register.filter("money", format_money)


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


_IRREGULAR_PLURALS = {"child": "children", "person": "people"}


def _ticket_words(label: str, count: int) -> str:
    """("Adult", 2) -> "2 adults"; a label of several words is kept as written: "2 × Student (under 26)"."""
    word = label.strip()
    if not word.isalpha():
        return f"{count} × {word}"
    word = word.lower()
    if count != 1:
        if word in _IRREGULAR_PLURALS:
            word = _IRREGULAR_PLURALS[word]
        elif word.endswith(("s", "x", "ch", "sh")):
            word += "es"
        elif word.endswith("y") and word[-2:-1] not in "aeiou":
            word = word[:-1] + "ies"
        else:
            word += "s"
    return f"{count} {word}"


@register.filter
def tickets_words(tickets, tiers=None) -> str:
    """A booking's tickets as words: [{"tier": "adult", "quantity": 2}, ...] -> "2 adults, 1 child".

    `tiers` is the theme's `price_tiers` (code -> label); a code no longer
    among them is shown as is. Empty for a booking without tickets.
    """
    labels = {str(t.get("code")): str(t.get("label") or t.get("code")) for t in (tiers or []) if isinstance(t, dict)}
    parts = []
    for ticket in tickets or []:
        if not isinstance(ticket, dict):
            continue
        try:
            quantity = int(ticket.get("quantity") or 0)
        except (TypeError, ValueError):
            continue
        if quantity > 0:
            code = str(ticket.get("tier", ""))
            parts.append(_ticket_words(labels.get(code, code), quantity))
    return ", ".join(parts)
