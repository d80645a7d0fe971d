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

from bookings import merchant_stats
from bookings.models import BookingStatus
from bookwise import money
from bookwise.errors import DomainError
from bookwise.timezones import local_to_utc
from catalog.limits import (
    MAX_CANCELLATION_CUTOFF_HOURS,
    MAX_CANCELLATION_HOURS_BEFORE,
    MAX_CAPACITY,
    MAX_DURATION_MINUTES,
    MAX_MIN_PLAYERS,
    MAX_MIN_PLAYERS_DEADLINE_HOURS,
    MAX_PARTY,
    MAX_PRICE,
    MAX_PRICE_MAJOR,
    MAX_PRICE_TIERS,
    PRICE_TIER_CODE_PATTERN,
    PRICE_TIER_LABEL_MAX_LENGTH,
    SCHEDULE_MAX_DAYS,
    SCHEDULE_MAX_TIMES_PER_DAY,
    SLOT_MAX_DAYS_AHEAD,
    THEME_DESCRIPTION_MAX_LENGTH,
)
from catalog.models import BookingMode
from catalog.venue import Venue
from merchants import places
from merchants.models import BookingEmails
from merchants.services import SETTINGS_FIELDS
from merchants.widget import MAX_ORIGIN_LENGTH, MAX_WIDGET_ORIGINS, widget_origins_normalize
from payments import payout_selectors

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
    widget_origins = forms.CharField(
        label="Sites that may show your booking widget",
        required=False,
        max_length=(MAX_ORIGIN_LENGTH + 1) * MAX_WIDGET_ORIGINS,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "off"}),
        help_text=f"One per line, the address of your own website without a path, e.g. https://www.example.com "
        f"(at most {MAX_WIDGET_ORIGINS}). Only these sites can embed your booking pages.",
    )

    def __init__(self, *args, merchant, **kwargs) -> None:
        kwargs.setdefault("initial", {name: getattr(merchant, name) for name in SETTINGS_FIELDS})
        if isinstance(kwargs["initial"].get("widget_origins"), list):
            kwargs["initial"]["widget_origins"] = "\n".join(kwargs["initial"]["widget_origins"])
        super().__init__(*args, **kwargs)
        self.fields["timezone"] = TimezoneField(keep=merchant.timezone)
        self.fields[
            "timezone"
        ].help_text = (
            "Slots are shown in this timezone; changing it keeps each slot's moment in time, so their local times move."
        )

    def clean_widget_origins(self) -> list[str]:
        lines = [line for line in self.cleaned_data["widget_origins"].splitlines() if line.strip()]
        try:
            return widget_origins_normalize(lines)
        except DomainError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc

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


def _money_field(label: str, *, required: bool = False, help_text: str = "") -> forms.DecimalField:
    """A price typed in major units; converted to minor units with the theme's currency in clean()."""
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0"),
        max_value=MAX_PRICE_MAJOR,
        max_digits=11,
        decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


def _to_minor(form: forms.Form, name: str, value: Decimal | None, currency: str | None) -> int | None:
    """`value` in the currency's minor units, bounded by MAX_PRICE; an error on `name` (and None) otherwise."""
    if value is None or not currency:
        return None
    try:
        minor = money.to_minor(value, currency)
    except money.TooPrecise as exc:
        form.add_error(name, str(exc))
        return None
    if minor > MAX_PRICE:
        form.add_error(name, f"The price may be at most {money.format_money(MAX_PRICE, currency)}.")
        return None
    return minor


# Rows of the theme form's ticket tiers (as many as the catalog allows) and refund tiers.
TIER_ROWS = MAX_PRICE_TIERS
POLICY_ROWS = 4


