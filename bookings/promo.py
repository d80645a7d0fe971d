"""Promo codes (API.md "Promo codes"): a merchant's codes, their discount, and exact redemption counts.

A code gives `percent_off` (1-100) or `amount_off` (minor units, in one
`currency`) off a booking's price, for every theme of its merchant or only the
themes listed, between `valid_from` and `valid_to` (either open), at most
`max_redemptions` times (empty: no limit), while `is_active`. Codes are
case-insensitive and unique per merchant (a database constraint on
`(merchant, UPPER(code))`).

The discount (`promo_discount`), decided once at the join and stored on the
booking as `Booking.discount`, `Booking.amount` being the price minus it:

- percent: `price x percent / 100`, rounded half-even to a whole minor unit
  (the rounding of refunds and fees too), so 15 % of 2999 cents is 450;
- amount: `amount_off`, never more than the price (a booking never goes below 0).

The price it applies to is bookings.pricing's (ticket tiers, peak slot prices,
private flat prices), so a discount combines with all of them. A discount to 0
confirms at once like a free booking. A later refund is a share of `amount`
(what was paid) and the platform fee is taken on `amount` (payments.ledger).

Counting, exact under any concurrency:

- a join counts its redemption with ONE conditional UPDATE (`promo_redeem`),
  `redemptions = redemptions + 1 WHERE active AND in dates AND (no max OR
  redemptions < max)`, inside the join's transaction: PostgreSQL re-checks the
  WHERE on the newest row after waiting for a concurrent redeemer, so the last
  redemption goes to exactly one join; a CheckConstraint (redemptions <= max)
  backs it up. The promo row is the last lock a join takes (customer > slot >
  bookings > promo code), held until the join commits;
- a hold that ends unpaid (pending_payment -> expired or cancelled; also a
  booking made free by its code and cancelled) gives its redemption back
  (`promo_follow_transition`, `promo_give_back_expired`): a conditional
  decrement, never below 0, made in the transaction that moves the booking,
  so exactly once per booking;
- a late payment that confirms a hold already expired (bookings.services
  `booking_confirm_payment`) counts the redemption again if the code has room
  left; if it is used up meanwhile, the customer has paid the discounted price
  all the same and the count stays at `max_redemptions` (one more booking than
  the maximum carries the code: the count never passes the maximum).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest, Upper
from django.utils import timezone

from bookings.models import Booking, BookingStatus, PromoCode
from bookings.pricing import Ticket, booking_price
from bookwise import money
from bookwise.errors import DomainError, InvalidInput
from bookwise.transactions import require_atomic
from catalog.limits import MAX_PRICE
from catalog.models import Slot, Theme
from merchants.models import Merchant

PROMO_CODE_PATTERN = r"^[A-Za-z0-9_-]{3,40}$"
PROMO_CODE_HELP = "3-40 letters, digits, '-' or '_'; case-insensitive, unique among your codes."
MAX_REDEMPTIONS = 1_000_000

# The words a customer reads when a code is refused (409 promo_invalid).
UNKNOWN = "Unknown code: check its spelling."
PAUSED = "This code is not active at the moment."
NOT_YET = "This code is not valid yet."
EXPIRED = "This code has expired."
USED_UP = "This code has been used up."
NOT_HERE = "This code is not valid for this experience."

_UPDATABLE = frozenset({"is_active", "valid_to", "max_redemptions"})
_code_re = re.compile(PROMO_CODE_PATTERN)


def _invalid(message: str) -> DomainError:
    return DomainError("promo_invalid", message)


# --- Merchant side: create and change -----------------------------------------------------------


def promo_code_create(
    *,
    merchant: Merchant,
    code: str,
    percent_off: int | None = None,
    amount_off: int | None = None,
    currency: str = "",
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    max_redemptions: int | None = None,
    themes: Iterable[int | Theme] = (),
    is_active: bool = True,
) -> PromoCode:
    """Create a code for `merchant`. InvalidInput (400) for a bad field; 409 `promo_code_exists` for a duplicate.

    `themes`: ids (or Theme rows) of the merchant's own themes; empty means every theme.
    `currency` is required with `amount_off` (a supported currency) and ignored with `percent_off`.
    """
    code = (code or "").strip()
    if not _code_re.match(code):
        raise InvalidInput("invalid_code", f"A code is {PROMO_CODE_HELP}", field="code")
    if (percent_off is None) == (amount_off is None):
        raise InvalidInput("invalid_discount", "Give either percent_off or amount_off, not both.", field="percent_off")
    if percent_off is not None:
        if isinstance(percent_off, bool) or not 1 <= percent_off <= 100:
            raise InvalidInput("invalid_discount", "percent_off must be between 1 and 100.", field="percent_off")
        currency = ""
    else:
        assert amount_off is not None
        if isinstance(amount_off, bool) or not 1 <= amount_off <= MAX_PRICE:
            raise InvalidInput(
                "invalid_discount", f"amount_off must be between 1 and {MAX_PRICE} minor units.", field="amount_off"
            )
        try:
            currency = money.normalize_currency(currency)
        except money.UnsupportedCurrency as exc:
            raise InvalidInput("unsupported_currency", str(exc), field="currency") from None
    _check_dates(valid_from, valid_to)
    _check_max(max_redemptions, redemptions=0)
    theme_ids = sorted({t.pk if isinstance(t, Theme) else int(t) for t in themes})
    if theme_ids:
        owned = set(Theme.objects.filter(merchant=merchant, pk__in=theme_ids).values_list("pk", flat=True))
        if owned != set(theme_ids):
            missing = ", ".join(str(pk) for pk in theme_ids if pk not in owned)
            raise InvalidInput("invalid_themes", f"Not one of your themes: {missing}.", field="themes")
    with transaction.atomic():
        if _find(merchant_id=merchant.pk, code=code) is not None:
            raise _exists(code)
        try:
            with transaction.atomic():
                promo = PromoCode.objects.create(
                    merchant=merchant,
                    code=code,
                    percent_off=percent_off,
                    amount_off=amount_off,
                    currency=currency,
                    valid_from=valid_from,
                    valid_to=valid_to,
                    max_redemptions=max_redemptions,
                    is_active=is_active,
                )
        except IntegrityError:
            # promo_code_unique_per_merchant_ci: the same code created concurrently.
            raise _exists(code) from None
        if theme_ids:
            promo.themes.set(theme_ids)
    return promo


def _exists(code: str) -> DomainError:
    return DomainError("promo_code_exists", f"You already have a promo code {code.upper()} (codes ignore case).")


def _check_dates(valid_from: datetime | None, valid_to: datetime | None) -> None:
    if valid_from is not None and valid_to is not None and valid_from >= valid_to:
        raise InvalidInput("invalid_dates", "valid_to must be after valid_from.", field="valid_to")


def _check_max(max_redemptions: int | None, *, redemptions: int) -> None:
    if max_redemptions is None:
        return
    if isinstance(max_redemptions, bool) or not 1 <= max_redemptions <= MAX_REDEMPTIONS:
        raise InvalidInput(
            "invalid_max_redemptions",
            f"max_redemptions must be between 1 and {MAX_REDEMPTIONS}, or empty for no limit.",
            field="max_redemptions",
        )
    if max_redemptions < redemptions:
        raise InvalidInput(
            "max_below_redemptions",
            f"This code was already redeemed {redemptions} times: the maximum cannot be lower.",
            field="max_redemptions",
        )


def promo_code_update(*, code: PromoCode, **fields: Any) -> PromoCode:
    """Change `is_active` (pause or resume), `valid_to` and `max_redemptions` (None: no end, no limit).

    Under the promo row lock, so a maximum is never set below the redemptions
    counted (400 `max_below_redemptions`), whatever joins run meanwhile.
    """
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise InvalidInput("invalid_field", f"Only {', '.join(sorted(_UPDATABLE))} can be changed.", field=None)
    with transaction.atomic():
        promo = PromoCode.objects.select_for_update().get(pk=code.pk)
        if "valid_to" in fields:
            _check_dates(promo.valid_from, fields["valid_to"])
        if "max_redemptions" in fields:
            _check_max(fields["max_redemptions"], redemptions=promo.redemptions)
        changed = [name for name, value in fields.items() if getattr(promo, name) != value]
        for name in changed:
            setattr(promo, name, fields[name])
        if changed:
            promo.save(update_fields=[*changed, "updated_at"])
    return promo


# --- Customer side: quote and redeem ------------------------------------------------------------


def _find(*, merchant_id: int, code: str) -> PromoCode | None:
    """The merchant's code, any case (the (merchant, UPPER(code)) unique index answers it)."""
    return (
        PromoCode.objects.annotate(code_upper=Upper("code"))
        .filter(merchant_id=merchant_id, code_upper=(code or "").strip().upper())
        .first()
    )


