"""Reads of a merchant's payouts: balances, the statement, net earnings per week.

Every figure is a sum of LedgerEntry rows (signed from the merchant's side,
see its docstring) or of Transfer rows: nothing here reads a stored counter.
Figures are returned as positive amounts the way a merchant reads them ("fees
paid: 250"), except ``owed`` and ``net``, which are the plain sums and may be
negative (a dispute can reverse more than is owed). Each function runs a fixed
number of queries, whatever the number of bookings.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone

from bookings.models import Booking
from bookwise.errors import InvalidInput
from bookwise.timezones import local_day_bounds
from merchants.models import Merchant
from payments.models import LedgerEntry, LedgerKind, Transfer, TransferStatus

# The kinds that make up what a booking earned the merchant; transfers only move it.
EARNING_KINDS = (LedgerKind.CHARGE, LedgerKind.FEE, LedgerKind.REFUND)
STATEMENT_MAX_DAYS = 366


@dataclass(frozen=True)
class CurrencyBalance:
    """A merchant's money in one currency (minor units)."""

    currency: str
    owed: int  # what the platform still owes: the sum of every entry
    in_transit: int  # recorded transfers not yet made at Stripe
    transferred: int  # sent to the merchant's Stripe account, net of reversals
    refunded: int  # given back to customers
    fees: int  # the platform's fees, net of the share refunds gave back
    gross: int  # what customers paid


