"""Disputes (charge.dispute.*): recorded as Stripe shows them; a paid transfer is reversed.

Stripe is payments.tests.fake_connect_transfers (the real SDK, a recording HTTP exchange).
"""

from __future__ import annotations

import pytest
from django.db.models import Sum

from bookwise.models import OutboxMessage
from payments import gateway, tasks, transfers
from payments.events import ENABLED_EVENTS
from payments.gateway import StripeUnavailable
from payments.models import Dispute, LedgerEntry, Transfer, TransferStatus
from payments.tests.factories import ConnectedAccountFactory
from payments.tests.fake_connect_transfers import FakeConnectStripe
from payments.tests.test_transfers import due_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(monkeypatch, closed_port_url, settings):
    settings.PLATFORM_FEE_BPS = 1000
    settings.PAYOUT_DELAY_HOURS = 24
    fake = FakeConnectStripe(closed_url=closed_port_url)
    monkeypatch.setattr(gateway, "_http_client", lambda: fake)
    return fake


def owed(merchant) -> int:
    return LedgerEntry.objects.filter(merchant=merchant).aggregate(t=Sum("amount"))["t"] or 0


def transferred(django_capture_on_commit_callbacks):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    with django_capture_on_commit_callbacks(execute=True):
        transfers.transfers_record_due()
    transfer = Transfer.objects.get(booking_id=payment.booking_id)
    assert transfer.status == TransferStatus.PAID
    return payment, transfer


def test_the_dispute_events_are_subscribed():
    assert {"charge.dispute.created", "charge.dispute.closed", "transfer.created", "transfer.reversed"} <= set(
        ENABLED_EVENTS
    )


def test_a_dispute_after_the_transfer_reverses_it(fake_stripe, django_capture_on_commit_callbacks):
    payment, transfer = transferred(django_capture_on_commit_callbacks)
    dispute_id = fake_stripe.add_dispute(charge=payment.stripe_charge_id, amount=5000)

    with django_capture_on_commit_callbacks(execute=True):
        # The payload only names the dispute: its state is re-read from Stripe.
        assert transfers.dispute_apply_event(dispute={"id": dispute_id, "status": "won"}) == "created"

    dispute = Dispute.objects.get()
    assert (dispute.payment_id, dispute.stripe_dispute_id, dispute.status, dispute.amount, dispute.closed_at) == (
        payment.pk,
        dispute_id,
        "needs_response",
        5000,
        None,
    )
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REVERSED
    assert transfer.stripe_reversal_id.startswith("trr_")
    reversals = fake_stripe.posted(f"/v1/transfers/{transfer.stripe_transfer_id}/reversals")
    assert [key for key, _ in reversals] == [f"reversal-transfer-{transfer.pk}"]
    assert LedgerEntry.objects.get(key=f"transfer-reversal:{transfer.pk}").amount == 4500

    # Closed (lost): the outcome is recorded; nothing is reversed twice.
    fake_stripe.disputes[dispute_id]["status"] = "lost"
    with django_capture_on_commit_callbacks(execute=True):
        assert transfers.dispute_apply_event(dispute={"id": dispute_id}) == "updated"
        assert transfers.dispute_apply_event(dispute={"id": dispute_id}) == "updated"  # a duplicate delivery
    dispute.refresh_from_db()
    assert dispute.status == "lost"
    assert dispute.closed_at is not None
    assert len(fake_stripe.posted(f"/v1/transfers/{transfer.stripe_transfer_id}/reversals")) == 1
    assert LedgerEntry.objects.filter(key=f"transfer-reversal:{transfer.pk}").count() == 1
    # The disputed money went back to the cardholder: the merchant is not owed it again, once.
    assert LedgerEntry.objects.get(key=f"dispute:{dispute.pk}").amount == -5000
    assert LedgerEntry.objects.get(key=f"fee-back:dispute:{dispute.pk}").amount == 500
    assert owed(payment.booking.slot.theme.merchant) == 0


def test_a_dispute_before_the_transfer_holds_the_money_until_it_is_won(fake_stripe, django_capture_on_commit_callbacks):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    dispute_id = fake_stripe.add_dispute(charge=payment.stripe_charge_id, amount=5000)
    transfers.dispute_apply_event(dispute={"id": dispute_id})

    assert transfers.transfers_record_due() == 0
    assert fake_stripe.transfer_creates() == []

    fake_stripe.disputes[dispute_id]["status"] = "won"
    transfers.dispute_apply_event(dispute={"id": dispute_id})
    with django_capture_on_commit_callbacks(execute=True):
        assert transfers.transfers_record_due() == 1
    assert Transfer.objects.get().status == TransferStatus.PAID
    assert owed(account.merchant) == 0


def test_a_dispute_while_the_transfer_is_pending_stops_it(fake_stripe):
    account = ConnectedAccountFactory()
    payment = due_booking(account.merchant)
    transfers.transfers_record_due()
    transfer = Transfer.objects.get()
    transfers.dispute_apply_event(dispute={"id": fake_stripe.add_dispute(charge=payment.stripe_charge_id, amount=1)})

    transfers.transfer_process(transfer_id=transfer.pk)

    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.FAILED
    assert "disputed" in transfer.last_error
    assert fake_stripe.transfer_creates() == []


