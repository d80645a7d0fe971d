"""The numbers on the admin index: today's bookings and revenue, merchants waiting for approval.

"Today" is the current UTC day. Three queries, each through an index, so the
index page stays fast at any table size:

- bookings created / confirmed today: one query, a BitmapOr of
  `booking_created_idx` and `booking_confirmed_at_idx`;
- revenue today: payments with `succeeded_at` today, still `succeeded`
  (refunded ones are not revenue), summed per currency. It reads the
  `payment_status_updated_idx` (status, updated_at) range from the day's start:
  a payment's `updated_at` is never older than its `succeeded_at` (both are
  written by the same save);
- pending merchants: `merchant_status_city_idx` (status, city).

Below it, the money of the last twelve UTC months per currency (gross paid,
refunds, platform fees, net to merchants), one more query over the ledger
(`payments.revenue_selectors.platform_monthly_totals`, by `created_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db.models import Count, Q, Sum
from django.urls import reverse

from bookings.models import Booking
from merchants.models import Merchant, MerchantStatus
from payments.models import Payment, PaymentStatus
from payments.revenue_selectors import MonthTotals, platform_monthly_totals

MONEY_MONTHS = 12


@dataclass(frozen=True)
class Revenue:
    currency: str
    amount: int  # minor units
    payments: int


@dataclass(frozen=True)
class DashboardSummary:
    day_start: datetime
    bookings_created: int
    bookings_confirmed: int
    revenue: list[Revenue]
    pending_merchants: int
    pending_merchants_url: str


def utc_day(now: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def dashboard_summary(*, now: datetime) -> DashboardSummary:
    start, end = utc_day(now)
    created = Q(created_at__gte=start, created_at__lt=end)
    confirmed = Q(confirmed_at__gte=start, confirmed_at__lt=end)
    counts = Booking.objects.filter(created | confirmed).aggregate(
        created=Count("pk", filter=created), confirmed=Count("pk", filter=confirmed)
    )
    revenue = [
        Revenue(currency=row["currency"], amount=row["amount"], payments=row["payments"])
        for row in Payment.objects.filter(
            status=PaymentStatus.SUCCEEDED, updated_at__gte=start, succeeded_at__gte=start, succeeded_at__lt=end
        )
        .values("currency")
        .annotate(amount=Sum("amount"), payments=Count("pk"))
        .order_by("currency")
    ]
    return DashboardSummary(
        day_start=start,
        bookings_created=counts["created"],
        bookings_confirmed=counts["confirmed"],
        revenue=revenue,
        pending_merchants=Merchant.objects.filter(status=MerchantStatus.PENDING).count(),
        pending_merchants_url=f"{reverse('admin:merchants_merchant_changelist')}?status__exact={MerchantStatus.PENDING}",
    )


def money_by_month(*, now: datetime, months: int = MONEY_MONTHS) -> list[MonthTotals]:
    """Gross paid, refunds, fees and net to merchants per UTC month and currency, newest first. One query."""
    return platform_monthly_totals(months=months, now=now)
