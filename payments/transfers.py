"""Paying merchants: one Stripe Transfer per booking after the experience, reversals, disputes.

The flow
--------
1. :func:`transfers_record_due` (Celery beat ``transfer-due-bookings``, every
   ``PAYOUT_SWEEP_SECONDS``) claims the payments of bookings whose slot ended
   more than ``PAYOUT_DELAY_HOURS`` ago, still paid (confirmed, attended or
   no-show; payment succeeded; no refund; no dispute), not yet transferred,
   whose merchant's connected account has ``payouts_enabled``. It claims them
   with ``SELECT ... FOR UPDATE SKIP LOCKED`` on the payment rows, so two
   sweeps never wait for each other nor take the same booking, and records one
   ``pending`` Transfer per booking (amount = the booking's net from the ledger,
   key ``transfer-booking-<booking id>``) with its task queued through the
   outbox in the same transaction. A merchant without payouts accumulates
   owed money (the ledger); the first sweep after its account is enabled
   records all of it.
2. :func:`transfer_process` (``payments.tasks.process_transfer``) re-checks the
   booking under the payment row lock, calls Stripe ``POST /v1/transfers``
   outside any lock with the transfer's own idempotency key, then marks it
   ``paid`` and writes the ``transfer`` ledger entry in one transaction. Stripe
   unreachable: StripeUnavailable, the task retries with the same key; Stripe
   refusing: ``failed`` + ``last_error``, an admin retries (:func:`transfer_retry`).
3. Reversals: :func:`transfer_reverse` records the wish (an outbox row for
   ``payments.tasks.reverse_transfer``); :func:`transfer_reversal_process`
   calls ``POST /v1/transfers/<id>/reversals`` (key ``reversal-transfer-<id>``)
   and records ``reversed`` + the ``transfer_reversal`` entry. A refund of a
   transferred booking (admin only) reverses first: payments.services.refund_process
   calls :func:`transfer_block_refund` before sending the refund.
4. Webhooks (payments/webhooks.py): ``charge.dispute.created``/``closed``
   (:func:`dispute_apply_event`) record the Dispute and reverse a paid transfer;
   ``transfer.created``/``transfer.reversed`` (:func:`transfer_apply_event`)
   reconcile our row with Stripe (an answer lost on the way). Each re-reads the
   object from Stripe; the payload only names it.

Lock order (after payments.services'): payment row, refund rows, dispute row,
transfer row. Stripe is never called while one is held.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from stripe.params import TransferCreateParams

from bookings.models import BookingStatus
from bookwise import outbox
from payments.gateway import StripeUnavailable, error_text, is_transient, stripe_client
from payments.ledger import (
    NET_KINDS,
    booking_net,
    ledger_record_charge,
    ledger_record_dispute_lost,
    ledger_record_transfer,
    ledger_record_transfer_reversal,
)
from payments.models import (
    ConnectedAccount,
    Dispute,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    Transfer,
    TransferStatus,
)

logger = logging.getLogger(__name__)

# Dispatched by name through bookwise.outbox: a domain module imports no tasks module.
PROCESS_TRANSFER_TASK = "payments.tasks.process_transfer"
REVERSE_TRANSFER_TASK = "payments.tasks.reverse_transfer"
# Payments claimed per transaction by the sweep.
SWEEP_BATCH = 200

# Bookings whose money is the merchant's once the experience is over.
# A cancelled booking still earns its merchant what the cancellation policy kept (its net after the refund).
TRANSFERABLE_BOOKING_STATUSES = (
    BookingStatus.CONFIRMED,
    BookingStatus.ATTENDED,
    BookingStatus.NO_SHOW,
    BookingStatus.CANCELLED,
)
# Stripe's dispute statuses once it is decided; "won" leaves the money with the merchant.
DISPUTE_CLOSED_STATUSES = frozenset({"won", "lost", "warning_closed"})
DISPUTE_KEEPS_MONEY = frozenset({"won", "warning_closed"})


class TransferInFlight(StripeUnavailable):
    """A refund waits: the booking's transfer may be on its way to Stripe. Retried like an outage."""


def transfer_idempotency_key(booking_id: int) -> str:
    return f"transfer-booking-{booking_id}"


def reversal_idempotency_key(transfer_id: int) -> str:
    return f"reversal-transfer-{transfer_id}"


def transfer_group(booking_id: int) -> str:
    return f"booking-{booking_id}"


# --- The sweep --------------------------------------------------------------------------------


