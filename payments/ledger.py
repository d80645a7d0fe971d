"""The merchants' money: fee arithmetic and the append-only ledger (payments.models.LedgerEntry).

Every movement of a merchant's money is one LedgerEntry row, signed from the
merchant's side, in minor units of its currency:

=====================  ========================================  ===================================
kind                   written when                              key (idempotency)
=====================  ========================================  ===================================
``charge`` (+)         the payment succeeds                      ``charge:payment:<payment id>``
``fee`` (-)            the same moment, at the merchant's        ``fee:payment:<payment id>``
                       ``effective_fee_bps`` *then*
``refund`` (-)         a Refund row is recorded                  ``refund:<refund id>``
``fee`` (+)            the same moment: the fee share of the     ``fee-back:<refund id>``
                       refunded money comes back
``transfer`` (-)       the Stripe Transfer exists                ``transfer:<transfer id>``
``transfer_reversal``  the Stripe reversal exists                ``transfer-reversal:<transfer id>``
(+)
=====================  ========================================  ===================================

A booking earns its merchant :func:`booking_net` (charge + fee + refund
entries); what the platform still owes a merchant is the sum of all its
entries. Balances are such sums, never stored counters.

Why integers only: amounts are already in the currency's minor unit as Stripe
counts it (cents for USD, yen for JPY, which has no minor unit), so a fee
computed in integers is right for zero-decimal currencies by construction;
there is no float and no decimal point to place. Rounding is half-even
(banker's rounding), so ties do not always favour one side.

Every writer here relies on its caller's transaction (``require_atomic``) and
is idempotent: a second call with the same object finds its key and writes
nothing (the unique ``key`` is the backstop under concurrency).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Sum
from django.utils import timezone

from bookwise.transactions import require_atomic
from payments.models import Dispute, LedgerEntry, LedgerKind, Payment, PaymentStatus, Refund, Transfer

BPS_DENOMINATOR = 10_000
# The entries that make what one booking earns its merchant (transfers only move it).
NET_KINDS = (LedgerKind.CHARGE, LedgerKind.FEE, LedgerKind.REFUND)


def _divide_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even, in integers (both >= 0, denominator > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def fee_amount(*, amount: int, fee_bps: int) -> int:
    """The platform fee on `amount` minor units at `fee_bps` basis points, rounded half-even. Integers only.

    Right for zero-decimal currencies by construction (see the module docstring):
    1,999 JPY at 1,000 bps is 200 JPY (199.9 rounded), not 199.90.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    if not 0 <= fee_bps <= BPS_DENOMINATOR:
        raise ValueError("fee_bps must be between 0 and 10000")
    return _divide_half_even(amount * fee_bps, BPS_DENOMINATOR)


def fee_kept(*, fee: int, paid: int, remaining: int) -> int:
    """The part of a charged `fee` the platform keeps once only `remaining` of `paid` is kept. Half-even.

    The fee given back by a refund is ``fee_kept(before) - fee_kept(after)``,
    computed from the cumulative refunded total each time, so a sequence of
    partial refunds never drifts by rounding and a full refund gives the whole
    fee back (``remaining == 0`` keeps nothing). Proportional to the fee that
    was actually charged, so it does not depend on the merchant's fee today.
    """
    if paid <= 0 or remaining >= paid:
        return fee
    if remaining <= 0:
        return 0
    return _divide_half_even(fee * remaining, paid)


def _merchant_id_of(payment: Payment) -> int:
    return int(payment.booking.slot.theme.merchant_id)


def _append(
    *,
    key: str,
    payment: Payment,
    kind: LedgerKind,
    amount: int,
    now: datetime,
    stripe_id: str = "",
    merchant_id: int | None = None,
) -> LedgerEntry:
    """Insert an entry once: a second call with the same key returns the first (get_or_create on the unique key)."""
    entry, _ = LedgerEntry.objects.get_or_create(
        key=key,
        defaults={
            "merchant_id": merchant_id if merchant_id is not None else _merchant_id_of(payment),
            "booking_id": payment.booking_id,
            "kind": kind,
            "amount": amount,
            "currency": payment.currency,
            "stripe_id": stripe_id,
            "created_at": now,
        },
    )
    return entry


def charge_key(payment_id: int) -> str:
    return f"charge:payment:{payment_id}"


def fee_key(payment_id: int) -> str:
    return f"fee:payment:{payment_id}"


def ledger_record_charge(*, payment: Payment, now: datetime | None = None) -> None:
    """Record a succeeded payment: its gross as a ``charge`` and the platform fee as a ``fee`` entry. Idempotent.

    The fee is the merchant's ``effective_fee_bps`` at this moment (the
    confirmation), never recomputed later: a fee change applies to bookings
    paid after it. Caller holds the payment row lock inside a transaction.
    """
    require_atomic()
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
        raise ValueError(f"payment {payment.pk} did not succeed: no charge to record")
    if LedgerEntry.objects.filter(key=fee_key(payment.pk)).exists():
        return
    now = now or timezone.now()
    merchant = payment.booking.slot.theme.merchant
    _append(
        key=charge_key(payment.pk),
        payment=payment,
        kind=LedgerKind.CHARGE,
        amount=payment.amount,
        now=now,
        stripe_id=payment.stripe_charge_id,
        merchant_id=merchant.pk,
    )
    fee = fee_amount(amount=payment.amount, fee_bps=merchant.effective_fee_bps)
    _append(
        key=fee_key(payment.pk), payment=payment, kind=LedgerKind.FEE, amount=-fee, now=now, merchant_id=merchant.pk
    )


