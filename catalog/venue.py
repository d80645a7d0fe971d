"""Where customers go for a theme: its own venue when it names one, else the merchant's address.

Shown on the theme page, in the booking emails and as the .ics LOCATION.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Venue:
    name: str
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""

    @property
    def locality(self) -> str:
        """ "1100-148 Lisbon", "Lisbon" or ""."""
        return " ".join(part for part in (self.postcode, self.city) if part)

    @property
    def address(self) -> str:
        """ "Rua Augusta 12, 1100-148 Lisbon, PT" (only the parts that are known)."""
        return ", ".join(part for part in (self.street, self.locality, self.country.upper()) if part)

    @property
    def one_line(self) -> str:
        """The business and its address, e.g. for an .ics LOCATION."""
        return ", ".join(part for part in (self.name, self.address) if part)

    def __str__(self) -> str:
        return self.one_line


def theme_venue(theme) -> Venue:
    """The venue of `theme` (needs `theme.merchant`). A theme with a street or city of its own uses its own."""
    merchant = theme.merchant
    if theme.venue_street or theme.venue_city:
        return Venue(
            name=merchant.name,
            street=theme.venue_street,
            postcode=theme.venue_postcode,
            city=theme.venue_city or merchant.city,
            country=theme.venue_country or merchant.country,
        )
    return Venue(
        name=merchant.name,
        street=merchant.street,
        postcode=merchant.postcode,
        city=merchant.city,
        country=merchant.country,
    )
