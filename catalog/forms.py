"""Forms of the customer catalog pages: the filters, and booking a slot."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django import forms

from catalog import selectors
from catalog.models import Theme

MAX_PRICE_MAJOR = Decimal("100000000")  # MAX_PRICE in a currency without decimals (JPY); less in any other
MAX_PARTY_INPUT = 1000

ORDERING_CHOICES = [
    ("", "Title (A-Z)"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("-rating_avg", "Best rated"),
]


class CatalogFilterForm(forms.Form):
    """The catalog's search box and filters (GET).

    Prices are typed in major units and compared in each theme's own currency:
    "at most 30" keeps a $25.00 theme and a ¥20 one, not a ¥3,000 one.
    """

    q = forms.CharField(label="Search", required=False, max_length=200)
    city = forms.CharField(label="City", required=False, max_length=100)
    min_price = forms.DecimalField(
        label="Min price per person", required=False, min_value=0, max_value=MAX_PRICE_MAJOR, decimal_places=2
    )
    max_price = forms.DecimalField(
        label="Max price per person", required=False, min_value=0, max_value=MAX_PRICE_MAJOR, decimal_places=2
    )
    date = forms.DateField(
        label="Open seats on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The whole day, in UTC.",
    )
    ordering = forms.ChoiceField(label="Sort by", required=False, choices=ORDERING_CHOICES)

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The maximum price must not be below the minimum price.")
        return data

    def to_filters(self) -> selectors.ThemeFilters:
        """The same filter object the API builds. Call only on a valid form.

        A date becomes the window [00:00, 24:00) UTC of that day: themes with a
        slot starting then that still has seats.
        """
        data = self.cleaned_data
        day = data.get("date")
        start = datetime.combine(day, time.min, tzinfo=UTC) if day else None
        return selectors.ThemeFilters(
            search=data.get("q") or None,
            city=data.get("city") or None,
            min_price_major=data.get("min_price"),
            max_price_major=data.get("max_price"),
            available_from=start,
            available_to=start + timedelta(days=1) if start else None,
            ordering=data.get("ordering") or None,
        )


class BookSlotForm(forms.Form):
    """Choose one of the theme's slots and a party size. The booking rules are `booking_join`'s."""

    slot = forms.IntegerField(
        label="Time", min_value=1, max_value=2**63 - 1, error_messages={"required": "Choose a time."}
    )
    party_size = forms.IntegerField(
        label="Party size",
        min_value=1,
        max_value=MAX_PARTY_INPUT,
        help_text="How many people are coming, you included.",
        error_messages={"required": "Enter how many people are coming.", "invalid": "Enter a whole number of people."},
    )

    def __init__(self, *args, theme: Theme, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.theme = theme
        self.user = user
        self.fields["party_size"].widget.attrs.update(
            {"min": theme.min_party, "max": theme.max_party, "inputmode": "numeric"}
        )
        self.initial.setdefault("party_size", theme.min_party)

    def clean_slot(self) -> int:
        slot_id = self.cleaned_data["slot"]
        if not selectors.slot_visible_to(user=self.user).filter(theme=self.theme, pk=slot_id).exists():
            raise forms.ValidationError("This time is not available: choose another.")
        return slot_id

    def party_size_value(self) -> int:
        """The party size to show on the button: what was typed if it is a number, else the default."""
        raw = self["party_size"].value()
        try:
            return max(int(raw), 1)
        except (TypeError, ValueError):
            return self.theme.min_party
