"""Forms of the merchant portal. They parse and bound the input; the rules live in the services.

Times are entered as wall-clock values in the merchant's timezone and turned
into aware datetimes here, so the services only ever see UTC instants (one
slot) or local dates and times they resolve themselves (weekly schedule).
"""

from __future__ import annotations

import functools
import re
from datetime import date, time, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from bookings.models import BookingStatus
from bookwise import money
from bookwise.timezones import local_to_utc
from catalog.limits import (
    MAX_CANCELLATION_CUTOFF_HOURS,
    MAX_CAPACITY,
    MAX_DURATION_MINUTES,
    MAX_PARTY,
    MAX_PRICE,
    MAX_PRICE_MAJOR,
    SCHEDULE_MAX_DAYS,
    SCHEDULE_MAX_TIMES_PER_DAY,
    SLOT_MAX_DAYS_AHEAD,
    THEME_DESCRIPTION_MAX_LENGTH,
)
from catalog.venue import Venue
from merchants import places
from merchants.models import BookingEmails
from merchants.services import SETTINGS_FIELDS

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


class TimezoneField(forms.ChoiceField):
    """The curated zones of merchants.places, grouped by region (optgroups).

    Unset, static/js/timezone_select.js picks the browser's zone
    (`Intl.DateTimeFormat().resolvedOptions().timeZone`) when it is in the list.
    """

    def __init__(self, *, keep: str = "", **kwargs) -> None:
        kwargs.setdefault("label", "Timezone")
        kwargs.setdefault("help_text", "Your slots are scheduled and shown in this timezone.")
        super().__init__(
            choices=functools.partial(places.timezone_choices, keep=keep),
            widget=forms.Select(attrs={"data-timezone-select": ""}),
            **kwargs,
        )


