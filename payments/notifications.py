"""Emails to merchants about getting paid: payouts enabled, account restricted, a daily transfers summary.

- **Enabled** and **restricted** are queued by payments.connect (through
  bookwise.outbox, in the transaction that changed the ConnectedAccount) as
  `payments.tasks.send_payouts_enabled` / `send_payouts_restricted` with the
  merchant's id. Each re-reads the account when it runs and sends nothing when
  the account has moved on since (an "enabled" email for an account that is
  restricted by now would be wrong).
- **Transfers** (`send_transfer_digests`, hourly beat): once the merchant's
  local day has ended and its local time has reached DIGEST_LOCAL_HOUR, one
  email lists the transfers made that local day, one line per booking, and the
  total per currency. A day without transfers sends nothing. The hourly run
  catches up after a missed hour; a day is looked back at for
  DIGEST_LOOKBACK_DAYS days, so a worker down overnight loses nothing.

Exactly once (bookwise.emails.send_email_once, the EmailLog unique key):

- enabled: ``<merchant>:<payouts_enabled_at>`` - one per time payouts were
  (re-)enabled;
- restricted: ``<merchant>:<payouts_enabled_at or 0>:<hash of what Stripe
  needs>`` - one per restriction episode and per distinct list of
  requirements, so a second `account.updated` with the same requirements
  sends nothing, and a new requirement sends a new email;
- transfers: ``<merchant>:<local date>``.

No business row is locked here: the tasks run after commit and only read.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from bookwise.emails import absolute_url, local_time_range, send_email_once
from bookwise.models import EmailKind, EmailLog
from bookwise.money import format_money
from bookwise.timezones import local_day_bounds
from merchants.models import Merchant
from payments.connect import requirement_words
from payments.models import ConnectedAccount, ConnectedAccountStatus, Transfer, TransferStatus

logger = logging.getLogger(__name__)

# The transfers summary of a local day goes out from this local hour of the next day.
DIGEST_LOCAL_HOUR = 7
# How many past local days a run still sends a missing summary for.
DIGEST_LOOKBACK_DAYS = 3
DIGEST_MAX_LINES = 500  # per email; a merchant with more sees the rest on the Payouts page


# --- Why Stripe paused the account, in words (what it needs: payments.connect.requirement_words) ----

_DISABLED_REASONS: dict[str, str] = {
    "requirements.past_due": "Some information is past due, so payouts are paused.",
    "requirements.pending_verification": "Stripe is verifying your information.",
    "under_review": "Stripe is reviewing your account.",
    "listed": "Stripe is reviewing your account.",
    "platform_paused": "Payouts are paused by the platform.",
    "rejected.fraud": "Stripe rejected the account.",
    "rejected.terms_of_service": "Stripe rejected the account.",
    "rejected.listed": "Stripe rejected the account.",
    "rejected.other": "Stripe rejected the account.",
}


def disabled_reason_in_words(reason: str) -> str:
    """Stripe's `requirements.disabled_reason` as a sentence ("" when there is none)."""
    if not reason:
        return ""
    return _DISABLED_REASONS.get(reason, f"Stripe paused the account ({reason}).")


# --- Context shared by the three emails ---------------------------------------------------------


def _payouts_url() -> str:
    return absolute_url(reverse("merchant:payouts"))


def _merchant_context(merchant: Merchant) -> dict[str, Any]:
    owner = merchant.owner
    return {
        "merchant": merchant,
        "owner_name": owner.full_name or owner.email,
        "payouts_url": _payouts_url(),
        "portal_url": absolute_url(reverse("merchant:home")),
    }


def _account(merchant_id: int) -> ConnectedAccount | None:
    return ConnectedAccount.objects.select_related("merchant__owner").filter(merchant_id=merchant_id).first()


def _moment(value: datetime | None) -> int:
    return int(value.timestamp()) if value else 0


# --- Payouts enabled ----------------------------------------------------------------------------


def send_payouts_enabled_email(*, merchant_id: int) -> bool:
    """Tell the merchant that Stripe now pays out to them. Idempotent; nothing unless payouts are enabled now."""
    account = _account(merchant_id)
    if account is None or not account.payouts_enabled or account.status != ConnectedAccountStatus.ENABLED:
        return False
    merchant = account.merchant
    return send_email_once(
        kind=EmailKind.PAYOUTS_ENABLED,
        key=f"{merchant.pk}:{_moment(account.payouts_enabled_at)}",
        to=merchant.owner.email,
        template="payouts_enabled",
        context={
            **_merchant_context(merchant),
            "account": account,
            "fee_percent": _percent(merchant.effective_fee_bps),
            "delay_hours": _delay_hours(),
        },
    )


def _percent(bps: int) -> str:
    """1000 -> "10", 1250 -> "12.5", 75 -> "0.75"."""
    whole, rest = divmod(bps, 100)
    return f"{whole}" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0")


def _delay_hours() -> int:
    return int(settings.PAYOUT_DELAY_HOURS)


# --- Account restricted -------------------------------------------------------------------------


def restricted_key(account: ConnectedAccount) -> str:
    """One key per restriction episode and list of what Stripe needs (see the module docstring)."""
    needs = "|".join([account.disabled_reason, *sorted(account.requirements_due)])
    digest = hashlib.sha256(needs.encode()).hexdigest()[:16]
    return f"{account.merchant_id}:{_moment(account.payouts_enabled_at)}:{digest}"


