"""Late payments, refunds (cancel, retries, final failure) and reconciliation, against localstripe."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.services import booking_join, bookings_expire_due
from checkout import tasks as checkout_tasks
from checkout.services import booking_cancel_and_refund
from payments import gateway, services, tasks
from payments.models import Payment, PaymentStatus, Refund, RefundStatus
from payments.tests.stripe_helpers import (
    RecordingTransport,
    intents_for_booking,
    pay_intent,
    post_event,
    refunds_for_intent,
    retrieve_intent,
    stripe_event,
)

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def create_and_pay(booking) -> Payment:
    payment = services.payment_intent_for_booking(booking_id=booking.pk, customer=booking.customer).payment
    pay_intent(payment.stripe_payment_intent_id)
    return payment


def succeeded_event(payment: Payment) -> dict:
    return stripe_event("payment_intent.succeeded", retrieve_intent(payment.stripe_payment_intent_id))


def let_hold_expire(booking) -> None:
    bookings_expire_due(now=booking.expires_at + timedelta(seconds=1))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED


def paid_and_confirmed(booking, webhook_endpoint) -> Payment:
    payment = create_and_pay(booking)
    assert post_event(webhook_endpoint, succeeded_event(payment)).status_code == 200
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    return payment


# --- Late payments -----------------------------------------------------------------------


def test_late_payment_with_the_seats_still_free_confirms(webhook_endpoint, pending_booking):
    payment = create_and_pay(pending_booking)
    let_hold_expire(pending_booking)

    assert post_event(webhook_endpoint, succeeded_event(payment)).status_code == 200

    pending_booking.refresh_from_db()
    assert pending_booking.status == BookingStatus.CONFIRMED
    assert not Refund.objects.exists()


def test_late_payment_for_seats_taken_meanwhile_is_refunded_in_stripe(
    webhook_endpoint, paid_slot, django_capture_on_commit_callbacks
):
    paid_slot.capacity = 2
    paid_slot.save(update_fields=["capacity"])
    late = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=2)
    payment = create_and_pay(late)
    let_hold_expire(late)
    booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)  # someone else takes a seat

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(webhook_endpoint, succeeded_event(payment)).status_code == 200

    late.refresh_from_db()
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert late.status == BookingStatus.EXPIRED
    assert (refund.reason, refund.status, refund.amount) == ("late_payment", RefundStatus.SUCCEEDED, 5000)
    assert payment.status == PaymentStatus.REFUNDED
    assert [r["id"] for r in refunds_for_intent(payment.stripe_payment_intent_id)] == [refund.stripe_refund_id]


def test_refunded_late_payment_is_not_confirmed_later_when_seats_free_up(
    webhook_endpoint, paid_slot, django_capture_on_commit_callbacks
):
    paid_slot.capacity = 1
    paid_slot.save(update_fields=["capacity"])
    late = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)
    payment = create_and_pay(late)
    let_hold_expire(late)
    other = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)
    event = succeeded_event(payment)
    with django_capture_on_commit_callbacks(execute=True):
        post_event(webhook_endpoint, event)
    booking_cancel_and_refund(booking_id=other.pk, by=other.customer)  # the seat is free again

    with django_capture_on_commit_callbacks(execute=True):
        assert (
            post_event(webhook_endpoint, stripe_event("payment_intent.succeeded", event["data"]["object"])).status_code
            == 200
        )

    late.refresh_from_db()
    assert late.status == BookingStatus.EXPIRED
    assert len(refunds_for_intent(payment.stripe_payment_intent_id)) == 1


def test_payment_for_a_booking_cancelled_while_paying_is_refunded(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks
):
    payment = services.payment_intent_for_booking(
        booking_id=pending_booking.pk, customer=pending_booking.customer
    ).payment
    booking_cancel_and_refund(booking_id=pending_booking.pk, by=pending_booking.customer)
    assert not Refund.objects.exists()  # nothing was paid yet
    pay_intent(payment.stripe_payment_intent_id)  # the customer still had the client secret

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(webhook_endpoint, succeeded_event(payment)).status_code == 200

    refund = Refund.objects.get(payment=payment)
    assert (refund.reason, refund.status) == ("cancelled", RefundStatus.SUCCEEDED)
    pending_booking.refresh_from_db()
    assert pending_booking.status == BookingStatus.CANCELLED


# --- Refunds ------------------------------------------------------------------------------


def test_cancelling_a_paid_booking_refunds_it_in_stripe(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks
):
    payment = paid_and_confirmed(pending_booking, webhook_endpoint)

    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=pending_booking.pk, by=pending_booking.customer)

    refund = Refund.objects.get(payment=payment)
    payment.refresh_from_db()
    assert (refund.reason, refund.status, refund.attempts) == ("customer_cancel", RefundStatus.SUCCEEDED, 1)
    assert refund.idempotency_key == f"booking-{pending_booking.pk}-refund"
    assert payment.status == PaymentStatus.REFUNDED
    stripe_refunds = refunds_for_intent(payment.stripe_payment_intent_id)
    assert [(r["id"], r["amount"]) for r in stripe_refunds] == [(refund.stripe_refund_id, 5000)]

    # Running the task again (a redelivery) sends nothing more.
    tasks.process_refund.delay(refund.pk)
    assert len(refunds_for_intent(payment.stripe_payment_intent_id)) == 1


def test_refund_is_retried_with_the_same_idempotency_key_after_network_failures(
    webhook_endpoint, pending_booking, closed_port_url, monkeypatch, eager_retries
):
    payment = paid_and_confirmed(pending_booking, webhook_endpoint)
    # on_commit not run: sent below
    booking_cancel_and_refund(booking_id=pending_booking.pk, by=pending_booking.customer)
    refund = Refund.objects.get(payment=payment)
    transport = RecordingTransport(failures=2, closed_url=closed_port_url)
    monkeypatch.setattr(gateway, "_http_client", lambda: transport)

    tasks.process_refund.delay(refund.pk)  # eager: Celery's retries run at once

    refund.refresh_from_db()
    assert (refund.status, refund.attempts, refund.last_error) == (RefundStatus.SUCCEEDED, 3, "")
    assert transport.calls == [("post", f"{django_settings.STRIPE_API_HOST}/v1/refunds", refund.idempotency_key)] * 3
    assert len(refunds_for_intent(payment.stripe_payment_intent_id)) == 1


def test_refund_that_keeps_failing_is_marked_failed_for_the_admin_and_can_be_sent_again(
    webhook_endpoint, pending_booking, closed_port_url, settings, eager_retries, django_capture_on_commit_callbacks
):
    payment = paid_and_confirmed(pending_booking, webhook_endpoint)
    booking_cancel_and_refund(booking_id=pending_booking.pk, by=pending_booking.customer)
    refund = Refund.objects.get(payment=payment)
    localstripe_url = settings.STRIPE_API_HOST
    settings.STRIPE_API_HOST = closed_port_url

    assert tasks.process_refund.delay(refund.pk).get() == "failed"

    refund.refresh_from_db()
    attempts = tasks.RETRY_OPTIONS["max_retries"] + 1
    assert (refund.status, refund.attempts) == (RefundStatus.FAILED, attempts)
    assert f"after {attempts} attempts" in refund.last_error
    assert "APIConnectionError" in refund.last_error or "connect" in refund.last_error.lower()
    settings.STRIPE_API_HOST = localstripe_url
    assert refunds_for_intent(payment.stripe_payment_intent_id) == []

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refund(payment_id=payment.pk)  # what the admin's "Refund" action calls

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert len(refunds_for_intent(payment.stripe_payment_intent_id)) == 1


def test_refund_refused_by_stripe_fails_at_once_with_the_reason(webhook_endpoint, pending_booking):
    payment = services.payment_intent_for_booking(
        booking_id=pending_booking.pk, customer=pending_booking.customer
    ).payment
    # Our records say succeeded, Stripe knows better: the intent was never paid.
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED)
    refund = Refund.objects.create(
        payment=payment, amount=payment.amount, reason="test", idempotency_key=f"booking-{pending_booking.pk}-refund"
    )

    assert tasks.process_refund.delay(refund.pk).get() == RefundStatus.FAILED

    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (RefundStatus.FAILED, 1)
    assert "InvalidRequestError" in refund.last_error


def test_admin_refund_of_a_confirmed_booking_sends_one_refund(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks
):
    payment = paid_and_confirmed(pending_booking, webhook_endpoint)

    with django_capture_on_commit_callbacks(execute=True):
        first = services.payment_refund(payment_id=payment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.payment_refund(payment_id=payment.pk)

    assert first.pk == again.pk
    first.refresh_from_db()
    assert (first.reason, first.status) == ("admin", RefundStatus.SUCCEEDED)
    assert len(refunds_for_intent(payment.stripe_payment_intent_id)) == 1


def test_nothing_to_refund_for_an_unpaid_booking(localstripe, pending_booking):
    payment = services.payment_intent_for_booking(
        booking_id=pending_booking.pk, customer=pending_booking.customer
    ).payment

    assert services.payment_refund(payment_id=payment.pk) is None
    assert not Refund.objects.exists()


# --- Reconciliation -----------------------------------------------------------------------


def backdate(payment: Payment, minutes: int = 5) -> None:
    Payment.objects.filter(pk=payment.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))


def test_reconciliation_confirms_a_paid_booking_whose_webhook_was_lost(webhook_endpoint, pending_booking):
    payment = create_and_pay(pending_booking)  # no webhook reaches us
    backdate(payment)

    assert checkout_tasks.reconcile_pending_payments.delay().get() == 1

    pending_booking.refresh_from_db()
    payment.refresh_from_db()
    assert pending_booking.status == BookingStatus.CONFIRMED
    assert payment.status == PaymentStatus.SUCCEEDED
    assert checkout_tasks.reconcile_pending_payments.delay().get() == 0


def test_reconciliation_refunds_a_lost_late_payment_for_a_cancelled_booking(
    webhook_endpoint, pending_booking, django_capture_on_commit_callbacks
):
    payment = services.payment_intent_for_booking(
        booking_id=pending_booking.pk, customer=pending_booking.customer
    ).payment
    booking_cancel_and_refund(booking_id=pending_booking.pk, by=pending_booking.customer)
    pay_intent(payment.stripe_payment_intent_id)
    backdate(payment)

    with django_capture_on_commit_callbacks(execute=True):
        assert checkout_tasks.reconcile_pending_payments.delay().get() == 1

    assert Refund.objects.get(payment=payment).status == RefundStatus.SUCCEEDED
    assert len(refunds_for_intent(payment.stripe_payment_intent_id)) == 1


def test_reconciliation_skips_fresh_and_settled_payments_and_old_expired_bookings(localstripe, paid_slot):
    fresh = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)
    services.payment_intent_for_booking(booking_id=fresh.pk, customer=fresh.customer)  # touched just now
    old = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)
    old_payment = services.payment_intent_for_booking(booking_id=old.pk, customer=old.customer).payment
    let_hold_expire(old)
    from bookings.models import Booking

    Booking.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    backdate(old_payment)

    assert checkout_tasks.reconcile_pending_payments.delay().get() == 0


def test_reconciliation_that_cannot_reach_stripe_notes_it_on_the_payment(
    localstripe, pending_booking, settings, closed_port_url, eager_retries
):
    payment = services.payment_intent_for_booking(
        booking_id=pending_booking.pk, customer=pending_booking.customer
    ).payment
    backdate(payment)
    settings.STRIPE_API_HOST = closed_port_url

    assert checkout_tasks.reconcile_pending_payments.delay().get() == 1

    payment.refresh_from_db()
    assert payment.last_error.startswith("reconciliation failed")
    assert payment.status == PaymentStatus.REQUIRES_PAYMENT
    pending_booking.refresh_from_db()
    assert pending_booking.status == BookingStatus.PENDING_PAYMENT


# --- Stripe errors and task settings -------------------------------------------------------


def test_transient_stripe_errors_are_told_apart_from_permanent_ones():
    import stripe

    assert gateway.is_transient(stripe.APIConnectionError("down"))
    assert gateway.is_transient(stripe.RateLimitError("slow down", http_status=429))
    assert gateway.is_transient(stripe.APIError("oops", http_status=503))
    assert not gateway.is_transient(stripe.APIError("conflict", http_status=409))
    assert not gateway.is_transient(stripe.InvalidRequestError("bad", param="amount", http_status=400))
    assert not gateway.is_transient(stripe.CardError("declined", param=None, code="card_declined"))
    assert not gateway.is_transient(stripe.AuthenticationError("bad key", http_status=401))


def test_retries_back_off_with_jitter_below_the_broker_visibility_timeout():
    for task in (tasks.process_refund, checkout_tasks.sync_payment_intent):
        assert task.acks_late
        assert task.retry_backoff
        assert task.retry_jitter
        assert task.max_retries == tasks.RETRY_OPTIONS["max_retries"]
        assert task.retry_backoff_max < django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_periodic_tasks_are_scheduled():
    schedule = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}

    assert schedule["bookings.tasks.expire_due_bookings"] == django_settings.BOOKING_EXPIRE_SWEEP_SECONDS
    assert schedule["checkout.tasks.reconcile_pending_payments"] == django_settings.PAYMENT_RECONCILE_SECONDS


def test_one_intent_per_booking_even_if_the_intent_id_was_never_stored(webhook_endpoint, pending_booking):
    """Stripe answered but the request died before storing the id: the webhook adopts the intent."""
    payment = create_and_pay(pending_booking)
    intent_id = payment.stripe_payment_intent_id
    Payment.objects.filter(pk=payment.pk).update(
        stripe_payment_intent_id="", client_secret="", status=PaymentStatus.CREATING
    )

    assert (
        post_event(webhook_endpoint, stripe_event("payment_intent.succeeded", retrieve_intent(intent_id))).status_code
        == 200
    )

    payment.refresh_from_db()
    pending_booking.refresh_from_db()
    assert (payment.stripe_payment_intent_id, payment.status) == (intent_id, PaymentStatus.SUCCEEDED)
    assert pending_booking.status == BookingStatus.CONFIRMED
    assert intents_for_booking(pending_booking.pk) == [intent_id]