class ThemeForm(forms.Form):
    """A theme; given the merchant, a new one's currency defaults to the merchant country's.

    Ticket tiers and refund tiers are fixed rows of plain inputs (`tier_<n>_code`,
    `policy_<n>_hours`...), blank rows ignored: no script needed. The catalog
    services validate the lists (codes unique, percents 0..100).
    """

    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=THEME_DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=1, max_value=MAX_DURATION_MINUTES)
    price = _money_field(
        "Price per person",
        required=True,
        help_text="In the currency below, e.g. 25.00, or 5000 for a yen price (JPY has no cents). "
        "Use 0 for a free theme.",
    )
    currency = CurrencyField(label="Currency", initial=money.DEFAULT_CURRENCY)
    min_party = forms.IntegerField(label="Smallest party", min_value=1, max_value=MAX_PARTY, initial=1)
    max_party = forms.IntegerField(label="Largest party", min_value=1, max_value=MAX_PARTY, initial=6)
    booking_mode = forms.ChoiceField(
        label="How slots are sold",
        choices=[
            (BookingMode.SHARED, "Shared: strangers share a slot, seats sold per person"),
            (BookingMode.PRIVATE, "Private: the first group takes the whole slot"),
        ],
        initial=BookingMode.SHARED,
        required=False,  # blank: shared, as every theme was before booking modes
        widget=forms.RadioSelect,
    )
    private_price = _money_field(
        "Private price for the whole group",
        help_text="Private themes only: one price for the slot, whatever the party size. Leave blank to charge "
        "per person.",
    )
    min_players = forms.IntegerField(
        label="Minimum players to run",
        min_value=1,
        max_value=MAX_MIN_PLAYERS,
        initial=1,
        required=False,
        help_text="A slot with fewer people booked by the deadline below is cancelled and refunded in full. "
        "1 = always runs.",
    )
    min_players_deadline_hours = forms.IntegerField(
        label="Minimum players deadline (hours before start)",
        min_value=0,
        max_value=MAX_MIN_PLAYERS_DEADLINE_HOURS,
        initial=24,
        required=False,
    )
    cancellation_cutoff_hours = forms.IntegerField(
        label="Free cancellation until (hours before start)",
        min_value=0,
        max_value=MAX_CANCELLATION_CUTOFF_HOURS,
        initial=24,
        help_text="Used when no refund tiers are given below.",
    )
    reminder_offsets_hours = forms.CharField(
        label="Reminder emails (hours before the start)",
        required=False,
        max_length=40,
        initial="24, 2",
        help_text="Customers get a reminder this many hours before their booking, e.g. “24, 2” (up to three "
        "numbers, 1 to 168). Leave blank for no reminders.",
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
        for n in range(1, TIER_ROWS + 1):
            self.fields[f"tier_{n}_code"] = forms.RegexField(
                label=f"Tier {n} code",
                regex=PRICE_TIER_CODE_PATTERN,
                required=False,
                error_messages={"invalid": "Use lowercase letters, digits, - or _ (e.g. adult)."},
                widget=forms.TextInput(attrs={"size": 8, "autocapitalize": "none"}),
            )
            self.fields[f"tier_{n}_label"] = forms.CharField(
                label=f"Tier {n} label",
                required=False,
                max_length=PRICE_TIER_LABEL_MAX_LENGTH,
                widget=forms.TextInput(attrs={"size": 14}),
            )
            self.fields[f"tier_{n}_price"] = _money_field(f"Tier {n} price")
        for n in range(1, POLICY_ROWS + 1):
            self.fields[f"policy_{n}_hours"] = forms.IntegerField(
                label=f"Refund tier {n}: hours before start",
                required=False,
                min_value=0,
                max_value=MAX_CANCELLATION_HOURS_BEFORE,
            )
            self.fields[f"policy_{n}_percent"] = forms.IntegerField(
                label=f"Refund tier {n}: refund %", required=False, min_value=0, max_value=100
            )

    def main_fields(self) -> list:
        """The fields shown one by one (the tier rows are laid out as tables by the template)."""
        return [f for f in self.visible_fields() if not f.name.startswith(("tier_", "policy_"))]

    def tier_rows(self) -> list[dict]:
        return [
            {"n": n, "code": self[f"tier_{n}_code"], "label": self[f"tier_{n}_label"], "price": self[f"tier_{n}_price"]}
            for n in range(1, TIER_ROWS + 1)
        ]

    def policy_rows(self) -> list[dict]:
        return [
            {"n": n, "hours": self[f"policy_{n}_hours"], "percent": self[f"policy_{n}_percent"]}
            for n in range(1, POLICY_ROWS + 1)
        ]

    def clean_reminder_offsets_hours(self) -> list[int] | None:
        """Typed "24, 2" -> [24, 2]; the catalog services check the bounds. None when the field was not posted."""
        if "reminder_offsets_hours" not in self.data:
            return None  # an older page: the theme keeps its offsets (a new one gets the default)
        text = self.cleaned_data.get("reminder_offsets_hours") or ""
        parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        if not all(part.isdigit() for part in parts):
            raise forms.ValidationError("Use whole numbers of hours separated by commas, e.g. 24, 2.")
        return [int(part) for part in parts]

    def clean(self):
        data = super().clean()
        low, high = data.get("min_party"), data.get("max_party")
        if low is not None and high is not None and low > high:
            self.add_error("max_party", "The largest party must not be smaller than the smallest party.")
        # Left blank (or not posted by an older page): the model's defaults, an always-running shared theme.
        data["booking_mode"] = data.get("booking_mode") or BookingMode.SHARED
        if data.get("min_players") is None:
            data["min_players"] = 1
        if data.get("min_players_deadline_hours") is None:
            data["min_players_deadline_hours"] = 24
        currency = data.get("currency")
        data["price_minor"] = _to_minor(self, "price", data.get("price"), currency)
        data["private_price_minor"] = _to_minor(self, "private_price", data.get("private_price"), currency)
        tiers = []
        for n in range(1, TIER_ROWS + 1):
            code, label, price = (data.get(f"tier_{n}_{part}") for part in ("code", "label", "price"))
            if not code and not label and price is None:
                continue
            if not code or price is None:
                self.add_error(f"tier_{n}_code", f"Tier {n}: give a code and a price (or clear the row).")
                continue
            minor = _to_minor(self, f"tier_{n}_price", price, currency)
            if minor is not None:
                tiers.append({"code": code, "label": label or code.capitalize(), "price": minor})
        data["price_tiers"] = tiers
        policy = []
        for n in range(1, POLICY_ROWS + 1):
            hours, percent = data.get(f"policy_{n}_hours"), data.get(f"policy_{n}_percent")
            if hours is None and percent is None:
                continue
            if hours is None or percent is None:
                self.add_error(f"policy_{n}_hours", f"Refund tier {n}: give the hours and the percent (or clear both).")
                continue
            policy.append({"hours_before": hours, "refund_percent": percent})
        data["cancellation_policy"] = sorted(policy, key=lambda row: -row["hours_before"])
        return data

    def service_kwargs(self) -> dict:
        """The cleaned values as the catalog services take them: prices in the currency's minor units."""
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith(("tier_", "policy_"))}
        data["price"] = data.pop("price_minor")
        data["private_price"] = data.pop("private_price_minor")
        if data.get("reminder_offsets_hours") is None:
            data.pop("reminder_offsets_hours", None)
        return data

    @staticmethod
    def initial_from(theme) -> dict:
        initial = {
            "title": theme.title,
            "description": theme.description,
            "duration_minutes": theme.duration_minutes,
            "price": money.from_minor(theme.price, theme.currency),
            "currency": theme.currency,
            "min_party": theme.min_party,
            "max_party": theme.max_party,
            "booking_mode": theme.booking_mode,
            "private_price": (
                money.from_minor(theme.private_price, theme.currency) if theme.private_price is not None else None
            ),
            "min_players": theme.min_players,
            "min_players_deadline_hours": theme.min_players_deadline_hours,
            "cancellation_cutoff_hours": theme.cancellation_cutoff_hours,
            "reminder_offsets_hours": ", ".join(str(hours) for hours in theme.reminder_offsets_hours or []),
            "is_active": theme.is_active,
            "venue_street": theme.venue_street,
            "venue_postcode": theme.venue_postcode,
            "venue_city": theme.venue_city,
            "venue_country": theme.venue_country,
        }
        for n, tier in enumerate(theme.price_tiers or [], start=1):
            initial[f"tier_{n}_code"] = tier.get("code", "")
            initial[f"tier_{n}_label"] = tier.get("label", "")
            initial[f"tier_{n}_price"] = money.from_minor(int(tier.get("price", 0)), theme.currency)
        for n, row in enumerate(theme.cancellation_policy or [], start=1):
            initial[f"policy_{n}_hours"] = row.get("hours_before")
            initial[f"policy_{n}_percent"] = row.get("refund_percent")
        return initial


