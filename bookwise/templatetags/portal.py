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
