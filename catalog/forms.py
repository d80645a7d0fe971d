"""Forms of the customer catalog pages: the filters, and booking a slot."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from django import forms

from bookings import catalog_selectors
from bookings.promo import promo_quote_for_join
from bookwise import money
from bookwise.errors import DomainError
from bookwise.web import form_add_domain_error
from catalog import selectors
from catalog.limits import MAX_PARTY, MAX_PRICE_MAJOR
from catalog.models import BookingMode, Theme

ORDERING_CHOICES = [
    ("", "Title (A-Z)"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("-rating_avg", "Best rated"),
]


class CatalogFilterForm(forms.Form):
    """The catalog's search box and filters (GET).

    Prices are typed in major units of the chosen currency, and a price filter
    or price ordering lists only themes priced in it: no number is compared
    across currencies. Without a choice the view picks the most common
    currency of the results (`bookings.catalog_selectors.theme_currency_most_common`).
    """

    q = forms.CharField(label="Search", required=False, max_length=200)
    city = forms.CharField(label="City", required=False, max_length=100)
    min_price = forms.DecimalField(
        label="Min price per person", required=False, min_value=0, max_value=MAX_PRICE_MAJOR, decimal_places=2
    )
    max_price = forms.DecimalField(
        label="Max price per person", required=False, min_value=0, max_value=MAX_PRICE_MAJOR, decimal_places=2
    )
    currency = forms.ChoiceField(
        label="Currency",
        required=False,
        help_text="Price filters and price sorting list only themes priced in this currency.",
    )
    date = forms.DateField(
        label="Open seats on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="That day in each venue's local time.",
    )
    ordering = forms.ChoiceField(label="Sort by", required=False, choices=ORDERING_CHOICES)

    def __init__(self, *args, currencies: Sequence[str] = (), **kwargs) -> None:
        """`currencies`: those active themes are priced in (`selectors.theme_currencies_public`)."""
        super().__init__(*args, **kwargs)
        codes = list(currencies)
        # Any supported currency is accepted, even one the cached list does not show yet.
        asked = str(self.data.get("currency") or "").strip().lower() if self.is_bound else ""
        if asked in money.CURRENCIES and asked not in codes:
            codes.append(asked)
        self.fields["currency"].choices = [("", "Most common")] + [(code, code.upper()) for code in codes]

    def clean_currency(self) -> str:
        return (self.cleaned_data.get("currency") or "").lower()

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The maximum price must not be below the minimum price.")
        return data

    def to_filters(self) -> selectors.ThemeFilters:
        """The same filter object the API builds. Call only on a valid form.

        A date keeps themes with a slot starting that calendar day in the
        merchant's own timezone that still has seats for the smallest party.
        """
        data = self.cleaned_data
        return selectors.ThemeFilters(
            search=data.get("q") or None,
            city=data.get("city") or None,
            min_price_major=data.get("min_price"),
            max_price_major=data.get("max_price"),
            currency=data.get("currency") or None,
            available_on_local_day=data.get("date"),
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
        max_value=MAX_PARTY,
        help_text="How many people are coming, you included.",
        error_messages={"required": "Enter how many people are coming.", "invalid": "Enter a whole number of people."},
    )
    promo_code = forms.CharField(
        label="Have a code?",
        required=False,
        max_length=40,
        help_text="A promo code from the organiser: its discount comes off the total before you pay.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )

    # One input next to the list of times: no asterisk (templates/forms/field.html).
    hide_required_marker = True
    # Set by `apply_promo_code` (the "Apply" button): the price with the code, shown before booking.
    promo_preview = None

    def __init__(self, *args, theme: Theme, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.theme = theme
        self.user = user
        self.fields["party_size"].label = f"Party size ({theme.min_party}–{theme.max_party} people)"
        self.fields["party_size"].widget.attrs.update(
            {"min": theme.min_party, "max": theme.max_party, "inputmode": "numeric"}
        )
        self.initial.setdefault("party_size", theme.min_party)
        if theme.price_tiers:
            # A tiered theme sells tickets: one quantity per tier instead of a party size
            # (bookings.pricing.booking_price checks the sum against the party range).
            # With a private flat price the tickets only say who comes: no price per ticket is shown.
            flat = theme.booking_mode == BookingMode.PRIVATE and theme.private_price is not None
            self.fields["party_size"].required = False
            self.fields["party_size"].widget = forms.HiddenInput()
            for index, tier in enumerate(theme.price_tiers):
                self.fields[self.ticket_field_name(tier)] = forms.IntegerField(
                    label=str(tier.get("label") or tier.get("code")),
                    required=False,
                    min_value=0,
                    max_value=MAX_PARTY,
                    initial=theme.min_party if index == 0 else 0,
                    help_text="" if flat else money.format_money(int(tier.get("price", 0)), theme.currency),
                    widget=forms.NumberInput(
                        attrs={
                            "min": 0,
                            "max": theme.max_party,
                            "inputmode": "numeric",
                            "data-ticket-price": int(tier.get("price", 0)),
                        }
                    ),
                )

    @staticmethod
    def ticket_field_name(tier: dict) -> str:
        return f"ticket_{tier.get('code')}"

    def ticket_fields(self) -> list:
        return [self[self.ticket_field_name(tier)] for tier in self.theme.price_tiers or []]

    def clean(self):
        data = super().clean()
        if self.theme.price_tiers:
            data["tickets"] = [
                {"tier": str(tier.get("code")), "quantity": data.get(self.ticket_field_name(tier)) or 0}
                for tier in self.theme.price_tiers
            ]
            data["party_size"] = None
        else:
            data["tickets"] = None
        return data

    def join_kwargs(self) -> dict:
        """What `booking_join` takes: `tickets` on a tiered theme, else `party_size`; and the `promo_code` typed."""
        code = {"promo_code": self.promo_code_value()}
        if self.theme.price_tiers:
            tickets = self.cleaned_data["tickets"]
            # Tiers not chosen are left out; none chosen at all is sent as is, for the service's message.
            return {"tickets": [t for t in tickets if t["quantity"] > 0] or tickets, **code}
        return {"party_size": self.cleaned_data["party_size"], **code}

    def promo_code_value(self) -> str | None:
        return (self.cleaned_data.get("promo_code") or "").strip() or None

    def add_join_error(self, exc: DomainError) -> None:
        """A refused join on the form: a refused code next to the code field, the rest as bookwise.web does."""
        if exc.code == "promo_invalid" and "promo_code" in self.fields:
            self.add_error("promo_code", exc.message)
        else:
            form_add_domain_error(self, exc)

    def apply_promo_code(self) -> None:
        """The "Apply" button: price the chosen time and party with the code (`promo_preview`); nothing is held."""
        code = self.promo_code_value()
        if not code:
            self.add_error("promo_code", "Enter a code to apply it.")
            return
        kwargs = {**self.join_kwargs(), "code": code}
        del kwargs["promo_code"]
        try:
            self.promo_preview = promo_quote_for_join(slot_id=self.cleaned_data["slot"], **kwargs)
        except DomainError as exc:
            self.add_join_error(exc)

    def clean_slot(self) -> int:
        slot_id = self.cleaned_data["slot"]
        if not catalog_selectors.slot_visible_to(user=self.user).filter(theme=self.theme, pk=slot_id).exists():
            raise forms.ValidationError("This time is not available: choose another.")
        return slot_id

    def party_size_value(self) -> int:
        """The party size to show on the button: what was typed if it is a number, else the default."""
        if self.theme.price_tiers:
            total = 0
            for field in self.ticket_fields():
                with contextlib.suppress(TypeError, ValueError):
                    total += max(int(field.value() or 0), 0)
            return max(total, 1)
        raw = self["party_size"].value()
        try:
            return max(int(raw), 1)
        except (TypeError, ValueError):
            return self.theme.min_party