class ThemeEditForm(ThemeForm):
    is_active = forms.BooleanField(
        label="Listed in the catalog", required=False, help_text="Unticked, customers cannot find or book it."
    )


def _default_capacity(form: forms.Form, theme) -> None:
    """A slot's capacity starts at the theme's largest party (one group per slot, the common case)."""
    if theme is not None and "capacity" not in form.initial:
        form.initial["capacity"] = theme.max_party
        form.fields["capacity"].help_text = f"Starts at this theme's largest party, {theme.max_party}."


def _slot_price_field(theme) -> forms.DecimalField:
    """The optional peak price of a slot; its help says what the theme charges otherwise."""
    field = _money_field("Price (optional)")
    if theme is not None:
        per = (
            "for the group"
            if theme.booking_mode == BookingMode.PRIVATE and theme.private_price is not None
            else ("per person")
        )
        base = theme.private_price if per == "for the group" else theme.price
        field.help_text = (
            f"A peak price {per} in {theme.currency.upper()}, e.g. for Friday and Saturday evenings. "
            f"Blank: the theme's {money.format_money(base, theme.currency)}."
        )
        if theme.price_tiers:
            field.help_text += " Tickets keep their tier prices."
    return field


def _clean_slot_price(form: forms.Form, data: dict) -> None:
    """`data["price_minor"]`: the typed peak price in the theme's minor units, or None (the theme's price)."""
    data["price_minor"] = _to_minor(form, "price", data.get("price"), form.theme.currency if form.theme else None)


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
        self.theme = theme
        self.fields["time"].help_text = f"Local time in {merchant.timezone}."
        self.fields["price"] = _slot_price_field(theme)
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
        _clean_slot_price(self, data)
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
        self.theme = theme
        self.fields["times"].help_text += f" Local time in {merchant.timezone}."
        self.fields["price"] = _slot_price_field(theme)
        if theme is not None:
            self.fields["price"].help_text += (
                " For peak prices, create one schedule per price: e.g. Monday to Thursday at the theme's price, "
                "then Friday and Saturday 18:00 at a higher one."
            )
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
        _clean_slot_price(self, data)
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