def test_a_won_dispute_leaves_the_transfer_alone(fake_stripe, django_capture_on_commit_callbacks):
    payment, transfer = transferred(django_capture_on_commit_callbacks)
    dispute_id = fake_stripe.add_dispute(charge=payment.stripe_charge_id, amount=5000, status="won")

    with django_capture_on_commit_callbacks(execute=True):
        transfers.dispute_apply_event(dispute={"id": dispute_id})

    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PAID
    assert Dispute.objects.get().closed_at is not None
    assert not OutboxMessage.objects.filter(task_name=transfers.REVERSE_TRANSFER_TASK).exists()


def test_a_dispute_on_a_charge_that_is_not_ours_is_ignored(fake_stripe):
    dispute_id = fake_stripe.add_dispute(charge="ch_somebody_else", amount=100)
    assert transfers.dispute_apply_event(dispute={"id": dispute_id}) == "ignored"
    assert not Dispute.objects.exists()


def test_a_dispute_event_while_stripe_is_down_fails_so_that_it_comes_again(fake_stripe):
    fake_stripe.down = True
    with pytest.raises(StripeUnavailable):
        transfers.dispute_apply_event(dispute={"id": "dp_anything"})
    assert not Dispute.objects.exists()


def test_a_reversal_while_stripe_is_down_is_retried_with_the_same_key(
    fake_stripe, eager_retries, django_capture_on_commit_callbacks
):
    payment, transfer = transferred(django_capture_on_commit_callbacks)
    dispute_id = fake_stripe.add_dispute(charge=payment.stripe_charge_id, amount=5000)
    transfers.dispute_apply_event(dispute={"id": dispute_id})  # queues the reversal (not run here)
    queued = OutboxMessage.objects.get(task_name=transfers.REVERSE_TRANSFER_TASK)
    fake_stripe.fail_paths["/reversals"] = 2  # two refused connections, then Stripe answers

    assert tasks.reverse_transfer.delay(*queued.args).get() == TransferStatus.REVERSED

    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REVERSED
    keys = [key for _, path, key, _ in fake_stripe.calls if path.endswith("/reversals")]
    assert keys == [f"reversal-transfer-{transfer.pk}"] * 3


# --- End to end against the Stripe stand-in (localstripe + Connect) ------------------------------


@pytest.mark.localstripe
def test_end_to_end_paid_booking_is_transferred_then_a_dispute_reverses_it(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks, settings
):
    from datetime import timedelta

    import requests
    from django.utils import timezone

    from catalog.models import Slot
    from payments.tests.stripe_helpers import post_event, stripe_as_customer, stripe_event
    from payments.tests.test_services import paid_and_confirmed

    settings.PLATFORM_FEE_BPS = 1000
    settings.PAYOUT_DELAY_HOURS = 24
    payment = paid_and_confirmed(pending_booking, webhook_endpoint)  # 5000 usd through localstripe
    payment.refresh_from_db()
    merchant = pending_booking.slot.theme.merchant
    account = stripe_as_customer().v1.accounts.create(params={"type": "express", "country": "US"})
    requests.post(f"{settings.STRIPE_API_HOST}/_standin/accounts/{account.id}/enable", timeout=10).raise_for_status()
    ConnectedAccountFactory(merchant=merchant, stripe_account_id=account.id)
    ends = timezone.now() - timedelta(hours=25)
    Slot.objects.filter(pk=pending_booking.slot_id).update(starts_at=ends - timedelta(hours=1), ends_at=ends)

    with django_capture_on_commit_callbacks(execute=True):
        assert transfers.transfers_record_due() == 1

    transfer = Transfer.objects.get()
    assert transfer.status == TransferStatus.PAID, transfer.last_error
    at_stripe = stripe_as_customer().v1.transfers.retrieve(transfer.stripe_transfer_id)
    assert (at_stripe.amount, at_stripe.destination, at_stripe.source_transaction, at_stripe.transfer_group) == (
        4500,
        account.id,
        payment.stripe_charge_id,
        f"booking-{pending_booking.pk}",
    )
    assert owed(merchant) == 0

    opened = requests.post(
        f"{settings.STRIPE_API_HOST}/_standin/disputes", data={"charge": payment.stripe_charge_id}, timeout=10
    )
    opened.raise_for_status()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(webhook_endpoint, stripe_event("charge.dispute.created", opened.json()))
    assert response.status_code == 200

    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REVERSED
    assert Dispute.objects.get().status == "needs_response"
    assert stripe_as_customer().v1.transfers.retrieve(transfer.stripe_transfer_id).reversed is True
    assert owed(merchant) == 4500  # back with the platform's books until the bank decides

    closed = requests.post(
        f"{settings.STRIPE_API_HOST}/_standin/disputes/{opened.json()['id']}/close", data={"status": "lost"}, timeout=10
    )
    closed.raise_for_status()
    assert post_event(webhook_endpoint, stripe_event("charge.dispute.closed", closed.json())).status_code == 200
    dispute = Dispute.objects.get()
    assert dispute.status == "lost"
    assert dispute.closed_at is not None
