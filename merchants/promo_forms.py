"""Forms of the merchant's "Promo codes" page: create a code, change its last day and its maximum.

Days are the merchant's local days: a code is valid from the start of its
first day to the end of its last day (valid_to = the next local midnight).
The rules themselves are bookings.promo's; these only turn typed text into
its arguments.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django import forms

from bookings.promo import MAX_REDEMPTIONS, PROMO_CODE_HELP, PROMO_CODE_PATTERN
from bookwise import money
from catalog.limits import MAX_PRICE_MAJOR
from catalog.selectors import merchant_themes
from merchants.forms import CurrencyField, _to_minor

PERCENT, AMOUNT = "percent", "amount"


def local_start(day: date, merchant) -> datetime:
    """The first moment of `day` in the merchant's timezone (aware)."""
    return datetime.combine(day, time.min, tzinfo=merchant.tzinfo)


def local_end(day: date, merchant) -> datetime:
    """The moment `day` ends in the merchant's timezone: the next local midnight (exclusive)."""
    return local_start(day + timedelta(days=1), merchant)


def last_local_day(valid_to: datetime | None, merchant) -> date | None:
    """The last day a `valid_to` still covers, in the merchant's timezone (for the edit form and the list)."""
    if valid_to is None:
        return None
    return (valid_to.astimezone(merchant.tzinfo) - timedelta(microseconds=1)).date()


def _max_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Maximum uses",
        required=False,
        min_value=1,
        max_value=MAX_REDEMPTIONS,
        help_text="How many bookings may use it. Blank: no limit.",
    )


def _last_day_field() -> forms.DateField:
    return forms.DateField(
        label="Last day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Valid until the end of this day. Blank: no end.",
    )


class PromoCodeForm(forms.Form):
    code = forms.RegexField(
        label="Code",
        regex=PROMO_CODE_PATTERN,
        max_length=40,
        help_text=PROMO_CODE_HELP,
        error_messages={"invalid": f"A code is {PROMO_CODE_HELP}"},
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
    )
    kind = forms.ChoiceField(
        label="Discount",
        choices=[(PERCENT, "A percentage off"), (AMOUNT, "An amount off")],
        initial=PERCENT,
        widget=forms.RadioSelect,
    )
    percent_off = forms.IntegerField(
        label="Percent off", required=False, min_value=1, max_value=100, help_text="1 to 100 (100: free)."
    )
    amount_off = forms.DecimalField(
        label="Amount off",
        required=False,
        min_value=Decimal("0.01"),
        max_value=MAX_PRICE_MAJOR,
        max_digits=11,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        help_text="Taken off the booking's price, never below zero.",
    )
    currency = CurrencyField(label="Currency of the amount", required=False)
    first_day = forms.DateField(
        label="First day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Blank: from now.",
    )
    last_day = _last_day_field()
    max_redemptions = _max_field()
    themes = forms.ModelMultipleChoiceField(
        label="Themes",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every theme of yours.",
    )

    def __init__(self, *args, merchant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        themes = merchant_themes(merchant=merchant).order_by("title", "id")
        self.fields["themes"].queryset = themes
        # The currency the merchant sells in: its first theme's, else its country's.
        sold_in = themes.values_list("currency", flat=True).first()
        self.initial.setdefault("currency", sold_in or money.currency_for_country(merchant.country))

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == PERCENT and data.get("percent_off") is None and "percent_off" not in self.errors:
            self.add_error("percent_off", "Enter the percent off.")
        if kind == AMOUNT:
            if data.get("amount_off") is None and "amount_off" not in self.errors:
                self.add_error("amount_off", "Enter the amount off.")
            if not data.get("currency") and "currency" not in self.errors:
                self.add_error("currency", "Choose the currency of the amount.")
            data["amount_minor"] = _to_minor(self, "amount_off", data.get("amount_off"), data.get("currency"))
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", "The last day cannot be before the first day.")
        return data

    def service_kwargs(self) -> dict:
        """The arguments of bookings.promo.promo_code_create (merchant aside)."""
        data = self.cleaned_data
        amount = data["kind"] == AMOUNT
        return {
            "code": data["code"],
            "percent_off": None if amount else data["percent_off"],
            "amount_off": data.get("amount_minor") if amount else None,
            "currency": data.get("currency") or "" if amount else "",
            "valid_from": local_start(data["first_day"], self.merchant) if data.get("first_day") else None,
            "valid_to": local_end(data["last_day"], self.merchant) if data.get("last_day") else None,
            "max_redemptions": data.get("max_redemptions"),
            "themes": [theme.pk for theme in data.get("themes") or []],
        }


class PromoCodeEditForm(forms.Form):
    """What may change once a code is out: its last day and its maximum (pausing has its own button)."""

    last_day = _last_day_field()
    max_redemptions = _max_field()

    def __init__(self, *args, merchant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.merchant = merchant

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "valid_to": local_end(data["last_day"], self.merchant) if data.get("last_day") else None,
            "max_redemptions": data.get("max_redemptions"),
        }


class PromoCodeActiveForm(forms.Form):
    is_active = forms.BooleanField(required=False)