class StatementPeriodForm(forms.Form):
    """The statement's days (merchant's timezone); both optional: this month up to today by default."""

    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, merchant) -> None:
        super().__init__(data)
        self.merchant = merchant

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            try:
                cleaned["date_from"], cleaned["date_to"] = payout_selectors.statement_period(
                    merchant=self.merchant, date_from=cleaned.get("date_from"), date_to=cleaned.get("date_to")
                )
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return cleaned


class DashboardPeriodForm(forms.Form):
    """The dashboard's period (`?from=&to=` dates in the merchant's timezone, or `?days=` 7/30/90); last 30 days."""

    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[(n, f"{n} days") for n in merchant_stats.PERIOD_PRESETS]
    )

    def __init__(self, query, *, merchant, now=None) -> None:
        data = {"date_from": query.get("from", ""), "date_to": query.get("to", ""), "days": query.get("days", "")}
        super().__init__(data)
        self.merchant = merchant
        self.now = now
        self.period: merchant_stats.StatsPeriod | None = None

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            try:
                self.period = merchant_stats.stats_period(
                    merchant=self.merchant,
                    date_from=cleaned.get("date_from"),
                    date_to=cleaned.get("date_to"),
                    days=cleaned.get("days"),
                    now=self.now,
                )
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return cleaned

    def period_or_default(self) -> merchant_stats.StatsPeriod:
        """The chosen period when the form is valid, else the default one (the page still shows figures)."""
        if self.is_valid() and self.period is not None:
            return self.period
        return merchant_stats.stats_period(merchant=self.merchant, now=self.now)
