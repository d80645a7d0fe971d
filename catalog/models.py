from __future__ import annotations

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import BigIntegerRangeField, DateTimeRangeField, RangeOperators
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Func, Q, Value

from bookwise.models import TimeStampedModel
from bookwise.money import currency_choices
from merchants.models import Merchant

currency_validator = RegexValidator(r"^[a-z]{3}$", "Use a lowercase ISO 4217 code, e.g. usd.")


def default_reminder_offsets() -> list[int]:
    return [24, 2]


class BookingMode(models.TextChoices):
    SHARED = "shared", "Shared"
    PRIVATE = "private", "Private"


class Theme(TimeStampedModel):
    """A bookable experience (an escape room, a class) sold by one merchant."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="themes")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    price = models.PositiveIntegerField(
        help_text="Per person, in the currency's minor unit as Stripe counts it: cents (2950 = 29.50 EUR), "
        "or yen for JPY (5000 = ¥5,000). See bookwise/money.py."
    )
    currency = models.CharField(max_length=3, default="usd", choices=currency_choices, validators=[currency_validator])
    min_party = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    max_party = models.PositiveSmallIntegerField(default=6, validators=[MinValueValidator(1)])
    cancellation_cutoff_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Customers may cancel with a full refund up to this many hours before the start."
    )
    is_active = models.BooleanField(default=True)
    # How it is sold (API.md "Theme and slot fields"; the rules are in bookings/pricing.py and policy.py).
    booking_mode = models.CharField(
        max_length=10,
        choices=BookingMode.choices,
        default=BookingMode.SHARED,
        help_text="Shared: strangers share a slot, seats sold per person. Private: the first booking takes the slot.",
    )
    private_price = models.PositiveIntegerField(
        null=True, blank=True, help_text="Private themes: a flat price for the whole slot; empty = per person."
    )
    price_tiers = models.JSONField(
        default=list,
        blank=True,
        help_text='Ticket tiers, e.g. [{"code": "adult", "label": "Adult", "price": 3000}]; empty = one price.',
    )
    min_players = models.PositiveSmallIntegerField(
        default=1, help_text="A slot runs only with at least this many seats taken by the deadline."
    )
    min_players_deadline_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Hours before the start when a slot below the minimum is cancelled."
    )
    cancellation_policy = models.JSONField(
        default=list,
        blank=True,
        help_text='Refund tiers, e.g. [{"hours_before": 48, "refund_percent": 100}]; '
        "empty = a full refund up to the cancellation cutoff.",
    )
    reminder_offsets_hours = models.JSONField(
        default=default_reminder_offsets,
        blank=True,
        help_text="Reminder emails this many hours before the start, e.g. [24, 2]; empty = no reminders.",
    )
    # Optional venue of its own; blank means the merchant's address.
    venue_street = models.CharField(max_length=200, blank=True)
    venue_postcode = models.CharField(max_length=20, blank=True)
    venue_city = models.CharField(max_length=100, blank=True)
    venue_country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code, e.g. PT.")
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    review_count = models.PositiveIntegerField(default=0)
    # Copies of the merchant's UPPER(city) and "status is approved", so the catalog filters and orders
    # themes on one table and one index (docs/PERFORMANCE.md, the catalog tail). The database keeps them
    # in step, whatever writes the rows: triggers of catalog/migrations/0007_theme_merchant_denormalised.py
    # fill them when a theme is inserted or moved, and rewrite them when a merchant's city or status
    # changes. A value the application writes is ignored. Never shown: the merchant's own fields are.
    merchant_city_upper = models.CharField(max_length=100, db_default="", editable=False)
    merchant_approved = models.BooleanField(db_default=False, editable=False)
    search_vector = models.GeneratedField(
        expression=SearchVector("title", "description", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gte=1), name="theme_duration_positive"),
            models.CheckConstraint(condition=Q(min_party__gte=1), name="theme_min_party_positive"),
            models.CheckConstraint(condition=Q(min_party__lte=F("max_party")), name="theme_party_range"),
            models.CheckConstraint(condition=Q(price__gte=0), name="theme_price_non_negative"),
            models.CheckConstraint(condition=Q(min_players__gte=1), name="theme_min_players_positive"),
            models.CheckConstraint(condition=Q(rating_avg__gte=0, rating_avg__lte=5), name="theme_rating_range"),
        ]
        indexes = [
            models.Index(fields=["merchant", "is_active"], name="theme_merchant_active_idx"),
            # (price, id), (title, id): the catalog orderings exactly, so a page is read in index order
            # and stops after page_size rows (docs/PERFORMANCE.md); price alone needed a sort of every tie.
            models.Index(fields=["price", "id"], condition=Q(is_active=True), name="theme_active_price_idx"),
            models.Index(fields=["title", "id"], condition=Q(is_active=True), name="theme_active_title_idx"),
            models.Index(fields=["-rating_avg", "id"], condition=Q(is_active=True), name="theme_active_rating_idx"),
            # The catalog's city filter in each ordering, read in index order: a rare city with an
            # availability window stops after a page, where it walked every active theme by title (or
            # hashed the window's every slot) checking the merchant's city. -price reads the price one
            # backwards.
            models.Index(
                fields=["merchant_city_upper", "title", "id"],
                condition=Q(is_active=True, merchant_approved=True),
                name="theme_listed_city_title_idx",
            ),
            models.Index(
                fields=["merchant_city_upper", "price", "id"],
                condition=Q(is_active=True, merchant_approved=True),
                name="theme_listed_city_price_idx",
            ),
            models.Index(
                fields=["merchant_city_upper", "-rating_avg", "id"],
                condition=Q(is_active=True, merchant_approved=True),
                name="theme_listed_city_rating_idx",
            ),
            GinIndex(fields=["search_vector"], name="theme_search_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def venue(self):
        """Where customers go (catalog.venue.Venue): this theme's own venue, else the merchant's address."""
        from catalog.venue import theme_venue

        return theme_venue(self)


class SlotStatus(models.TextChoices):
    OPEN = "open", "Open"
    CANCELLED = "cancelled", "Cancelled"


class Int8Range(Func):
    function = "INT8RANGE"
    output_field = BigIntegerRangeField()


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Slot(TimeStampedModel):
    """One session of a theme: a start, an end and a capacity in people."""

    theme = models.ForeignKey(Theme, on_delete=models.PROTECT, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    capacity = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=SlotStatus.choices, default=SlotStatus.OPEN)
    price = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Peak price: overrides the theme's price for this slot (per person, or per slot for a private "
        "theme with a private price); empty = the theme's.",
    )
    guaranteed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the slot reached its theme's minimum players (its customers were told)."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="slot_starts_before_ends"),
            models.CheckConstraint(condition=Q(capacity__gte=0), name="slot_capacity_non_negative"),
            # Two non-cancelled slots of one theme never overlap. The theme is
            # compared as the one-point range [id, id] so that the constraint
            # needs only GiST's built-in range support, not the btree_gist
            # extension, which the embedded PostgreSQL (pgserver) lacks.
            ExclusionConstraint(
                name="slot_no_overlap_per_theme",
                expressions=[
                    (Int8Range(F("theme_id"), F("theme_id"), Value("[]")), RangeOperators.OVERLAPS),
                    (TsTzRange(F("starts_at"), F("ends_at"), Value("[)")), RangeOperators.OVERLAPS),
                ],
                condition=~Q(status=SlotStatus.CANCELLED),
                violation_error_code="slot_overlap",
                violation_error_message="This slot overlaps another slot of the same theme.",
            ),
        ]
        indexes = [
            # A theme's upcoming open slots (theme page, slot list).
            models.Index(fields=["theme", "starts_at"], condition=Q(status="open"), name="slot_theme_open_start_idx"),
            # A theme's future slots, cancelled ones included (slot_list_for_theme), in page order: the
            # partial index above cannot serve it, and the FK index made it read the theme's whole history.
            models.Index(fields=["theme", "starts_at", "id"], name="slot_theme_start_idx"),
            # Catalog availability window across themes.
            models.Index(
                fields=["starts_at"],
                include=["theme", "capacity"],
                condition=Q(status="open"),
                name="slot_open_start_idx",
            ),
        ]

    def __str__(self) -> str:
        """The theme and the start in the merchant's timezone: "Escape Room, Sat 5 Dec 18:00 Europe/Berlin".

        Reads `theme` and `theme.merchant`: select them with the slot where many are shown (admin lists).
        """
        merchant = self.theme.merchant
        local = self.starts_at.astimezone(merchant.tzinfo)
        return f"{self.theme.title}, {local:%a} {local.day} {local:%b %H:%M} {merchant.timezone}"


def theme_photo_path(instance: ThemePhoto, filename: str) -> str:
    """Where an uploaded photo's original is stored: a random name under the theme (catalog/photos.py)."""
    return f"themes/{instance.theme_id}/{filename}"


class ThemePhoto(TimeStampedModel):
    """A photo of a theme (at most 6): the cleaned original plus resized renditions (catalog/photos.py).

    Files go through Django's storage API (STORAGES["default"]): the filesystem in
    development, an S3-compatible bucket in production.
    """

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=theme_photo_path, max_length=255)
    renditions = models.JSONField(default=dict, blank=True, help_text='{"small": "themes/1/x-480.webp", ...}')
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    alt_text = models.CharField(max_length=250, blank=True, help_text="What the photo shows, for screen readers.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["theme", "position", "id"], name="theme_photo_order_idx")]

    def __str__(self) -> str:
        return self.alt_text or f"Photo {self.pk} of theme {self.theme_id}"