def _dates_refusal(promo: PromoCode, now: datetime) -> str | None:
    if promo.valid_from is not None and now < promo.valid_from:
        return NOT_YET
    if promo.valid_to is not None and now >= promo.valid_to:
        return EXPIRED
    return None


def _refusal(promo: PromoCode, *, theme_id: int, currency: str, now: datetime) -> str | None:
    """Why `promo` cannot be used on a booking of `theme_id` at `now`; None when it can (room aside, see below)."""
    if not promo.is_active:
        return PAUSED
    dates = _dates_refusal(promo, now)
    if dates:
        return dates
    restricted = list(promo.themes.values_list("pk", flat=True))
    if restricted and theme_id not in restricted:
        return NOT_HERE
    if promo.amount_off is not None and promo.currency != (currency or "").lower():
        return f"This code only applies to prices in {promo.currency.upper()}."
    if promo.max_redemptions is not None and promo.redemptions >= promo.max_redemptions:
        return USED_UP
    return None


def promo_find(*, merchant_id: int, theme_id: int, code: str, currency: str, now: datetime | None = None) -> PromoCode:
    """The code a customer typed for a booking of `theme_id` (of `merchant_id`), or 409 `promo_invalid` in words.

    A read: nothing is counted (the join's `promo_redeem` does, under the lock).
    Used by the join and by the booking form's preview ("Apply").
    """
    now = now or timezone.now()
    promo = _find(merchant_id=merchant_id, code=code)
    if promo is None:
        # Another merchant's code: it exists, but not for this experience.
        other = PromoCode.objects.annotate(code_upper=Upper("code")).filter(code_upper=(code or "").strip().upper())
        raise _invalid(NOT_HERE if other.exists() else UNKNOWN)
    refusal = _refusal(promo, theme_id=theme_id, currency=currency, now=now)
    if refusal:
        raise _invalid(refusal)
    return promo


