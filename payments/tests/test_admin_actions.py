"""The admin's "Refund" action on payments calls payments.services.payment_refund."""

import pytest
from django.test import Client

from payments.models import PaymentStatus, Refund, RefundStatus
from payments.tests.factories import PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def run_refund_action(client: Client, *payments) -> None:
    response = client.post(
        "/admin/payments/payment/",
        {"action": "refund", "_selected_action": [p.pk for p in payments]},
    )
    assert response.status_code == 302, response.content[:500]


def test_refund_action_records_a_refund_for_paid_payments_only(admin_browser, django_capture_on_commit_callbacks):
    paid = PaymentFactory(status=PaymentStatus.SUCCEEDED)
    unpaid = PaymentFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        run_refund_action(admin_browser, paid, unpaid)

    refund = Refund.objects.get()
    assert (refund.payment_id, refund.reason, refund.status) == (paid.pk, "admin", RefundStatus.PENDING)
    assert refund.idempotency_key == f"booking-{paid.booking_id}-refund"
    assert len(callbacks) == 1  # process_refund, after commit


def test_refund_action_sends_a_failed_refund_again(admin_browser, django_capture_on_commit_callbacks):
    failed = RefundFactory(status=RefundStatus.FAILED, last_error="Stripe unavailable")

    with django_capture_on_commit_callbacks() as callbacks:
        run_refund_action(admin_browser, failed.payment)

    failed.refresh_from_db()
    assert failed.status == RefundStatus.PENDING
    assert Refund.objects.count() == 1
    assert len(callbacks) == 1


def test_refund_action_needs_the_change_permission(db, django_capture_on_commit_callbacks):
    from accounts.tests.factories import UserFactory

    staff = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client = Client()
    client.force_login(staff)
    paid = PaymentFactory(status=PaymentStatus.SUCCEEDED)

    client.post("/admin/payments/payment/", {"action": "refund", "_selected_action": [paid.pk]})

    assert not Refund.objects.exists()
