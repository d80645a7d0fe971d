"""Revenue read from the ledger: a merchant's over a period (the dashboard), the platform's per month (the admin).

Sums of LedgerEntry rows (payments/ledger.py, signed from the merchant's side),
returned as positive amounts the way people read them. A `refund` entry is
money given back to the customer: a refund, or a dispute the merchant lost.

- A merchant's revenue counts the bookings whose slot starts in the period,
  like the statement and `bookings.merchant_stats` (one booking, one day):
  gross = what customers paid (charges), refunded = what went back, and
  revenue = gross - refunded, per currency, per theme and per day or week.
- The platform's month totals count each entry in the (UTC) month it was
  written, like `payout_selectors.platform_fees_by_month`: the money that moved
  that month. net to merchants = gross - refunded - fees.

One query each, whatever the number of bookings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from merchants.models import Merchant
from payments.models import LedgerEntry, LedgerKind


@dataclass(frozen=True)
class Revenue:
    """Money in one currency (minor units, positive)."""

    currency: str
    gross: int = 0  # what customers paid
    refunded: int = 0  # given back (refunds and lost disputes)

    @property
    def net(self) -> int:
        """Revenue: paid less given back."""
        return self.gross - self.refunded

    def __add__(self, other: Revenue) -> Revenue:
        return Revenue(self.currency, self.gross + other.gross, self.refunded + other.refunded)


@dataclass(frozen=True)
class RevenueBucket:
    start: date  # the day, or the Monday of the week (merchant's timezone)
    net: int


@dataclass(frozen=True)
class RevenueSeries:
    """One currency's revenue per bucket, oldest first, every bucket present (0 when nothing)."""

    currency: str
    buckets: list[RevenueBucket]


@dataclass(frozen=True)
class MerchantRevenue:
    totals: list[Revenue]  # per currency, by code
    by_theme: dict[int, list[Revenue]]  # theme id -> per currency
    theme_titles: dict[int, str]  # theme id -> title, for each theme in by_theme
    series: list[RevenueSeries]  # per currency, by code


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def merchant_revenue(
    *, merchant: Merchant, start: datetime, end: datetime, buckets: list[date], weekly: bool = False
) -> MerchantRevenue:
    """The merchant's revenue from bookings whose slot starts in [start, end), per currency, theme and bucket.

    `buckets` are the first days of the chart's bars (every day, or every
    Monday when `weekly`), in the merchant's timezone. One query.
    """
    tz = merchant.tzinfo
    trunc = TruncWeek if weekly else TruncDate
    rows = (
        LedgerEntry.objects.filter(
            merchant=merchant,
            kind__in=(LedgerKind.CHARGE, LedgerKind.REFUND),
            booking__slot__starts_at__gte=start,
            booking__slot__starts_at__lt=end,
        )
        .annotate(bucket=trunc("booking__slot__starts_at", tzinfo=tz))
        .values("currency", "booking__slot__theme_id", "booking__slot__theme__title", "bucket")
        .annotate(
            gross=Sum("amount", filter=Q(kind=LedgerKind.CHARGE), default=0),
            refunded=Sum("amount", filter=Q(kind=LedgerKind.REFUND), default=0),
        )
        .order_by()
    )
    totals: dict[str, Revenue] = {}
    by_theme: dict[int, dict[str, Revenue]] = {}
    titles: dict[int, str] = {}
    per_bucket: dict[str, dict[date, int]] = {}
    for row in rows:
        titles[row["booking__slot__theme_id"]] = row["booking__slot__theme__title"]
        code = row["currency"]
        money = Revenue(code, gross=int(row["gross"]), refunded=-int(row["refunded"]))
        totals[code] = totals.get(code, Revenue(code)) + money
        theme = by_theme.setdefault(row["booking__slot__theme_id"], {})
        theme[code] = theme.get(code, Revenue(code)) + money
        day = _as_date(row["bucket"])
        per_bucket.setdefault(code, {})[day] = per_bucket.get(code, {}).get(day, 0) + money.net
    return MerchantRevenue(
        totals=[totals[code] for code in sorted(totals)],
        by_theme={pk: [theme[code] for code in sorted(theme)] for pk, theme in by_theme.items()},
        theme_titles=titles,
        series=[
            RevenueSeries(code, [RevenueBucket(day, per_bucket[code].get(day, 0)) for day in buckets])
            for code in sorted(per_bucket)
        ],
    )


@dataclass(frozen=True)
class MonthTotals:
    """The platform's money of one UTC month in one currency (minor units, positive)."""

    month: date  # the first day of the month
    currency: str
    gross: int  # paid by customers
    refunded: int  # given back (refunds and lost disputes)
    fees: int  # the platform's fees, less the shares refunds gave back

    @property
    def net_to_merchants(self) -> int:
        """What the month earned the merchants: gross - refunded - fees."""
        return self.gross - self.refunded - self.fees


def month_starts(*, months: int, now: datetime) -> list[date]:
    """The first days of the last `months` UTC months up to the current one, newest first."""
    first = now.astimezone(UTC).date().replace(day=1)
    starts = [first]
    for _ in range(max(1, months) - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        starts.append(first)
    return starts


def platform_monthly_totals(*, months: int = 12, now: datetime | None = None) -> list[MonthTotals]:
    """Gross paid, refunds, fees and net to merchants per UTC month and currency, for the last `months` months.

    Newest month first, currencies by code; every month is listed for each
    currency that moved in the window (zeros where nothing did). One query.
    """
    starts = month_starts(months=months, now=now or timezone.now())
    since = datetime.combine(starts[-1], datetime.min.time(), tzinfo=UTC)
    rows = (
        LedgerEntry.objects.filter(
            created_at__gte=since, kind__in=(LedgerKind.CHARGE, LedgerKind.REFUND, LedgerKind.FEE)
        )
        .annotate(month=TruncMonth("created_at", tzinfo=UTC))
        .values("month", "currency")
        .annotate(
            gross=Sum("amount", filter=Q(kind=LedgerKind.CHARGE), default=0),
            refunded=Sum("amount", filter=Q(kind=LedgerKind.REFUND), default=0),
            fees=Sum("amount", filter=Q(kind=LedgerKind.FEE), default=0),
        )
        .order_by()
    )
    found: dict[tuple[date, str], MonthTotals] = {}
    for row in rows:
        month = _as_date(row["month"])
        found[(month, row["currency"])] = MonthTotals(
            month=month,
            currency=row["currency"],
            gross=int(row["gross"]),
            refunded=-int(row["refunded"]),
            fees=-int(row["fees"]),
        )
    currencies = sorted({code for _, code in found})
    return [
        found.get((month, code), MonthTotals(month=month, currency=code, gross=0, refunded=0, fees=0))
        for month in starts
        for code in currencies
    ]
