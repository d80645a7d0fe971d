"""Django admin for payouts: accounts, the read-only ledger, transfers and their retry, disputes, revenue, the fee."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.tests.factories import AdminFactory
from bookwise.models import OutboxMessage
from merchants.tests.factories import MerchantFactory
from payments.models import LedgerEntry, LedgerKind, TransferStatus
from payments.tests.factories import ConnectedAccountFactory, SucceededPaymentFactory, TransferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client):
    client.force_login(AdminFactory())
    return client


def test_retry_failed_transfers_queues_them_again_and_skips_the_others(admin_web):
    failed = TransferFactory(
        booking=SucceededPaymentFactory().booking, status=TransferStatus.FAILED, last_error="StripeError: no"
    )
    paid = TransferFactory(
        booking=SucceededPaymentFactory().booking, status=TransferStatus.PAID, stripe_transfer_id="tr_paid"
    )

    response = admin_web.post(
        reverse("admin:payments_transfer_changelist"),
        {"action": "retry_failed", "_selected_action": [failed.pk, paid.pk]},
        follow=True,
    )

    assert response.status_code == 200
    failed.refresh_from_db()
    paid.refresh_from_db()
    assert failed.status == TransferStatus.PENDING  # sent again by the task after commit
    assert OutboxMessage.objects.filter(task_name="payments.tasks.process_transfer", args=[failed.pk]).exists()
    assert not OutboxMessage.objects.filter(task_name="payments.tasks.process_transfer", args=[paid.pk]).exists()
    assert paid.status == TransferStatus.PAID
    page = response.content.decode()
    assert "1 transfer(s) queued again" in page
    assert "1 transfer(s) skipped: not failed." in page


def test_transfer_list_shows_stripe_ids_and_filters_by_status(admin_web):
    TransferFactory(status=TransferStatus.PAID, stripe_transfer_id="tr_shown123")
    TransferFactory(status=TransferStatus.FAILED)
    page = admin_web.get(reverse("admin:payments_transfer_changelist"), {"status__exact": "paid"}).content.decode()
    assert "tr_shown123" in page
    assert admin_web.get(reverse("admin:payments_transfer_changelist"), {"q": "tr_shown123"}).status_code == 200


def test_the_ledger_is_read_only_in_the_admin(admin_web):
    payment = SucceededPaymentFactory()
    entry = LedgerEntry.objects.create(
        merchant=payment.booking.slot.theme.merchant,
        booking=payment.booking,
        kind=LedgerKind.CHARGE,
        amount=payment.amount,
        currency=payment.currency,
        key="charge:test",
    )
    assert admin_web.get(reverse("admin:payments_ledgerentry_add")).status_code == 403
    assert admin_web.post(reverse("admin:payments_ledgerentry_delete", args=[entry.pk])).status_code == 403
    page = admin_web.get(reverse("admin:payments_ledgerentry_change", args=[entry.pk])).content.decode()
    assert 'name="amount"' not in page


def test_platform_revenue_per_month(admin_web):
    payment = SucceededPaymentFactory(booking__currency="eur", amount=5000, currency="eur")
    merchant = payment.booking.slot.theme.merchant
    now = datetime.now(UTC)
    LedgerEntry.objects.create(
        merchant=merchant,
        booking=payment.booking,
        kind=LedgerKind.FEE,
        amount=-500,
        currency="eur",
        key="f1",
        created_at=now,
    )

    changelist = admin_web.get(reverse("admin:payments_ledgerentry_changelist")).content.decode()
    page = admin_web.get(reverse("admin:payments_ledgerentry_revenue")).content.decode()

    assert reverse("admin:payments_ledgerentry_revenue") in changelist
    assert "€5.00" in page
    assert now.strftime("%B %Y") in page


def test_merchant_admin_shows_the_fee_and_the_account_status_and_edits_the_fee(admin_web):
    merchant = MerchantFactory(fee_bps=750)
    ConnectedAccountFactory(merchant=merchant)

    page = admin_web.get(reverse("admin:merchants_merchant_changelist")).content.decode()

    assert "7.5 %" in page
    assert "Enabled: payouts are sent" in page
    change = admin_web.get(reverse("admin:merchants_merchant_change", args=[merchant.pk])).content.decode()
    assert 'name="fee_bps"' in change
