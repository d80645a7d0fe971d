"""`{% minimum_players_status slot theme %}`: "Guaranteed" or "Needs 2 more to run" for a theme with a minimum.

For the theme page's times and the merchant's slot list. Reads the slot's
`seats_left` annotation (bookings.catalog_selectors.with_seats_left), so it
costs no query; the rule itself is catalog.minimum.
"""

from __future__ import annotations

from django import template
from django.utils import timezone

from catalog.minimum import has_minimum, minimum_closes_joins, players_needed, slot_is_guaranteed
from catalog.models import Slot, SlotStatus, Theme

register = template.Library()


@register.simple_tag
def minimum_players_status(slot: Slot, theme: Theme) -> str:
    """Empty for a theme without a minimum (old themes look as before) and for a cancelled slot."""
    if not has_minimum(theme) or slot.status != SlotStatus.OPEN:
        return ""
    if slot_is_guaranteed(slot=slot, theme=theme):
        return "Guaranteed"
    now = timezone.now()
    if slot.starts_at <= now:
        return ""
    taken = slot.capacity - getattr(slot, "seats_left", slot.capacity)
    needed = players_needed(theme=theme, seats_taken=taken)
    if needed == 0:
        return "Minimum reached"  # with seats still being paid for: guaranteed once they are
    if minimum_closes_joins(slot=slot, theme=theme, now=now):
        return "Not enough players: closing"
    return f"Needs {needed} more to run"