def ledger_record_refund(*, refund: Refund, now: datetime | None = None) -> None:
    """Record a refund (``refund``, -amount) and the fee share of the refunded money (``fee``, +). Idempotent.

    fee back = fee kept on what was kept before this refund - fee kept on what
    is kept after it (:func:`fee_kept`, from cumulative totals): after a full
    refund the booking nets exactly 0. Records the payment's charge first when
    it is missing (a payment that succeeded before the ledger existed). Caller
    holds the payment row lock inside a transaction.
    """
    require_atomic()
    _record_money_back(
        payment=refund.payment,
        amount=refund.amount,
        key=f"refund:{refund.pk}",
        fee_back_key=f"fee-back:{refund.pk}",
        stripe_id=refund.stripe_refund_id,
        now=now,
    )


def ledger_record_dispute_lost(*, dispute: Dispute, now: datetime | None = None) -> None:
    """A dispute lost: the card network took the disputed money back, so the booking earns that much less.

    Recorded like a refund (``refund`` -amount, ``fee`` + its share), so the
    merchant is no longer owed money the platform does not hold; a transfer
    already made was reversed when the dispute opened. Idempotent. Caller holds
    the payment row lock inside a transaction.
    """
    require_atomic()
    _record_money_back(
        payment=dispute.payment,
        amount=dispute.amount,
        key=f"dispute:{dispute.pk}",
        fee_back_key=f"fee-back:dispute:{dispute.pk}",
        stripe_id=dispute.stripe_dispute_id,
        now=now,
        cap_at_remaining=True,
    )


def _record_money_back(
    *,
    payment: Payment,
    amount: int,
    key: str,
    fee_back_key: str,
    stripe_id: str,
    now: datetime | None,
    cap_at_remaining: bool = False,
) -> None:
    """Money that left the platform for the customer: `refund` -amount and the fee share given back (+).

    `cap_at_remaining`: take at most what the booking still holds (a dispute's
    amount is Stripe's, which never counts our own earlier refunds twice but
    may round differently); a refund beyond it is a bug and raises.
    """
    if LedgerEntry.objects.filter(key=fee_back_key).exists():
        return
    now = now or timezone.now()
    ledger_record_charge(payment=payment, now=now)
    merchant_id = _merchant_id_of(payment)
    entries = LedgerEntry.objects.filter(booking_id=payment.booking_id)
    charged_fee = -int(entries.filter(key=fee_key(payment.pk)).values_list("amount", flat=True).get())
    earlier_refunds = entries.filter(kind=LedgerKind.REFUND).exclude(key=key)
    refunded_before = -int(earlier_refunds.aggregate(total=Sum("amount"))["total"] or 0)
    if cap_at_remaining:
        amount = min(amount, payment.amount - refunded_before)
    refunded_after = refunded_before + amount
    if refunded_after > payment.amount:
        raise ValueError(f"{key} would give back {refunded_after} of a payment of {payment.amount}")
    fee_back = fee_kept(fee=charged_fee, paid=payment.amount, remaining=payment.amount - refunded_before) - fee_kept(
        fee=charged_fee, paid=payment.amount, remaining=payment.amount - refunded_after
    )
    _append(
        key=key,
        payment=payment,
        kind=LedgerKind.REFUND,
        amount=-amount,
        now=now,
        stripe_id=stripe_id,
        merchant_id=merchant_id,
    )
    _append(key=fee_back_key, payment=payment, kind=LedgerKind.FEE, amount=fee_back, now=now, merchant_id=merchant_id)


def ledger_record_transfer(*, transfer: Transfer, now: datetime | None = None) -> None:
    """The booking's net left for the merchant's account (``transfer``, -amount). Idempotent.

    Caller holds the payment and transfer row locks inside the transaction that marks the transfer paid.
    """
    require_atomic()
    LedgerEntry.objects.get_or_create(
        key=f"transfer:{transfer.pk}",
        defaults={
            "merchant_id": transfer.merchant_id,
            "booking_id": transfer.booking_id,
            "kind": LedgerKind.TRANSFER,
            "amount": -transfer.amount,
            "currency": transfer.currency,
            "stripe_id": transfer.stripe_transfer_id,
            "created_at": now or timezone.now(),
        },
    )


def ledger_record_transfer_reversal(*, transfer: Transfer, now: datetime | None = None) -> None:
    """A transfer came back from the merchant's account (``transfer_reversal``, +amount). Idempotent.

    Caller holds the payment and transfer row locks inside the transaction that marks the transfer reversed.
    """
    require_atomic()
    LedgerEntry.objects.get_or_create(
        key=f"transfer-reversal:{transfer.pk}",
        defaults={
            "merchant_id": transfer.merchant_id,
            "booking_id": transfer.booking_id,
            "kind": LedgerKind.TRANSFER_REVERSAL,
            "amount": transfer.amount,
            "currency": transfer.currency,
            "stripe_id": transfer.stripe_reversal_id,
            "created_at": now or timezone.now(),
        },
    )


def booking_net(*, booking_id: int) -> int:
    """What a booking earns its merchant: its charge, fee and refund entries (transfers only move the money)."""
    total = LedgerEntry.objects.filter(booking_id=booking_id, kind__in=NET_KINDS).aggregate(total=Sum("amount"))
    return int(total["total"] or 0)
