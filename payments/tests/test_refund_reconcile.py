"""Refunds Stripe left `pending` are settled by re-reading them, when their `charge.refunded` webhook is lost.

Stripe may answer a refund request with `status: pending` (bank transfers, some card
networks) and settle it later, telling us with `charge.refunded`. docs/RELIABILITY.md
(Findings, 1) left that webhook as the only way to learn it: a lost one left the refund
pending for ever. localstripe settles every refund at once, so each test first puts our
row back to where a `pending` answer would have left it.
"""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.services import booking_join
from checkout.services import booking_cancel_and_refund
from payments import services, tasks
from payments.models import Payment, PaymentStatus, Refund, RefundStatus
from payments.tests.stripe_helpers import (
    pay_intent,
    post_event,
    refunds_for_intent,
    retrieve_intent,
    stripe_as_customer,
)
from payments.tests.stripe_helpers import stripe_event as make_event

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def paid_and_confirmed(booking, webhook_endpoint) -> Payment:
    payment = services.payment_intent_for_booking(booking_id=booking.pk, customer=booking.customer).payment
    pay_intent(payment.stripe_payment_intent_id)
    event = make_event("payment_intent.succeeded", retrieve_intent(payment.stripe_payment_intent_id))
    assert post_event(webhook_endpoint, event).status_code == 200
    return payment


def left_pending_by_stripe(booking, webhook_endpoint, capture, *, minutes_ago: int) -> Refund:
    """A cancelled, paid booking whose refund Stripe accepted as `pending` `minutes_ago`, webhook never came."""
    payment = paid_and_confirmed(booking, webhook_endpoint)
    with capture(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    refund = Refund.objects.get(payment=payment)
    assert refund.stripe_refund_id
    Refund.objects.filter(pk=refund.pk).update(
        status=RefundStatus.PENDING, updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED)
    return refund


def test_a_refund_pending_longer_than_the_threshold_is_read_again_and_settled(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks, settings
):
    settings.REFUND_RECONCILE_MINUTES = 30
    refund = left_pending_by_stripe(
        pending_booking, webhook_endpoint, django_capture_on_commit_callbacks, minutes_ago=31
    )

    assert tasks.reconcile_pending_refunds.delay().get() == 1

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.payment.status == PaymentStatus.REFUNDED
    # Read, never sent again: still the one refund at Stripe.
    assert len(refunds_for_intent(refund.payment.stripe_payment_intent_id)) == 1
    # Settled: the next sweep has nothing to do.
    assert tasks.reconcile_pending_refunds.delay().get() == 0


def test_a_recent_pending_refund_is_left_to_its_webhook(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks, settings
):
    settings.REFUND_RECONCILE_MINUTES = 30
    refund = left_pending_by_stripe(
        pending_booking, webhook_endpoint, django_capture_on_commit_callbacks, minutes_ago=5
    )

    assert tasks.reconcile_pending_refunds.delay().get() == 0

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING


def test_a_stripe_refund_of_another_payment_is_not_applied(
    webhook_endpoint, pending_booking, paid_slot, django_capture_on_commit_callbacks
):
    refund = left_pending_by_stripe(
        pending_booking, webhook_endpoint, django_capture_on_commit_callbacks, minutes_ago=31
    )
    other = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)
    other_payment = paid_and_confirmed(other, webhook_endpoint)
    foreign = stripe_as_customer().v1.refunds.create(params={"payment_intent": other_payment.stripe_payment_intent_id})
    Refund.objects.filter(pk=refund.pk).update(stripe_refund_id=foreign.id)

    assert services.refund_reconcile(refund_id=refund.pk) == RefundStatus.PENDING

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert refund.payment.status == PaymentStatus.SUCCEEDED


def test_stripe_unreachable_leaves_the_refund_pending_for_the_next_sweep(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks, settings, closed_port_url, eager_retries
):
    refund = left_pending_by_stripe(
        pending_booking, webhook_endpoint, django_capture_on_commit_callbacks, minutes_ago=31
    )
    settings.STRIPE_API_HOST = closed_port_url
    settings.REFUND_RECONCILE_MINUTES = 30

    assert tasks.reconcile_pending_refunds.delay().get() == 1

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING


def test_refund_reconciliation_is_scheduled_and_retries_like_the_other_stripe_tasks():
    schedule = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}

    assert schedule["payments.tasks.reconcile_pending_refunds"] == django_settings.PAYMENT_RECONCILE_SECONDS
    assert tasks.sync_refund.acks_late
    assert tasks.sync_refund.max_retries == tasks.RETRY_OPTIONS["max_retries"]
