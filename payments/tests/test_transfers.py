"""Transfers after the experience: the sweep, the Stripe call and its retries, refunds after a transfer.

Stripe's Connect endpoints are answered by payments.tests.fake_connect_transfers (the
real SDK, a recording HTTP exchange; an outage is a real refused connection).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from bookings.models import BookingStatus
from bookwise.models import OutboxMessage
from catalog.tests.factories import SlotFactory
from merchants.tests.factories import MerchantFactory
from payments import gateway, services, tasks, transfers
from payments.ledger import booking_net, ledger_record_charge
from payments.models import (
    ConnectedAccount,
    LedgerEntry,
    PaymentStatus,
    Refund,
    RefundStatus,
    Transfer,
    TransferStatus,
)
from payments.tests.factories import (
    ConnectedAccountFactory,
    PendingConnectedAccountFactory,
    SucceededPaymentFactory,
)
from payments.tests.fake_connect_transfers import FakeConnectStripe
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(monkeypatch, closed_port_url, settings):
    settings.PLATFORM_FEE_BPS = 1000
    settings.PAYOUT_DELAY_HOURS = 24
    fake = FakeConnectStripe(closed_url=closed_port_url)
    monkeypatch.setattr(gateway, "_http_client", lambda: fake)
    return fake


_slot_hours = iter(range(10_000))


def due_booking(merchant=None, *, price=2500, party=2, ended_hours_ago=30, status=BookingStatus.CONFIRMED):
    """A paid booking (charge and fee in the ledger) whose slot ended `ended_hours_ago` hours ago."""
    merchant = merchant or MerchantFactory()
    ends = timezone.now() - timedelta(hours=ended_hours_ago) - timedelta(minutes=2 * next(_slot_hours))
    slot = SlotFactory(theme__merchant=merchant, theme__price=price, starts_at=ends - timedelta(hours=1), ends_at=ends)
    payment = SucceededPaymentFactory(booking__slot=slot, booking__party_size=party, booking__status=status)
    with transaction.atomic():
        ledger_record_charge(payment=payment)
    return payment


def owed(merchant) -> int:
    return LedgerEntry.objects.filter(merchant=merchant).aggregate(t=Sum("amount"))["t"] or 0


# --- The sweep ------------------------------------------------------------------------------------


def test_sweep_transfers_the_net_of_due_paid_bookings_only(fake_stripe, django_capture_on_commit_callbacks):
    account = ConnectedAccountFactory()
    merchant = account.merchant
    due = due_booking(merchant)  # 5000 paid, fee 500
    attended = due_booking(merchant, status=BookingStatus.ATTENDED)
    no_show = due_booking(merchant, status=BookingStatus.NO_SHOW)
    too_recent = due_booking(merchant, ended_hours_ago=2)
    # Cancelled without a refund (a 0 % cancellation policy): the merchant keeps, and is paid, the money.
    cancelled = due_booking(merchant, status=BookingStatus.CANCELLED)
    processing = due_booking(merchant)
    processing.status = PaymentStatus.PROCESSING
    processing.save(update_fields=["status"])
    other_without_account = due_booking()

    with django_capture_on_commit_callbacks(execute=True):
        assert transfers.transfers_record_due() == 4

    rows = {t.booking_id: t for t in Transfer.objects.all()}
    assert set(rows) == {due.booking_id, attended.booking_id, no_show.booking_id, cancelled.booking_id}
    transfer = rows[due.booking_id]
    assert (transfer.status, transfer.amount, transfer.currency, transfer.account_id) == (
        TransferStatus.PAID,
        4500,
        "usd",
        account.pk,
    )
    assert transfer.idempotency_key == f"transfer-booking-{due.booking_id}"
    assert transfer.stripe_transfer_id.startswith("tr_")
    assert transfer.transferred_at is not None
    key, form = next(c for c in fake_stripe.transfer_creates() if c[0] == transfer.idempotency_key)
    assert form == {
        "amount": "4500",
        "currency": "usd",
        "destination": account.stripe_account_id,
        "source_transaction": due.stripe_charge_id,
        "transfer_group": f"booking-{due.booking_id}",
        "metadata[booking_id]": str(due.booking_id),
        "metadata[transfer_id]": str(transfer.pk),
    }
    assert LedgerEntry.objects.get(key=f"transfer:{transfer.pk}").amount == -4500
    assert owed(merchant) == 2 * 4500  # the two bookings not transferred (too recent, processing)
    for untouched in (too_recent, processing, other_without_account):
        assert not Transfer.objects.filter(booking_id=untouched.booking_id).exists()

    assert transfers.transfers_record_due() == 0  # a second run finds nothing left
    assert len(fake_stripe.transfer_creates()) == 4


def test_a_booking_whose_fee_takes_everything_is_not_transferred(fake_stripe):
    account = ConnectedAccountFactory(merchant__fee_bps=10_000)
    payment = due_booking(account.merchant)
    assert booking_net(booking_id=payment.booking_id) == 0
    assert transfers.transfers_record_due() == 0


@pytest.mark.django_db(transaction=True)
def test_the_sweep_run_twice_concurrently_transfers_each_booking_once(fake_stripe):
    account = ConnectedAccountFactory()
    payments = [due_booking(account.merchant) for _ in range(4)]

    results = run_together([transfers.transfers_record_due, transfers.transfers_record_due])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 4
    assert Transfer.objects.count() == 4
    # Each transfer went to Stripe once, with its own key (the tasks ran eagerly after each commit).
    keys = [key for key, _ in fake_stripe.transfer_creates()]
    assert sorted(keys) == sorted(f"transfer-booking-{p.booking_id}" for p in payments)
    assert set(Transfer.objects.values_list("status", flat=True)) == {TransferStatus.PAID}
    assert owed(account.merchant) == 0


def test_a_merchant_without_payouts_accumulates_owed_money_and_gets_all_of_it_once_enabled(
    fake_stripe, django_capture_on_commit_callbacks
):
    account = PendingConnectedAccountFactory()
    merchant = account.merchant
    for price in (1000, 2500, 3333):
        due_booking(merchant, price=price, party=1)

    assert transfers.transfers_record_due() == 0
    assert owed(merchant) == (1000 - 100) + (2500 - 250) + (3333 - 333)

    account.payouts_enabled = True
    account.status = "enabled"
    account.save(update_fields=["payouts_enabled", "status"])
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.transfer_due_bookings.delay().get() == 3

    assert sum(int(form["amount"]) for _, form in fake_stripe.transfer_creates()) == 900 + 2250 + 3000
    assert owed(merchant) == 0


def test_a_merchant_with_no_account_at_all_is_owed_its_money(fake_stripe):
    payment = due_booking()
    assert transfers.transfers_record_due() == 0
    assert owed(payment.booking.slot.theme.merchant) == 4500
    assert not ConnectedAccount.objects.exists()


# --- Never for a refunded booking, never more than the net -------------------------------------------


def test_a_refunded_booking_is_never_transferred(fake_stripe, django_capture_on_commit_callbacks):
    account = ConnectedAccountFactory()
    refunded = due_booking(account.merchant)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refund(payment_id=refunded.pk)  # the admin's refund, before any transfer
    refunded.refresh_from_db()
    assert refunded.status == PaymentStatus.REFUNDED
    assert booking_net(booking_id=refunded.booking_id) == 0

    assert transfers.transfers_record_due() == 0
    assert fake_stripe.transfer_creates() == []


def test_a_refund_recorded_after_the_sweep_stops_the_pending_transfer(fake_stripe):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    transfers.transfers_record_due()  # recorded; its task not run (on_commit not executed)
    transfer = Transfer.objects.get()
    with transaction.atomic():
        services.payment_refund_for_booking(booking_id=payment.booking_id, reason="admin")

    transfers.transfer_process(transfer_id=transfer.pk)

    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.FAILED
    assert "refund of the booking is on its way" in transfer.last_error
    assert fake_stripe.transfer_creates() == []
    assert not LedgerEntry.objects.filter(key=f"transfer:{transfer.pk}").exists()


def test_a_transfer_larger_than_the_net_is_never_sent(fake_stripe):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    transfer = Transfer.objects.create(
        booking=payment.booking,
        merchant=account.merchant,
        account=account,
        amount=5000,  # the gross: more than the 4500 net
        currency="usd",
        idempotency_key=f"transfer-booking-{payment.booking_id}",
    )
    transfers.transfer_process(transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.FAILED
    assert "nets 4500" in transfer.last_error
    assert fake_stripe.transfer_creates() == []


# --- Stripe down, Stripe refusing ------------------------------------------------------------------


def test_a_transfer_while_stripe_is_down_is_retried_with_the_same_key(fake_stripe, eager_retries):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    transfers.transfers_record_due()
    transfer = Transfer.objects.get()
    fake_stripe.failures = 2  # two refused connections, then Stripe answers

    assert tasks.process_transfer.delay(transfer.pk).get() == TransferStatus.PAID

    transfer.refresh_from_db()
    assert (transfer.status, transfer.attempts, transfer.last_error) == (TransferStatus.PAID, 3, "")
    calls = [(method, path, key) for method, path, key, _ in fake_stripe.calls]
    assert calls == [("post", "/v1/transfers", f"transfer-booking-{payment.booking_id}")] * 3
    assert len(fake_stripe.transfers) == 1
    assert LedgerEntry.objects.filter(key=f"transfer:{transfer.pk}").count() == 1


def test_a_transfer_that_keeps_failing_is_marked_failed_and_the_admin_retry_uses_the_same_key(
    fake_stripe, eager_retries, django_capture_on_commit_callbacks
):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    transfers.transfers_record_due()
    transfer = Transfer.objects.get()
    fake_stripe.down = True

    assert tasks.process_transfer.delay(transfer.pk).get() == "failed"

    transfer.refresh_from_db()
    attempts = tasks.RETRY_OPTIONS["max_retries"] + 1
    assert (transfer.status, transfer.attempts) == (TransferStatus.FAILED, attempts)
    assert f"after {attempts} attempts" in transfer.last_error
    fake_stripe.down = False

    with django_capture_on_commit_callbacks(execute=True):
        transfers.transfer_retry(transfer_id=transfer.pk)

    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PAID
    keys = {key for _, path, key, _ in fake_stripe.calls if path == "/v1/transfers"}
    assert keys == {f"transfer-booking-{payment.booking_id}"}


def test_stripe_refusing_a_transfer_marks_it_failed_with_the_reason(fake_stripe, django_capture_on_commit_callbacks):
    account = ConnectedAccountFactory()
    due_booking(account.merchant)
    fake_stripe.refuse_transfers = "Your destination account needs to have at least one capability enabled."

    with django_capture_on_commit_callbacks(execute=True):
        transfers.transfers_record_due()

    transfer = Transfer.objects.get()
    assert transfer.status == TransferStatus.FAILED
    assert "capability" in transfer.last_error
    assert not LedgerEntry.objects.filter(key=f"transfer:{transfer.pk}").exists()
    assert owed(account.merchant) == 4500


# --- A refund after the transfer reverses it first -------------------------------------------------


def transferred(fake_stripe, django_capture_on_commit_callbacks):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    with django_capture_on_commit_callbacks(execute=True):
        transfers.transfers_record_due()
    transfer = Transfer.objects.get(booking_id=payment.booking_id)
    assert transfer.status == TransferStatus.PAID
    return payment, transfer


def test_an_admin_refund_after_the_transfer_reverses_it_before_refunding(
    fake_stripe, django_capture_on_commit_callbacks
):
    payment, transfer = transferred(fake_stripe, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refund(payment_id=payment.pk)

    transfer.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert transfer.status == TransferStatus.REVERSED
    assert transfer.stripe_reversal_id.startswith("trr_")
    assert transfer.reversed_at is not None
    assert refund.status == RefundStatus.SUCCEEDED
    posts = [(path, key) for method, path, key, _ in fake_stripe.calls if method == "post"]
    assert posts[-2:] == [
        (f"/v1/transfers/{transfer.stripe_transfer_id}/reversals", f"reversal-transfer-{transfer.pk}"),
        ("/v1/refunds", refund.idempotency_key),
    ]
    kinds = dict(LedgerEntry.objects.filter(booking_id=payment.booking_id).values_list("key", "amount"))
    assert kinds[f"transfer:{transfer.pk}"] == -4500
    assert kinds[f"transfer-reversal:{transfer.pk}"] == 4500
    assert booking_net(booking_id=payment.booking_id) == 0
    assert owed(payment.booking.slot.theme.merchant) == 0


def test_a_refund_whose_transfer_cannot_be_reversed_is_not_sent(fake_stripe, django_capture_on_commit_callbacks):
    payment, transfer = transferred(fake_stripe, django_capture_on_commit_callbacks)
    fake_stripe.refuse_reversals = "Insufficient funds in the connected account."

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refund(payment_id=payment.pk)

    refund = Refund.objects.get(payment=payment)
    transfer.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert "could not be reversed" in refund.last_error
    assert transfer.status == TransferStatus.PAID
    assert fake_stripe.posted("/v1/refunds") == []


def test_a_refund_waits_while_the_transfer_is_pending(fake_stripe):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    transfers.transfers_record_due()  # pending: its task may be calling Stripe right now
    with transaction.atomic():
        refund = services.payment_refund_for_booking(booking_id=payment.booking_id, reason="admin")

    with pytest.raises(transfers.TransferInFlight):
        services.refund_process(refund_id=refund.pk)

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert "pending" in refund.last_error
    assert fake_stripe.posted("/v1/refunds") == []


def test_a_transfer_that_lands_while_a_refund_is_recorded_is_reversed_at_once(
    fake_stripe, django_capture_on_commit_callbacks
):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    transfers.transfers_record_due()
    transfer = Transfer.objects.get()

    def refund_during_the_call():
        # The admin refunds while the transfer request is on its way (no lock is held during the call).
        with transaction.atomic():
            services.payment_refund_for_booking(booking_id=payment.booking_id, reason="admin")

    fake_stripe.on_transfer_create = refund_during_the_call
    with django_capture_on_commit_callbacks(execute=True):
        transfers.transfer_process(transfer_id=transfer.pk)

    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REVERSED
    assert booking_net(booking_id=payment.booking_id) == 0
    assert owed(account.merchant) == 0


# --- transfer.* webhooks: reconcile with Stripe ------------------------------------------------------


def test_transfer_created_webhook_records_a_transfer_whose_answer_was_lost(fake_stripe):
    account = ConnectedAccountFactory()
    due_booking(account.merchant)
    transfers.transfers_record_due()
    transfer = Transfer.objects.get()
    # Stripe made the transfer, but our process never stored the answer.
    fake_stripe.on_transfer_create = None
    stripe_transfer = gateway.stripe_client().v1.transfers.create(
        params={
            "amount": transfer.amount,
            "currency": "usd",
            "destination": account.stripe_account_id,
            "metadata": {"transfer_id": str(transfer.pk)},
        },
        options={"idempotency_key": transfer.idempotency_key},
    )

    assert transfers.transfer_apply_event(transfer={"id": stripe_transfer.id}) == TransferStatus.PAID
    assert transfers.transfer_apply_event(transfer={"id": stripe_transfer.id}) == TransferStatus.PAID

    transfer.refresh_from_db()
    assert (transfer.status, transfer.stripe_transfer_id) == (TransferStatus.PAID, stripe_transfer.id)
    assert LedgerEntry.objects.filter(key=f"transfer:{transfer.pk}").count() == 1

    # Reversed from Stripe's dashboard: transfer.reversed brings it home.
    gateway.stripe_client().v1.transfers.reversals.create(stripe_transfer.id)
    assert transfers.transfer_apply_event(transfer={"id": stripe_transfer.id}) == TransferStatus.REVERSED
    assert transfers.transfer_apply_event(transfer={"id": stripe_transfer.id}) == TransferStatus.REVERSED
    assert owed(account.merchant) == 4500
    assert not OutboxMessage.objects.filter(task_name=transfers.REVERSE_TRANSFER_TASK).exists()


def test_transfer_webhook_for_someone_elses_transfer_is_ignored(fake_stripe):
    stripe_transfer = gateway.stripe_client().v1.transfers.create(
        params={"amount": 100, "currency": "usd", "destination": "acct_other"}
    )
    assert transfers.transfer_apply_event(transfer={"id": stripe_transfer.id}) == "ignored"


def test_a_partly_refunded_cancellation_transfers_what_the_merchant_kept(
    fake_stripe, django_capture_on_commit_callbacks
):
    """A 50 % cancellation: the customer got 2500 back, the merchant is paid the rest of its net (2250)."""
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant, status=BookingStatus.CANCELLED)  # 5000 paid, fee 500
    with transaction.atomic():
        refund = services.payment_refund_for_booking(
            booking_id=payment.booking_id, reason="customer_cancel", amount=2500
        )
    assert transfers.transfers_record_due() == 0  # the refund is still on its way to Stripe
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.SUCCEEDED)

    with django_capture_on_commit_callbacks(execute=True):
        assert transfers.transfers_record_due() == 1

    transfer = Transfer.objects.get(booking_id=payment.booking_id)
    assert (transfer.status, transfer.amount) == (TransferStatus.PAID, 2250)
    assert owed(account.merchant) == 0