class CountryField(forms.ChoiceField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Country")
        kwargs.setdefault("required", False)
        super().__init__(choices=places.country_choices, **kwargs)


def _address_fields(prefix: str = "", *, city_required: bool = True) -> dict[str, forms.Field]:
    return {
        f"{prefix}street": forms.CharField(label="Street and number", max_length=200, required=False),
        f"{prefix}postcode": forms.CharField(label="Postcode", max_length=20, required=False),
        f"{prefix}city": forms.CharField(label="City", max_length=100, required=city_required),
        f"{prefix}country": CountryField(),
    }


class MerchantApplyForm(forms.Form):
    name = forms.CharField(label="Business name", max_length=200)
    description = forms.CharField(
        label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    street, postcode, city, country = _address_fields().values()
    timezone = TimezoneField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["street"].help_text = "Where customers go; shown on your theme pages and in booking emails."
        self.fields["country"].help_text = "Your themes' prices default to its currency."


class MerchantSettingsForm(MerchantApplyForm):
    """The owner's profile: venue address, timezone, and how they hear about bookings."""

    booking_emails = forms.ChoiceField(
        label="Emails about bookings", choices=BookingEmails.choices, widget=forms.RadioSelect
    )
    daily_schedule_email = forms.BooleanField(label="Send me tomorrow's schedule every evening", required=False)

    def __init__(self, *args, merchant, **kwargs) -> None:
        kwargs.setdefault("initial", {name: getattr(merchant, name) for name in SETTINGS_FIELDS})
        super().__init__(*args, **kwargs)
        self.fields["timezone"] = TimezoneField(keep=merchant.timezone)
        self.fields[
            "timezone"
        ].help_text = (
            "Slots are shown in this timezone; changing it keeps each slot's moment in time, so their local times move."
        )

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in SETTINGS_FIELDS if name in self.cleaned_data}


def theme_venue_default(merchant) -> str:
    """The merchant's own address, as a theme without a venue of its own shows it."""
    return Venue(
        name="", street=merchant.street, postcode=merchant.postcode, city=merchant.city, country=merchant.country
    ).address


class CurrencyField(forms.ChoiceField):
    """One of bookwise.money's supported currencies; "EUR" posted by a script counts as "eur"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=money.currency_choices, **kwargs)

    def to_python(self, value) -> str:
        return super().to_python(value).strip().lower()

    def validate(self, value: str) -> None:
        super(forms.ChoiceField, self).validate(value)  # required
        if value and value not in money.CURRENCIES:
            raise forms.ValidationError(money.unsupported_currency_message(value), code="unsupported_currency")


class ThemeForm(forms.Form):
    """A theme; given the merchant, a new one's currency defaults to the merchant country's."""

    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=THEME_DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=1, max_value=MAX_DURATION_MINUTES)
    price = forms.DecimalField(
        label="Price per person",
        min_value=Decimal("0"),
        max_value=MAX_PRICE_MAJOR,  # the real bound is in minor units, checked with the currency in clean()
        max_digits=11,
        decimal_places=2,
        help_text="In the currency below, e.g. 25.00, or 5000 for a yen price (JPY has no cents). "
        "Use 0 for a free theme.",
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    currency = CurrencyField(label="Currency", initial=money.DEFAULT_CURRENCY)
    min_party = forms.IntegerField(label="Smallest party", min_value=1, max_value=MAX_PARTY, initial=1)
    max_party = forms.IntegerField(label="Largest party", min_value=1, max_value=MAX_PARTY, initial=6)
    cancellation_cutoff_hours = forms.IntegerField(
        label="Free cancellation until (hours before start)",
        min_value=0,
        max_value=MAX_CANCELLATION_CUTOFF_HOURS,
        initial=24,
    )
    venue_street, venue_postcode, venue_city, venue_country = _address_fields("venue_", city_required=False).values()

    def __init__(self, *args, merchant=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if merchant is not None and "currency" not in self.initial:
            self.initial["currency"] = money.currency_for_country(merchant.country)
        self.fields["venue_street"].help_text = (
            "Only if this theme takes place somewhere else: leave the venue blank to use your business address"
            + (f" ({theme_venue_default(merchant)})." if merchant is not None and merchant.street else ".")
        )

    def clean(self):
        data = super().clean()
        low, high = data.get("min_party"), data.get("max_party")
        if low is not None and high is not None and low > high:
            self.add_error("max_party", "The largest party must not be smaller than the smallest party.")
        price, currency = data.get("price"), data.get("currency")
        if price is not None and currency:
            try:
                data["price_minor"] = money.to_minor(price, currency)
            except money.TooPrecise as exc:
                self.add_error("price", str(exc))
            else:
                if data["price_minor"] > MAX_PRICE:
                    self.add_error("price", f"The price may be at most {money.format_money(MAX_PRICE, currency)}.")
        return data

    def service_kwargs(self) -> dict:
        """The cleaned values as the catalog services take them: price in the currency's minor units."""
        data = dict(self.cleaned_data)
        data["price"] = data.pop("price_minor")
        return data

    @staticmethod
    def initial_from(theme) -> dict:
        return {
            "title": theme.title,
            "description": theme.description,
            "duration_minutes": theme.duration_minutes,
            "price": money.from_minor(theme.price, theme.currency),
            "currency": theme.currency,
            "min_party": theme.min_party,
            "max_party": theme.max_party,
            "cancellation_cutoff_hours": theme.cancellation_cutoff_hours,
            "is_active": theme.is_active,
            "venue_street": theme.venue_street,
            "venue_postcode": theme.venue_postcode,
            "venue_city": theme.venue_city,
            "venue_country": theme.venue_country,
        }


class ThemeEditForm(ThemeForm):
    is_active = forms.BooleanField(
        label="Listed in the catalog", required=False, help_text="Unticked, customers cannot find or book it."
    )


def _default_capacity(form: forms.Form, theme) -> None:
    """A slot's capacity starts at the theme's largest party (one group per slot, the common case)."""
    if theme is not None and "capacity" not in form.initial:
        form.initial["capacity"] = theme.max_party
        form.fields["capacity"].help_text = f"Starts at this theme's largest party, {theme.max_party}."


def _bounded_date(value: date, today: date) -> None:
    # Bounds also keep datetime arithmetic far from year 1 and year 9999 (no OverflowError).
    # The upper bound is the catalog's (catalog.limits.SLOT_MAX_DAYS_AHEAD), which the API applies too.
    if value < today:
        raise forms.ValidationError("Choose today or a later date.")
    if value > today + timedelta(days=SLOT_MAX_DAYS_AHEAD):
        raise forms.ValidationError("Choose a date within the next two years.")


class SlotForm(forms.Form):
    """One slot at a local date and time; `starts_at` is the aware UTC instant after cleaning."""

    date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(
        label="Start time", input_formats=["%H:%M", "%H:%M:%S"], widget=forms.TimeInput(attrs={"type": "time"})
    )
    capacity = forms.IntegerField(label="Capacity (people)", min_value=0, max_value=MAX_CAPACITY)

    def __init__(self, *args, merchant, theme=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.fields["time"].help_text = f"Local time in {merchant.timezone}."
        _default_capacity(self, theme)

    def clean_date(self):
        value = self.cleaned_data["date"]
        _bounded_date(value, timezone.localdate(timezone=self.merchant.tzinfo))
        return value

    def clean(self):
        data = super().clean()
        if data.get("date") and data.get("time"):
            starts_at = local_to_utc(day=data["date"], at=data["time"], tz=self.merchant.tzinfo)
            if starts_at is None:
                self.add_error("time", "This time does not exist on that day: the clocks go forward.")
            else:
                data["starts_at"] = starts_at
        return data


def parse_times(raw: str) -> list[time]:
    """`"10:00, 14:30"` -> [time(10), time(14, 30)]; names every token that is not HH:MM."""
    tokens = [t for t in re.split(r"[,\s;]+", raw.strip()) if t]
    if not tokens:
        raise forms.ValidationError("Give at least one start time, e.g. 10:00, 14:30.")
    parsed, bad = [], []
    for token in tokens:
        match = _HHMM.match(token)
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            parsed.append(time(int(match[1]), int(match[2])))
        else:
            bad.append(token)
    if bad:
        shown = ", ".join(f"“{b[:20]}”" for b in bad[:5])
        raise forms.ValidationError(f"Not a time of day: {shown}. Use 24-hour HH:MM, e.g. 09:30.")
    unique = sorted(set(parsed))
    if len(unique) > SCHEDULE_MAX_TIMES_PER_DAY:
        raise forms.ValidationError(f"At most {SCHEDULE_MAX_TIMES_PER_DAY} start times per day.")
    return unique


class ScheduleForm(forms.Form):
    """A weekly schedule in the merchant's timezone: weekdays x times over a date range."""

    start_date = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.TypedMultipleChoiceField(
        label="Weekdays", choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    times = forms.CharField(
        label="Start times",
        max_length=500,
        help_text="24-hour HH:MM, comma separated, e.g. 10:00, 14:30, 18:00.",
        widget=forms.TextInput(attrs={"placeholder": "10:00, 14:30", "autocomplete": "off"}),
    )
    capacity = forms.IntegerField(label="Capacity (people per slot)", min_value=0, max_value=MAX_CAPACITY)

    def __init__(self, *args, merchant, theme=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.fields["times"].help_text += f" Local time in {merchant.timezone}."
        _default_capacity(self, theme)

    def clean_times(self) -> list[time]:
        return parse_times(self.cleaned_data["times"])

    def clean_start_date(self):
        value = self.cleaned_data["start_date"]
        _bounded_date(value, timezone.localdate(timezone=self.merchant.tzinfo))
        return value

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end:
            if end < start:
                self.add_error("end_date", "The last day must not be before the first day.")
            elif (end - start).days >= SCHEDULE_MAX_DAYS:
                self.add_error("end_date", "A schedule may span at most one year.")
            elif end > timezone.localdate(timezone=self.merchant.tzinfo) + timedelta(days=SLOT_MAX_DAYS_AHEAD):
                self.add_error("end_date", "Choose a last day within the next two years.")
        return data

    def plan_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "start_date": data["start_date"],
            "end_date": data["end_date"],
            "weekdays": data["weekdays"],
            "times": data["times"],
        }


class CapacityForm(forms.Form):
    capacity = forms.IntegerField(label="New capacity (people)", min_value=0, max_value=MAX_CAPACITY)


class AttendanceForm(forms.Form):
    status = forms.ChoiceField(choices=[(BookingStatus.ATTENDED, "Attended"), (BookingStatus.NO_SHOW, "No-show")])
