from __future__ import annotations

import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper

from bookwise.models import TimeStampedModel


@functools.cache
def _iana_timezones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk: read it once per process.
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _iana_timezones():
        raise ValidationError(f"{value!r} is not a valid IANA timezone (e.g. Europe/Paris).", code="invalid_timezone")


class MerchantStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    SUSPENDED = "suspended", "Suspended"


class BookingEmails(models.TextChoices):
    EACH = "each", "One email per booking"
    HOURLY = "hourly", "One digest per hour"
    OFF = "off", "No booking emails"


class Merchant(TimeStampedModel):
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="merchant")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    city = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    status = models.CharField(max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.PENDING)
    approved_at = models.DateTimeField(null=True, blank=True)
    # Venue: where customers go (theme page, emails, the .ics LOCATION). A theme may name its own.
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code, e.g. PT.")
    # Suspension (set by merchants.services when an admin suspends; cleared on re-approval).
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)
    suspension_keeps_bookings = models.BooleanField(
        default=True,
        help_text="While suspended: keep the upcoming bookings (the merchant still sees participants and "
        "marks attendance; nothing new can be booked) or they were cancelled and refunded.",
    )
    # E-mails to the merchant about bookings.
    booking_emails = models.CharField(
        max_length=8,
        choices=BookingEmails.choices,
        default=BookingEmails.EACH,
        help_text="One email per new or cancelled booking, one digest per hour, or none.",
    )
    daily_schedule_email = models.BooleanField(default=True, help_text="A daily email with tomorrow's schedule.")
    # The secret iCal feed of upcoming slots and who is booked (merchants/feeds.py); rotated on demand.
    calendar_feed_token = models.CharField(max_length=64, blank=True, default="")
    # Sites allowed to embed the booking widget (CSP frame-ancestors), e.g. ["https://rooms.example"].
    widget_origins = models.JSONField(
        default=list, blank=True, help_text="Origins of the merchant's own sites that may embed the booking widget."
    )
    # Payouts (Stripe Connect): the platform's share of each paid booking, in basis points
    # (1000 = 10 %). Empty: the PLATFORM_FEE_BPS setting. Set by platform admins only.
    fee_bps = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Platform fee in basis points (1000 = 10 %). Empty: the platform default (PLATFORM_FEE_BPS).",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fee_bps__isnull=True) | models.Q(fee_bps__lte=10000), name="merchant_fee_bps_range"
            ),
        ]
        indexes = [
            models.Index(
                fields=["calendar_feed_token"],
                condition=~models.Q(calendar_feed_token=""),
                name="merchant_feed_token_idx",
            ),
            models.Index(fields=["status", "city"], name="merchant_status_city_idx"),
            # The catalog's city filter is `city__iexact` (UPPER(city) = UPPER(%s)). The index also gives
            # the planner statistics on UPPER(city): without them it guesses 0.5% for every city, and for a
            # big city (a fifth of all merchants) picks a plan 300x slower (docs/PERFORMANCE.md).
            models.Index(Upper("city"), name="merchant_upper_city_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_fee_bps(self) -> int:
        """The fee this merchant pays now: its own override, else the platform default."""
        return self.fee_bps if self.fee_bps is not None else settings.PLATFORM_FEE_BPS

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)
