"""What a booking costs: the one place a booking's price is decided (API.md "Theme and slot fields").

A join (`bookings.services.booking_join`), a reschedule's price comparison and
every page that quotes a price call these, so a quote and a charge never
disagree. Amounts are integers in the currency's minor unit (bookwise.money):
cents for EUR, yen for JPY; nothing here divides or rounds.

The shapes of a theme:

- shared, no tiers: the slot's unit price (its peak `price`, else the theme's)
  x the party size, as before these fields existed;
- with `price_tiers`: the join sends `tickets` [{tier, quantity}]; the party is
  the sum of the quantities and the amount the sum of quantity x tier price.
  Tier prices are the theme's: a slot's peak `price` does not change them;
- private with a `private_price`: a flat price for the whole slot (the slot's
  peak `price` when it has one), whatever the party (tiers, if any, only
  describe who comes);
- private without a `private_price`: priced like a shared theme (per person, or
  by tiers); only the seats differ (the booking takes the whole slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bookwise.errors import InvalidInput
from catalog.limits import MAX_PARTY
from catalog.models import BookingMode, Slot, Theme

Ticket = dict[str, Any]  # {"tier": code, "quantity": n}


@dataclass(frozen=True)
class Price:
    """A booking's price: `amount` in minor units for `party_size` people; `tickets` as validated ([] untiered)."""

    amount: int
    party_size: int
    tickets: list[Ticket]


def is_private(theme: Theme) -> bool:
    """The first seat-holding booking takes the whole slot."""
    return theme.booking_mode == BookingMode.PRIVATE


def slot_unit_price(*, slot: Slot) -> int:
    """The per-person price on `slot`: its peak `price` when set, else the theme's `price`.

    Peak pricing applies to per-person prices and to private flat prices
    (`slot_flat_price`), never to ticket tiers, whose prices are the theme's.
    """
    return slot.price if slot.price is not None else slot.theme.price


def slot_flat_price(*, slot: Slot) -> int | None:
    """The whole-slot price of a private theme with a `private_price` (the slot's peak `price` first); else None."""
    theme = slot.theme
    if not is_private(theme) or theme.private_price is None:
        return None
    return slot.price if slot.price is not None else theme.private_price


def _tier_prices(theme: Theme) -> dict[str, int]:
    return {str(tier["code"]): int(tier["price"]) for tier in theme.price_tiers or []}


def _validated_tickets(theme: Theme, tickets: Any) -> list[Ticket]:
    """Each ticket a known tier, once, with an integer quantity >= 0; at least one above 0."""
    prices = _tier_prices(theme)
    if not isinstance(tickets, list) or not tickets:
        raise InvalidInput(
            "invalid_tickets",
            f"Choose tickets for this theme: a list of {{tier, quantity}} with tiers {', '.join(prices)}.",
            field="tickets",
        )
    seen: set[str] = set()
    cleaned: list[Ticket] = []
    for ticket in tickets:
        tier = ticket.get("tier") if isinstance(ticket, dict) else None
        quantity = ticket.get("quantity") if isinstance(ticket, dict) else None
        if not isinstance(tier, str) or tier not in prices:
            raise InvalidInput("invalid_tickets", f"Unknown ticket tier {tier!r}.", field="tickets")
        if tier in seen:
            raise InvalidInput("invalid_tickets", f"Ticket tier {tier!r} is listed twice.", field="tickets")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_PARTY:
            raise InvalidInput(
                "invalid_tickets", f"A ticket quantity must be a whole number from 0 to {MAX_PARTY}.", field="tickets"
            )
        seen.add(tier)
        cleaned.append({"tier": tier, "quantity": quantity})
    if not any(t["quantity"] > 0 for t in cleaned):
        raise InvalidInput("invalid_tickets", "Choose at least one ticket.", field="tickets")
    return cleaned


def booking_price(*, slot: Slot, party_size: int | None, tickets: list[Ticket] | None) -> Price:
    """Price a join of `slot`, and validate its party: InvalidInput `invalid_tickets` / `invalid_party_size` (400).

    A theme with `price_tiers` needs `tickets` (`party_size`, when also sent,
    must equal their sum); one without refuses them (an empty list counts as
    none) and prices `party_size` (default 1). The party must lie within the
    theme's min_party..max_party in every mode. Seats are not checked here:
    that takes the slot lock (`booking_join`).
    """
    theme = slot.theme
    tiered = bool(theme.price_tiers)
    cleaned: list[Ticket] = []
    if tiered:
        cleaned = _validated_tickets(theme, tickets)
        total = sum(int(t["quantity"]) for t in cleaned)
        if party_size is not None and party_size != total:
            raise InvalidInput(
                "invalid_party_size",
                f"party_size ({party_size}) must equal the number of tickets ({total}).",
                field="party_size",
            )
        party = total
    else:
        if tickets:
            raise InvalidInput("invalid_tickets", "This theme has no ticket tiers: send party_size.", field="tickets")
        party = 1 if party_size is None else party_size
    if not theme.min_party <= party <= theme.max_party:
        raise InvalidInput(
            "invalid_party_size",
            f"Party size must be between {theme.min_party} and {theme.max_party}.",
            field="tickets" if tiered else "party_size",
        )

    flat = slot_flat_price(slot=slot)
    if flat is not None:
        amount = flat
    elif tiered:
        prices = _tier_prices(theme)
        amount = sum(prices[str(t["tier"])] * int(t["quantity"]) for t in cleaned)
    else:
        amount = slot_unit_price(slot=slot) * party
    return Price(amount=amount, party_size=party, tickets=cleaned)
