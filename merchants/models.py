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


class Merchant(TimeStampedModel):
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="merchant")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    city = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    status = models.CharField(max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.PENDING)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "city"], name="merchant_status_city_idx"),
            # The catalog's city filter is `city__iexact` (UPPER(city) = UPPER(%s)). The index also gives
            # the planner statistics on UPPER(city): without them it guesses 0.5% for every city, and for a
            # big city (a fifth of all merchants) picks a plan 300x slower (docs/PERFORMANCE.md).
            models.Index(Upper("city"), name="merchant_upper_city_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)