def payout_balances(*, merchant: Merchant) -> list[CurrencyBalance]:
    """The merchant's balances, one per currency it ever earned in, by currency code. Two queries."""
    sums = (
        LedgerEntry.objects.filter(merchant=merchant)
        .values("currency")
        .annotate(
            owed=Sum("amount", default=0),
            gross=Sum("amount", filter=Q(kind=LedgerKind.CHARGE), default=0),
            fees=Sum("amount", filter=Q(kind=LedgerKind.FEE), default=0),
            refunded=Sum("amount", filter=Q(kind=LedgerKind.REFUND), default=0),
            transferred=Sum(
                "amount", filter=Q(kind__in=(LedgerKind.TRANSFER, LedgerKind.TRANSFER_REVERSAL)), default=0
            ),
        )
        .order_by("currency")
    )
    in_transit: dict[str, int] = {
        row["currency"]: int(row["total"])
        for row in Transfer.objects.filter(merchant=merchant, status=TransferStatus.PENDING)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    balances = [
        CurrencyBalance(
            currency=row["currency"],
            owed=int(row["owed"]),
            in_transit=in_transit.pop(row["currency"], 0),
            transferred=-int(row["transferred"]),
            refunded=-int(row["refunded"]),
            fees=-int(row["fees"]),
            gross=int(row["gross"]),
        )
        for row in sums
    ]
    # A pending transfer always has ledger entries; kept anyway so no money is ever hidden.
    balances += [CurrencyBalance(code, 0, amount, 0, 0, 0, 0) for code, amount in sorted(in_transit.items())]
    return balances


@dataclass(frozen=True)
class StatementLine:
    """One paid booking on the statement (API.md): amounts in minor units of `currency`, positive."""

    booking: int
    slot_starts_at: datetime
    theme: str
    currency: str
    gross: int
    fee: int
    refunded: int
    net: int  # gross - fee - refunded: what the booking earns the merchant
    transfer_id: str  # the Stripe Transfer id, "" before it is made
    transfer_status: str  # a TransferStatus value, "" when there is no transfer yet


STATEMENT_COLUMNS: tuple[str, ...] = (
    "booking",
    "slot_starts_at",
    "theme",
    "currency",
    "gross",
    "fee",
    "refunded",
    "net",
    "transfer_id",
    "transfer_status",
)


def statement_period(
    *, merchant: Merchant, date_from: date | None, date_to: date | None, now: datetime | None = None
) -> tuple[date, date]:
    """The statement's first and last day: as asked, by default this month (merchant's timezone) up to today.

    Raises InvalidInput (400, field `to`) when `to` is before `from` or the period is longer than
    STATEMENT_MAX_DAYS.
    """
    today = timezone.localtime(now or timezone.now(), merchant.tzinfo).date()
    last = date_to or max(today, date_from or today)
    first = date_from or min(last.replace(day=1), last)
    if first > last:
        raise InvalidInput("invalid_period", "The last day must not be before the first day.", field="to")
    if (last - first).days >= STATEMENT_MAX_DAYS:
        raise InvalidInput("invalid_period", f"A statement covers at most {STATEMENT_MAX_DAYS} days.", field="to")
    return first, last


def statement_range(*, merchant: Merchant, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The instants of `date_from` 00:00 and of the day after `date_to`, in the merchant's timezone."""
    start, _ = local_day_bounds(day=date_from, tz=merchant.tzinfo)
    _, end = local_day_bounds(day=date_to, tz=merchant.tzinfo)
    return start, end


def statement_lines(*, merchant: Merchant, date_from: date, date_to: date) -> list[StatementLine]:
    """One line per paid booking (it has a charge entry) whose slot starts from `date_from` to `date_to`
    inclusive, days in the merchant's timezone; by slot start, then booking. One query.

    A booking refunded in full stays on its line (refunded = gross): the
    statement explains every entry of the ledger.
    """
    start, end = statement_range(merchant=merchant, date_from=date_from, date_to=date_to)
    rows = (
        Booking.objects.filter(
            slot__theme__merchant=merchant,
            slot__starts_at__gte=start,
            slot__starts_at__lt=end,
            ledger_entries__kind__in=EARNING_KINDS,
        )
        .values(
            "pk",
            "currency",
            "slot__starts_at",
            "slot__theme__title",
            "transfer__stripe_transfer_id",
            "transfer__status",
        )
        .annotate(
            gross=Sum("ledger_entries__amount", filter=Q(ledger_entries__kind=LedgerKind.CHARGE), default=0),
            fee=Sum("ledger_entries__amount", filter=Q(ledger_entries__kind=LedgerKind.FEE), default=0),
            refunded=Sum("ledger_entries__amount", filter=Q(ledger_entries__kind=LedgerKind.REFUND), default=0),
            charges=Sum("ledger_entries__amount", filter=Q(ledger_entries__kind=LedgerKind.CHARGE)),
        )
        .filter(charges__isnull=False)
        .order_by("slot__starts_at", "pk")
    )
    lines = []
    for row in rows:
        gross, fee, refunded = int(row["gross"]), -int(row["fee"]), -int(row["refunded"])
        lines.append(
            StatementLine(
                booking=row["pk"],
                slot_starts_at=row["slot__starts_at"],
                theme=row["slot__theme__title"],
                currency=row["currency"],
                gross=gross,
                fee=fee,
                refunded=refunded,
                net=gross - fee - refunded,
                transfer_id=row["transfer__stripe_transfer_id"] or "",
                transfer_status=row["transfer__status"] or "",
            )
        )
    return lines


@dataclass(frozen=True)
class WeekNet:
    week_start: date  # a Monday, in the merchant's timezone
    net: int


@dataclass(frozen=True)
class WeeklySeries:
    """Net earnings per week in one currency, oldest week first, every week present (0 when nothing)."""

    currency: str
    weeks: list[WeekNet]


def weekly_net(*, merchant: Merchant, weeks: int = 12, now: datetime | None = None) -> list[WeeklySeries]:
    """What the merchant earned (charges - fees - refunds) per week of slot start, for the last `weeks` weeks
    up to the current one, in the merchant's timezone; one series per currency. One query."""
    weeks = max(1, weeks)
    tz = merchant.tzinfo
    today = timezone.localtime(now or timezone.now(), tz).date()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    start, end = local_day_bounds(day=first, tz=tz, days=7 * weeks)
    rows = (
        LedgerEntry.objects.filter(
            merchant=merchant,
            kind__in=EARNING_KINDS,
            booking__slot__starts_at__gte=start,
            booking__slot__starts_at__lt=end,
        )
        .annotate(week=TruncWeek("booking__slot__starts_at", tzinfo=tz))
        .values("currency", "week")
        .annotate(net=Sum("amount"))
        .order_by("currency", "week")
    )
    by_currency: dict[str, dict[date, int]] = {}
    for row in rows:
        week = row["week"]
        day = week.date() if isinstance(week, datetime) else week
        by_currency.setdefault(row["currency"], {})[day] = int(row["net"])
    mondays = [first + timedelta(days=7 * i) for i in range(weeks)]
    return [
        WeeklySeries(currency=code, weeks=[WeekNet(week_start=m, net=nets.get(m, 0)) for m in mondays])
        for code, nets in sorted(by_currency.items())
    ]


def _spreadsheet_safe(text: str) -> str:
    """A merchant-written text a spreadsheet would run as a formula ("=HYPERLINK(...)") gets a leading '."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def statement_row(line: StatementLine, *, merchant: Merchant) -> dict[str, str | int]:
    """One statement line as the API's JSON and every CSV show it: the slot's start in the merchant's zone."""
    return {
        "booking": line.booking,
        "slot_starts_at": line.slot_starts_at.astimezone(merchant.tzinfo).isoformat(),
        "theme": _spreadsheet_safe(line.theme),
        "currency": line.currency,
        "gross": line.gross,
        "fee": line.fee,
        "refunded": line.refunded,
        "net": line.net,
        "transfer_id": line.transfer_id,
        "transfer_status": line.transfer_status,
    }


def statement_csv(rows: list[dict[str, str | int]]) -> str:
    """Statement rows (:func:`statement_row`) as CSV: a header of STATEMENT_COLUMNS, one row per line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STATEMENT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@dataclass(frozen=True)
class MonthFees:
    month: date  # the first day of the month (UTC)
    currency: str
    fees: int  # kept by the platform: fees charged less the shares refunds gave back
    bookings: int  # bookings whose fee was charged that month


def platform_fees_by_month(*, months: int = 12, now: datetime | None = None) -> list[MonthFees]:
    """The platform's revenue (fee entries) per calendar month (UTC) and currency, newest month first. One query.

    A fee is counted in the month its entry was written: the charge at payment,
    the share given back at the refund.
    """
    now = now or timezone.now()
    first = now.astimezone(UTC).date().replace(day=1)
    for _ in range(max(1, months) - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    rows = (
        LedgerEntry.objects.filter(kind=LedgerKind.FEE, created_at__gte=since)
        .annotate(month=TruncMonth("created_at", tzinfo=UTC))
        .values("month", "currency")
        .annotate(total=Sum("amount"), bookings=Count("pk", filter=Q(amount__lt=0)))
        .order_by("-month", "currency")
    )
    return [
        MonthFees(
            month=row["month"].date() if isinstance(row["month"], datetime) else row["month"],
            currency=row["currency"],
            fees=-int(row["total"]),
            bookings=int(row["bookings"] or 0),
        )
        for row in rows
    ]