def send_payouts_restricted_email(*, merchant_id: int) -> bool:
    """Tell the merchant what Stripe needs before it pays out again. Idempotent; nothing unless restricted now."""
    account = _account(merchant_id)
    if account is None or account.status != ConnectedAccountStatus.RESTRICTED:
        return False
    merchant = account.merchant
    return send_email_once(
        kind=EmailKind.PAYOUTS_RESTRICTED,
        key=restricted_key(account),
        to=merchant.owner.email,
        template="payouts_restricted",
        context={
            **_merchant_context(merchant),
            "account": account,
            "needs": requirement_words(account.requirements_due),
            "reason": disabled_reason_in_words(account.disabled_reason),
        },
    )


# --- The daily transfers summary ----------------------------------------------------------------


@dataclass(frozen=True)
class TransferLine:
    """One booking's transfer as the merchant reads it."""

    transfer: Transfer
    theme: str
    when: str
    transferred_at: str  # "14:05", the merchant's wall clock
    amount: str
    reversed: bool


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    count: int
    total: str


def transfer_digest_key(merchant_id: int, day: date) -> str:
    return f"{merchant_id}:{day.isoformat()}"


def _due_days(merchant: Merchant, now: datetime) -> list[date]:
    """The merchant's past local days whose summary may go out now, oldest first."""
    local = timezone.localtime(now, merchant.tzinfo)
    yesterday = local.date() - timedelta(days=1)
    days = [yesterday - timedelta(days=n) for n in range(1, DIGEST_LOOKBACK_DAYS)]
    if local.hour >= DIGEST_LOCAL_HOUR:
        days.append(yesterday)
    return sorted(days)


def send_transfer_digests(*, now: datetime | None = None) -> int:
    """One email per merchant and local day listing that day's transfers. Safe to run twice and concurrently.

    Returns how many emails were sent. Merchants without a transfer in the
    window are never loaded; a day already summarised (its EmailLog key) is
    skipped before anything is rendered.
    """
    now = now or timezone.now()
    # Local days run from UTC-12 to UTC+14: this window holds every local day that can be due.
    since = now - timedelta(days=DIGEST_LOOKBACK_DAYS + 2)
    merchant_ids = sorted(
        Transfer.objects.filter(transferred_at__gte=since, transferred_at__lt=now)
        .order_by()
        .values_list("merchant_id", flat=True)
        .distinct()
    )
    sent = 0
    for merchant in Merchant.objects.filter(pk__in=merchant_ids).select_related("owner").order_by("pk"):
        days = _due_days(merchant, now)
        keys = {transfer_digest_key(merchant.pk, day): day for day in days}
        done = set(
            EmailLog.objects.filter(kind=EmailKind.PAYOUTS_TRANSFERS, key__in=list(keys)).values_list("key", flat=True)
        )
        for key, day in keys.items():
            if key in done:
                continue
            try:
                sent += send_transfer_digest(merchant=merchant, day=day)
            except Exception:
                # One merchant's failure (SMTP refused the address) must not hold back the others;
                # the next hourly run tries that day again.
                logger.exception("transfers summary for merchant %s on %s failed", merchant.pk, day)
    return sent


def transfer_lines_for(*, merchant: Merchant, day: date) -> list[TransferLine]:
    """The transfers made on the merchant's local `day` (paid, or reversed since), in the order they were made."""
    start, end = local_day_bounds(day=day, tz=merchant.tzinfo)
    transfers = (
        Transfer.objects.filter(
            merchant=merchant,
            transferred_at__gte=start,
            transferred_at__lt=end,
            status__in=[TransferStatus.PAID, TransferStatus.REVERSED],
        )
        .select_related("booking__slot__theme")
        .order_by("transferred_at", "id")[:DIGEST_MAX_LINES]
    )
    lines = []
    for transfer in transfers:
        slot = transfer.booking.slot
        assert transfer.transferred_at is not None  # filtered on it
        lines.append(
            TransferLine(
                transfer=transfer,
                theme=slot.theme.title,
                when=local_time_range(slot.starts_at, slot.ends_at, merchant.timezone),
                transferred_at=f"{timezone.localtime(transfer.transferred_at, merchant.tzinfo):%H:%M}",
                amount=format_money(transfer.amount, transfer.currency),
                reversed=transfer.status == TransferStatus.REVERSED,
            )
        )
    return lines


def currency_totals(lines: list[TransferLine]) -> list[CurrencyTotal]:
    """What reached the merchant per currency: the transfers that were not reversed."""
    sums: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for line in lines:
        if not line.reversed:
            sums[line.transfer.currency] += line.transfer.amount
            counts[line.transfer.currency] += 1
    return [CurrencyTotal(currency=c.upper(), count=counts[c], total=format_money(sums[c], c)) for c in sorted(sums)]


def send_transfer_digest(*, merchant: Merchant, day: date) -> bool:
    """The summary of the merchant's local `day`; nothing when no transfer was made that day."""
    lines = transfer_lines_for(merchant=merchant, day=day)
    if not lines:
        return False
    totals = currency_totals(lines)
    return send_email_once(
        kind=EmailKind.PAYOUTS_TRANSFERS,
        key=transfer_digest_key(merchant.pk, day),
        to=merchant.owner.email,
        template="payouts_transfers",
        context={**_merchant_context(merchant), "day": day, "lines": lines, "totals": totals},
    )