def promo_discount(*, promo: PromoCode, amount: int) -> int:
    """What `promo` takes off a price of `amount` minor units: a percent rounded half-even, or amount_off, <= amount."""
    if amount <= 0:
        return 0
    if promo.percent_off is not None:
        share = (Decimal(amount) * Decimal(promo.percent_off) / Decimal(100)).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return max(0, min(int(share), amount))
    return min(int(promo.amount_off or 0), amount)


@dataclass(frozen=True)
class PromoQuote:
    """A price with a code applied (the booking form's preview and the join agree: both use `promo_discount`)."""

    promo: PromoCode
    price: int
    discount: int

    @property
    def total(self) -> int:
        return self.price - self.discount


def promo_quote(
    *, merchant_id: int, theme_id: int, code: str, currency: str, price: int, now: datetime | None = None
) -> PromoQuote:
    """The discount a code would give on `price` now, or 409 `promo_invalid`. Counts nothing."""
    promo = promo_find(merchant_id=merchant_id, theme_id=theme_id, code=code, currency=currency, now=now)
    return PromoQuote(promo=promo, price=price, discount=promo_discount(promo=promo, amount=price))


def promo_quote_for_join(
    *,
    slot_id: int,
    code: str,
    party_size: int | None = None,
    tickets: list[Ticket] | None = None,
    now: datetime | None = None,
) -> PromoQuote:
    """The booking form's "Apply": the join's price (bookings.pricing) with the code, before anything is held.

    Raises what the join would: InvalidInput for the party or tickets, 409
    `promo_invalid` for the code. Counts nothing; the join checks it all again.
    """
    slot = Slot.objects.select_related("theme").get(pk=slot_id)
    price = booking_price(slot=slot, party_size=party_size, tickets=tickets)
    theme = slot.theme
    return promo_quote(
        merchant_id=theme.merchant_id,
        theme_id=theme.pk,
        code=code,
        currency=theme.currency,
        price=price.amount,
        now=now,
    )


def _room_q(now: datetime) -> Q:
    return (
        Q(is_active=True)
        & (Q(max_redemptions__isnull=True) | Q(redemptions__lt=F("max_redemptions")))
        & (Q(valid_from__isnull=True) | Q(valid_from__lte=now))
        & (Q(valid_to__isnull=True) | Q(valid_to__gt=now))
    )


def promo_redeem(*, promo: PromoCode, theme_id: int, currency: str, now: datetime) -> None:
    """Count one redemption of `promo` (found by `promo_find`) for the join in progress, or 409 `promo_invalid`.

    One conditional UPDATE (see the module docstring); it takes the promo row
    lock, the join's last, held until the join commits or rolls back. When no
    row matches (used up, paused or expired since it was found), the row is
    read again to say why.
    """
    require_atomic()
    counted = PromoCode.objects.filter(_room_q(now), pk=promo.pk).update(
        redemptions=F("redemptions") + 1, updated_at=now
    )
    if counted != 1:
        promo.refresh_from_db()
        raise _invalid(_refusal(promo, theme_id=theme_id, currency=currency, now=now) or USED_UP)
    promo.refresh_from_db(fields=["redemptions"])