def _open_disputes(payment_id: Any) -> QuerySet[Dispute]:
    """Disputes of a payment not decided in the merchant's favour: its money may go back to the customer."""
    return Dispute.objects.filter(payment_id=payment_id).exclude(status__in=DISPUTE_KEEPS_MONEY)


def transfers_record_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Record (and queue) the transfers of due bookings; the number recorded. Safe to run twice and concurrently.

    Claims payment rows with FOR UPDATE SKIP LOCKED: a row another sweep (or a
    refund, which locks it too) holds is left for the next run. The booking's
    Transfer row (one-to-one) is the arbiter; it is re-checked after the claim,
    because a row claimed just after another sweep committed is not re-filtered
    by PostgreSQL. Opens its own transaction.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.PAYOUT_DELAY_HOURS)
    entries = LedgerEntry.objects.filter(booking_id=OuterRef("booking_id"))
    net = Subquery(
        entries.filter(kind__in=NET_KINDS).values("booking_id").annotate(total=Sum("amount")).values("total")
    )
    due_ids = (
        Payment.objects.filter(
            status=PaymentStatus.SUCCEEDED,
            booking__status__in=TRANSFERABLE_BOOKING_STATUSES,
            booking__slot__ends_at__lte=cutoff,
            booking__slot__theme__merchant__connected_account__payouts_enabled=True,
        )
        .exclude(Exists(Transfer.objects.filter(booking_id=OuterRef("booking_id"))))
        # The ledger has every recorded refund; one still on its way to Stripe could yet reverse a transfer.
        .exclude(Exists(Refund.objects.filter(payment_id=OuterRef("pk"), status=RefundStatus.PENDING)))
        .exclude(Exists(_open_disputes(OuterRef("pk"))))
        .alias(net=Coalesce(net, 0))
        # A payment from before the ledger has no entries yet: its charge is recorded when claimed.
        .filter(Q(net__gt=0) | ~Exists(entries.filter(kind=LedgerKind.CHARGE)))
        .values("pk")
    )
    recorded = 0
    with transaction.atomic():
        claimed = list(
            Payment.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk__in=due_ids)
            .select_related("booking__slot__theme__merchant__connected_account")
            .order_by("pk")[:limit]
        )
        for payment in claimed:
            if _record_transfer(payment=payment, now=now) is not None:
                recorded += 1
    if recorded:
        logger.info("recorded %s transfers", recorded)
    return recorded


def _record_transfer(*, payment: Payment, now: datetime) -> Transfer | None:
    """One booking's transfer. Caller holds the payment row lock inside a transaction."""
    booking = payment.booking
    if Transfer.objects.filter(booking_id=booking.pk).exists():
        return None  # recorded by a sweep that committed after our query
    if payment.refunds.filter(status=RefundStatus.PENDING).exists() or _open_disputes(payment.pk).exists():
        return None
    ledger_record_charge(payment=payment, now=now)  # no-op unless the payment predates the ledger
    net = booking_net(booking_id=booking.pk)
    if net <= 0:
        return None
    merchant = booking.slot.theme.merchant
    account = ConnectedAccount.objects.get(merchant_id=merchant.pk)
    transfer = Transfer.objects.create(
        booking=booking,
        merchant=merchant,
        account=account,
        amount=min(net, payment.amount),
        currency=payment.currency,
        idempotency_key=transfer_idempotency_key(booking.pk),
    )
    outbox.enqueue(PROCESS_TRANSFER_TASK, transfer.pk)
    return transfer


# --- Sending a transfer -----------------------------------------------------------------------


