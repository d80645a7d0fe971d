"""The minimum-players rule of a slot (Theme.min_players, Theme.min_players_deadline_hours), as pure functions.

A theme with a minimum above one runs a slot only when at least that many
seats are taken by the deadline before its start; otherwise the slot is
cancelled (checkout.services.slots_cancel_below_minimum). A slot that reached
the minimum is stamped `guaranteed_at` (bookings.services.slot_stamp_guaranteed)
and stays guaranteed. Shared by the join rule, the sweep, the API and the pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from catalog.models import Slot, Theme


def has_minimum(theme: Theme) -> bool:
    """Themes with the default minimum (1) never have a slot cancelled for want of players."""
    return theme.min_players > 1


def minimum_deadline(*, slot: Slot, theme: Theme) -> datetime:
    """When a slot still below its theme's minimum is cancelled."""
    return slot.starts_at - timedelta(hours=theme.min_players_deadline_hours)


def slot_is_guaranteed(*, slot: Slot, theme: Theme) -> bool:
    """The slot will not be cancelled for want of players: no minimum, or the minimum was reached."""
    return not has_minimum(theme) or slot.guaranteed_at is not None


def minimum_closes_joins(*, slot: Slot, theme: Theme, now: datetime) -> bool:
    """Past the deadline a slot that is not guaranteed takes no new booking: it is about to be cancelled."""
    return not slot_is_guaranteed(slot=slot, theme=theme) and now >= minimum_deadline(slot=slot, theme=theme)


def players_needed(*, theme: Theme, seats_taken: int) -> int:
    """How many more players the slot needs to run (0 when it has enough, or no minimum)."""
    return max(theme.min_players - seats_taken, 0) if has_minimum(theme) else 0