def promo_give_back(*, promo_id: int, count: int = 1, now: datetime | None = None) -> None:
    """Give back `count` redemptions of a code: a conditional decrement, never below 0.

    Caller holds the lock of the booking(s) whose hold ended unpaid.
    """
    require_atomic()
    if count <= 0:
        return
    PromoCode.objects.filter(pk=promo_id, redemptions__gt=0).update(
        redemptions=Greatest(F("redemptions") - count, Value(0)), updated_at=now or timezone.now()
    )


def promo_recount(*, promo_id: int, now: datetime | None = None) -> bool:
    """Count again the redemption of a hold that expired and was then paid (a late payment), if room is left.

    Only the maximum is checked (the customer already paid the discounted
    price; dates and pauses no longer matter). False when the code is used up:
    the count stays at its maximum. Caller holds the booking lock.
    """
    require_atomic()
    counted = (
        PromoCode.objects.filter(pk=promo_id)
        .filter(Q(max_redemptions__isnull=True) | Q(redemptions__lt=F("max_redemptions")))
        .update(redemptions=F("redemptions") + 1, updated_at=now or timezone.now())
    )
    return counted == 1


def promo_follow_transition(*, booking: Booking, from_status: str, to_status: str, now: datetime | None = None) -> None:
    """Keep the code's count right when a booking with a code changes status (bookings.services._transition).

    An unpaid end (pending_payment -> expired or cancelled, or a booking made
    free by its code and cancelled) gives the redemption back; a late payment
    (expired -> confirmed) counts it again if room is left. Each move happens
    once per booking (guarded transitions under the booking row lock), so
    each redemption is given back at most once.
    """
    require_atomic()
    if booking.promo_code_id is None:
        return
    unpaid_end = to_status in (BookingStatus.EXPIRED, BookingStatus.CANCELLED) and (
        from_status == BookingStatus.PENDING_PAYMENT or (from_status == BookingStatus.CONFIRMED and booking.amount == 0)
    )
    if unpaid_end:
        promo_give_back(promo_id=booking.promo_code_id, now=now)
    elif from_status == BookingStatus.EXPIRED and to_status == BookingStatus.CONFIRMED:
        promo_recount(promo_id=booking.promo_code_id, now=now)


def promo_give_back_expired(*, booking_ids: Sequence[int], now: datetime | None = None) -> None:
    """The expiry sweep's give-back: the holds `booking_ids`, locked by the caller and about to expire.

    One decrement per code (by the number of its holds), codes in pk order so
    two sweeps never wait on each other's code rows in a cycle. Call it before
    the sweep's UPDATE, while the rows still read pending_payment.
    """
    require_atomic()
    per_code = (
        Booking.objects.filter(pk__in=booking_ids, status=BookingStatus.PENDING_PAYMENT, promo_code__isnull=False)
        .values("promo_code_id")
        .annotate(n=Count("pk"))
        .order_by("promo_code_id")
    )
    for row in per_code:
        promo_give_back(promo_id=row["promo_code_id"], count=row["n"], now=now)


# --- Reads for the merchant's pages and the API -------------------------------------------------


def promo_codes_annotated() -> QuerySet[PromoCode]:
    """Every code, newest first, each with `revenue` and its `themes` prefetched (scope it: `promo_codes_of`).

    `revenue`: what customers paid with the code and were not refunded, the sum
    of `amount - refunded_amount` over its bookings that were ever confirmed
    (`confirmed_at` set: paid, or free); unpaid holds and late payments that
    were refunded in full count nothing.
    """
    return (
        PromoCode.objects.annotate(
            revenue=Sum(
                F("bookings__amount") - F("bookings__refunded_amount"),
                filter=Q(bookings__confirmed_at__isnull=False),
                default=0,
            ),
            # A code's bookings share their theme's currency; a merchant selling in several gets one of them.
            revenue_currency=Max("bookings__currency", filter=Q(bookings__confirmed_at__isnull=False)),
        )
        .prefetch_related("themes")
        .order_by("-created_at", "-id")
    )


def promo_codes_of(*, merchant: Merchant) -> QuerySet[PromoCode]:
    """A merchant's codes with their revenue (`promo_codes_annotated`)."""
    return promo_codes_annotated().filter(merchant=merchant)