def _lock(transfer_id: int) -> tuple[Payment, Transfer] | None:
    """The booking's payment row, then the transfer row: the lock order. Caller holds the transaction."""
    booking_id = Transfer.objects.filter(pk=transfer_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        return None
    payment = Payment.objects.select_for_update(of=("self",)).get(booking_id=booking_id)
    transfer = Transfer.objects.select_for_update(of=("self",)).select_related("account").get(pk=transfer_id)
    return payment, transfer


def _why_not_send(payment: Payment, transfer: Transfer) -> str:
    """Why the booking's money must not go to the merchant ("" when it may). Caller holds the payment lock."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return f"the payment is {payment.status}"
    if payment.refunds.filter(status=RefundStatus.PENDING).exists():
        return "a refund of the booking is on its way"
    if _open_disputes(payment.pk).exists():
        return "the payment is disputed"
    net = booking_net(booking_id=payment.booking_id)
    if transfer.amount > net:
        return f"the booking now nets {net}, less than the {transfer.amount} recorded"
    return ""


def _money_must_come_back(payment: Payment) -> str:
    """Why a paid transfer must be reversed ("" when it stays). Caller holds the payment lock."""
    if booking_net(booking_id=payment.booking_id) < transfer_amount_of(payment):
        return "refund"  # money went back to the customer after the transfer: the merchant returns it
    if _open_disputes(payment.pk).exists():
        return "dispute"
    return ""


def transfer_amount_of(payment: Payment) -> int:
    """What was transferred for the payment's booking (0 when nothing was)."""
    transfer = Transfer.objects.filter(booking_id=payment.booking_id).only("amount").first()
    return transfer.amount if transfer is not None else 0


def transfer_process(*, transfer_id: int, now: datetime | None = None) -> Transfer | None:
    """Send a recorded transfer to Stripe and record the answer. Idempotent; raises StripeUnavailable.

    Runs in payments.tasks.process_transfer. The booking is re-checked under the
    payment row lock first (never for a refunded or disputed booking, never
    more than its net); the Stripe call runs between two short transactions,
    with the transfer's own idempotency key, so a retry after a lost answer
    gets the same Stripe Transfer back. Stripe refusing the transfer marks it
    ``failed`` with Stripe's reason (an admin retries it).
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(transfer_id)
        if locked is None:
            return None
        payment, transfer = locked
        if transfer.status != TransferStatus.PENDING:
            return transfer  # done, reversed, or failed for good (an admin may send it again)
        refusal = _why_not_send(payment, transfer)
        if refusal:
            logger.warning("transfer %s not sent: %s", transfer_id, refusal)
            transfer.status = TransferStatus.FAILED
            transfer.last_error = f"Not sent: {refusal}."
            transfer.save(update_fields=["status", "last_error", "updated_at"])
            return transfer
        transfer.attempts += 1
        transfer.save(update_fields=["attempts", "updated_at"])
        params: TransferCreateParams = {
            "amount": transfer.amount,
            "currency": transfer.currency,
            "destination": transfer.account.stripe_account_id,
            "transfer_group": transfer_group(transfer.booking_id),
            "metadata": {"booking_id": str(transfer.booking_id), "transfer_id": str(transfer.pk)},
        }
        if payment.stripe_charge_id:
            # Paid from this charge's funds, even while they are still pending at Stripe.
            params["source_transaction"] = payment.stripe_charge_id
    try:
        result = stripe_client().v1.transfers.create(
            params=params, options={"idempotency_key": transfer.idempotency_key}
        )
    except stripe.StripeError as exc:
        if is_transient(exc):
            Transfer.objects.filter(pk=transfer_id).update(last_error=error_text(exc), updated_at=now)
            raise StripeUnavailable(str(exc)) from exc
        logger.error("transfer %s refused by Stripe: %s", transfer_id, exc)
        return _store_failure(transfer_id, note=error_text(exc))
    return _store_paid(transfer_id, stripe_id=result.id, now=now)


def _store_failure(transfer_id: int, *, note: str) -> Transfer:
    with transaction.atomic():
        locked = _lock(transfer_id)
        assert locked is not None
        _, transfer = locked
        if transfer.status == TransferStatus.PENDING:
            transfer.status = TransferStatus.FAILED
            transfer.last_error = note[:2000]
            transfer.save(update_fields=["status", "last_error", "updated_at"])
    return transfer


def _store_paid(transfer_id: int, *, stripe_id: str, now: datetime, reverse_if_needed: bool = True) -> Transfer:
    """Stripe holds this transfer: mark it paid and write its ledger entry, in one transaction. Idempotent.

    A transfer that went out while a refund or a dispute came in (they only
    wait for the payment row lock, which the Stripe call does not hold) is
    reversed at once: its reversal is queued in this same transaction.
    """
    with transaction.atomic():
        locked = _lock(transfer_id)
        assert locked is not None
        payment, transfer = locked
        if transfer.status in (TransferStatus.PENDING, TransferStatus.FAILED):
            transfer.status = TransferStatus.PAID
            transfer.stripe_transfer_id = stripe_id
            transfer.transferred_at = now
            transfer.last_error = ""
            transfer.save(update_fields=["status", "stripe_transfer_id", "transferred_at", "last_error", "updated_at"])
            ledger_record_transfer(transfer=transfer, now=now)
        if transfer.status == TransferStatus.PAID and reverse_if_needed:
            reason = _money_must_come_back(payment)
            if reason:
                _queue_reversal(transfer, reason=reason)
    return transfer


def transfer_mark_failed(*, transfer_id: int, error: str) -> None:
    """Final failure after every retry: the transfer shows as failed, with the reason, in the admin."""
    Transfer.objects.filter(pk=transfer_id, status=TransferStatus.PENDING).update(
        status=TransferStatus.FAILED, last_error=error[:2000], updated_at=timezone.now()
    )


def transfer_retry(*, transfer_id: int) -> Transfer:
    """Send a failed transfer again (admin action): failed -> pending, queued, with the same idempotency key.

    The booking is checked again when the task runs: a refunded booking fails again, with the reason.
    """
    with transaction.atomic():
        locked = _lock(transfer_id)
        if locked is None:
            raise Transfer.DoesNotExist(f"No transfer {transfer_id}.")
        _, transfer = locked
        if transfer.status == TransferStatus.FAILED:
            transfer.status = TransferStatus.PENDING
            transfer.save(update_fields=["status", "updated_at"])
        if transfer.status == TransferStatus.PENDING:
            outbox.enqueue(PROCESS_TRANSFER_TASK, transfer.pk)
    return transfer


# --- Reversals --------------------------------------------------------------------------------


def _queue_reversal(transfer: Transfer, *, reason: str) -> None:
    """Record the wish to reverse a paid transfer: the reversal task runs after commit. Caller holds its lock."""
    logger.info("transfer %s: reversal queued (%s)", transfer.pk, reason)
    outbox.enqueue(REVERSE_TRANSFER_TASK, transfer.pk, reason[:200])


def transfer_reverse(*, transfer_id: int, reason: str) -> Transfer:
    """Reverse a paid transfer: recorded now (an outbox row), sent to Stripe by payments.tasks.reverse_transfer.

    A transfer not yet paid needs nothing: the process re-checks the booking
    before sending, and reverses after sending when a refund or dispute came
    in meanwhile. Opens its own transaction (nested in the caller's, if any).
    """
    with transaction.atomic():
        locked = _lock(transfer_id)
        if locked is None:
            raise Transfer.DoesNotExist(f"No transfer {transfer_id}.")
        _, transfer = locked
        if transfer.status == TransferStatus.PAID:
            _queue_reversal(transfer, reason=reason)
    return transfer


def transfer_reversal_process(*, transfer_id: int, reason: str = "", now: datetime | None = None) -> Transfer | None:
    """Reverse a paid transfer at Stripe (``POST /v1/transfers/<id>/reversals``) and record it. Idempotent.

    Key ``reversal-transfer-<id>``: a retry after a lost answer gets the same
    reversal. Raises StripeUnavailable (retried with the same key). Stripe
    refusing: the transfer is re-read (it may be reversed already, e.g. from
    Stripe's dashboard) and otherwise stays paid with Stripe's reason in
    ``last_error``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(transfer_id)
        if locked is None:
            return None
        _, transfer = locked
        if transfer.status != TransferStatus.PAID or not transfer.stripe_transfer_id:
            return transfer
    client = stripe_client()
    try:
        reversal = client.v1.transfers.reversals.create(
            transfer.stripe_transfer_id,
            params={"metadata": {"transfer_id": str(transfer.pk), "reason": reason[:200]}},
            options={"idempotency_key": reversal_idempotency_key(transfer.pk)},
        )
    except stripe.StripeError as exc:
        if is_transient(exc):
            Transfer.objects.filter(pk=transfer_id).update(last_error=error_text(exc), updated_at=now)
            raise StripeUnavailable(str(exc)) from exc
        logger.error("reversal of transfer %s refused by Stripe: %s", transfer_id, exc)
        try:
            current = client.v1.transfers.retrieve(transfer.stripe_transfer_id).to_dict()
        except stripe.StripeError as read_exc:
            if is_transient(read_exc):
                raise StripeUnavailable(str(read_exc)) from read_exc
            current = {}
        reversal_id = _reversal_id(current)
        if reversal_id:
            return _store_reversed(transfer_id, reversal_id=reversal_id, now=now)
        Transfer.objects.filter(pk=transfer_id).update(last_error=f"Reversal refused: {error_text(exc)}"[:2000])
        transfer.refresh_from_db()
        return transfer
    return _store_reversed(transfer_id, reversal_id=reversal.id, now=now)


def _reversal_id(stripe_transfer: Mapping[str, Any]) -> str:
    """The reversal of a fully reversed Stripe Transfer ("" when it is not fully reversed)."""
    amount = int(stripe_transfer.get("amount") or 0)
    if not (stripe_transfer.get("reversed") or (amount and int(stripe_transfer.get("amount_reversed") or 0) >= amount)):
        return ""
    reversals = (stripe_transfer.get("reversals") or {}).get("data") or []
    ids = [str(r["id"]) for r in reversals if isinstance(r, Mapping) and r.get("id")]
    return ids[0] if ids else "reversed"


def _store_reversed(transfer_id: int, *, reversal_id: str, now: datetime) -> Transfer:
    with transaction.atomic():
        locked = _lock(transfer_id)
        assert locked is not None
        _, transfer = locked
        if transfer.status == TransferStatus.PAID:
            transfer.status = TransferStatus.REVERSED
            transfer.stripe_reversal_id = reversal_id
            transfer.reversed_at = now
            transfer.last_error = ""
            transfer.save(update_fields=["status", "stripe_reversal_id", "reversed_at", "last_error", "updated_at"])
            ledger_record_transfer_reversal(transfer=transfer, now=now)
    return transfer


def transfer_clear_for_refund(*, booking_id: int) -> str:
    """Before a refund goes to Stripe: get the booking's money back from its merchant first.

    Called by payments.services.refund_process, holding no lock, after the
    Refund row was recorded (so no new transfer of this booking is sent from
    now on: the process re-checks for refunds). Answers "" when the refund
    may go out (no transfer, or it failed or was reversed), or why it must not
    (Stripe refused the reversal). Raises TransferInFlight while the transfer
    is pending (it may be on its way to Stripe: the process reverses it right
    after if it lands) and StripeUnavailable when the reversal cannot reach
    Stripe: the refund task retries with the same keys.
    """
    transfer = Transfer.objects.filter(booking_id=booking_id).only("pk", "status", "amount").first()
    if transfer is None or transfer.status in (TransferStatus.FAILED, TransferStatus.REVERSED):
        return ""
    if transfer.status == TransferStatus.PAID and transfer.amount <= booking_net(booking_id=booking_id):
        return ""  # the transfer was already net of this refund (recorded before it was made)
    if transfer.status == TransferStatus.PENDING:
        raise TransferInFlight(f"transfer {transfer.pk} of booking {booking_id} is pending; the refund waits for it")
    reversed_transfer = transfer_reversal_process(transfer_id=transfer.pk, reason="refund")
    if reversed_transfer is None or reversed_transfer.status == TransferStatus.REVERSED:
        return ""
    if reversed_transfer.status == TransferStatus.PENDING:
        raise TransferInFlight(f"transfer {transfer.pk} of booking {booking_id} is pending; the refund waits for it")
    return (
        f"Not refunded: the merchant's transfer {reversed_transfer.stripe_transfer_id} could not be reversed "
        f"({reversed_transfer.last_error or 'no reason given'})."
    )[:2000]


# --- Webhooks: transfers and disputes as Stripe shows them --------------------------------------


def _id_of(value: Any) -> str:
    """A Stripe reference, expanded (an object) or not (its id)."""
    if isinstance(value, Mapping):
        return str(value.get("id") or "")
    return str(value or "")


def _read(kind: str, read: Any, object_id: str) -> dict[str, Any] | None:
    """Re-read a webhook's object from Stripe; None when Stripe refuses. Raises StripeUnavailable."""
    try:
        return dict(read(object_id).to_dict())
    except stripe.StripeError as exc:
        if is_transient(exc):
            logger.warning("cannot read %s %s from Stripe, the webhook will come again: %s", kind, object_id, exc)
            raise StripeUnavailable(str(exc)) from exc
        logger.error("Stripe refused to show %s %s; nothing applied: %s", kind, object_id, exc)
        return None


def transfer_apply_event(*, transfer: Mapping[str, Any], now: datetime | None = None) -> str:
    """A verified ``transfer.created``/``transfer.reversed`` webhook: reconcile our row with Stripe's transfer.

    The payload only names the transfer; it is re-read from Stripe. Finds our
    row by Stripe id, else by the ``transfer_id`` metadata we sent (the answer
    to our call was lost): marks it paid, then reversed when Stripe shows it
    fully reversed, each with its ledger entry. Idempotent. Raises
    StripeUnavailable (the webhook answers 503 and comes again).
    """
    now = now or timezone.now()
    stripe_id = _id_of(transfer)
    if not stripe_id:
        return "ignored"
    current = _read("transfer", stripe_client().v1.transfers.retrieve, stripe_id)
    if current is None:
        return "unchanged"
    row_id = Transfer.objects.filter(stripe_transfer_id=stripe_id).values_list("pk", flat=True).first()
    if row_id is None:
        claimed = str((current.get("metadata") or {}).get("transfer_id") or "")
        row_id = (
            Transfer.objects.filter(
                pk=int(claimed) if claimed.isdigit() else 0,
                stripe_transfer_id="",
                amount=int(current.get("amount") or 0),
                account__stripe_account_id=_id_of(current.get("destination")),
            )
            .values_list("pk", flat=True)
            .first()
        )
    if row_id is None:
        logger.info("ignoring transfer %s: not one of ours", stripe_id)
        return "ignored"
    reversal_id = _reversal_id(current)
    transfer_row = _store_paid(row_id, stripe_id=stripe_id, now=now, reverse_if_needed=not reversal_id)
    if reversal_id:
        transfer_row = _store_reversed(row_id, reversal_id=reversal_id, now=now)
    return str(transfer_row.status)


def dispute_apply_event(*, dispute: Mapping[str, Any], now: datetime | None = None) -> str:
    """A verified ``charge.dispute.*`` webhook: record the dispute as Stripe shows it; reverse a paid transfer.

    The payload only names the dispute; it is re-read from Stripe. The payment
    is found by the dispute's charge (``Payment.stripe_charge_id``), else its
    PaymentIntent. Raises StripeUnavailable (the webhook answers 503).
    """
    now = now or timezone.now()
    dispute_id = _id_of(dispute)
    if not dispute_id:
        return "ignored"
    current = _read("dispute", stripe_client().v1.disputes.retrieve, dispute_id)
    if current is None:
        return "unchanged"
    if bool(current.get("livemode")) != settings.STRIPE_LIVE_MODE:
        logger.error("dispute %s is not in our mode; nothing applied", dispute_id)
        return "ignored"
    charge_id = _id_of(current.get("charge"))
    intent_id = _id_of(current.get("payment_intent"))
    payment_id = (
        Payment.objects.filter(Q(stripe_charge_id=charge_id or "-") | Q(stripe_payment_intent_id=intent_id or "-"))
        .values_list("pk", flat=True)
        .first()
    )
    if payment_id is None:
        logger.info("ignoring dispute %s: no payment of ours", dispute_id)
        return "ignored"
    return dispute_record(payment_id=payment_id, dispute=current, now=now)


def dispute_record(*, payment_id: int, dispute: Mapping[str, Any], now: datetime) -> str:
    """Create or update the Dispute row from Stripe's dispute; queue the reversal of a paid transfer. Idempotent.

    Never pass a webhook payload here (:func:`dispute_apply_event` re-reads
    it). A dispute closed in the merchant's favour (won) leaves the transfer
    alone; any other reverses it. Opens its own transaction: payment row,
    dispute row, transfer row.
    """
    status = str(dispute.get("status") or "")
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment_id)
        row, created = Dispute.objects.select_for_update().get_or_create(
            stripe_dispute_id=str(dispute["id"]),
            defaults={
                "payment": payment,
                "amount": int(dispute.get("amount") or 0),
                "currency": str(dispute.get("currency") or payment.currency),
                "reason": str(dispute.get("reason") or "")[:100],
                "status": status[:40],
            },
        )
        row.status = status[:40]
        row.amount = int(dispute.get("amount") or row.amount)
        row.reason = str(dispute.get("reason") or row.reason)[:100]
        if status in DISPUTE_CLOSED_STATUSES and row.closed_at is None:
            row.closed_at = now
        row.save(update_fields=["status", "amount", "reason", "closed_at", "updated_at"])
        transfer = Transfer.objects.select_for_update(of=("self",)).filter(booking_id=payment.booking_id).first()
        if transfer is not None and transfer.status == TransferStatus.PAID and status not in DISPUTE_KEEPS_MONEY:
            _queue_reversal(transfer, reason=f"dispute {row.stripe_dispute_id}")
        if status == "lost":
            # The disputed money went back to the cardholder: the booking no longer earns it.
            ledger_record_dispute_lost(dispute=row, now=now)
    logger.info("dispute %s on payment %s: %s", row.stripe_dispute_id, payment_id, status)
    return "created" if created else "updated"
