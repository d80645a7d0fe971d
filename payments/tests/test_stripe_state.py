"""Stripe's state, not the payload: correctly signed events are re-read from Stripe (localstripe) before anything moves.

Also: Stripe unreachable while an event is applied answers 503 (Stripe delivers
it again), and dj-stripe's own Stripe calls share our timeout.
"""

import socket
import time

import pytest
import stripe
from djstripe.models import Event
from djstripe.models import PaymentIntent as DjstripePaymentIntent

from bookings.models import BookingStatus, BookingStatusChange
from bookings.services import bookings_expire_due
from checkout import services as checkout_services
from payments import gateway, services
from payments.models import Payment, PaymentStatus, Refund
from payments.tests.stripe_helpers import (
    CARD_OK,
    pay_intent,
    post_event,
    retrieve_intent,
    stripe_as_customer,
    stripe_event,
)

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def create_intent(booking) -> Payment:
    return services.payment_intent_for_booking(booking_id=booking.pk, customer=booking.customer).payment


def confirmations(booking) -> int:
    return BookingStatusChange.objects.filter(booking=booking, to_status=BookingStatus.CONFIRMED).count()


def assert_not_confirmed(booking) -> Payment:
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert confirmations(booking) == 0
    payment = Payment.objects.get(booking=booking)
    assert payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
    return payment


# --- payment_intent.succeeded ----------------------------------------------------------------


def test_signed_succeeded_for_an_intent_stripe_shows_unpaid_confirms_nothing(webhook_endpoint, pending_booking):
    payment = create_intent(pending_booking)
    unpaid = retrieve_intent(payment.stripe_payment_intent_id)
    assert unpaid["status"] == "requires_payment_method"
    forged = {**unpaid, "status": "succeeded", "amount_received": unpaid["amount"]}

    response = post_event(webhook_endpoint, stripe_event("payment_intent.succeeded", forged))

    assert response.status_code == 200, response.content
    payment = assert_not_confirmed(pending_booking)
    assert payment.status == PaymentStatus.REQUIRES_PAYMENT


def test_succeeded_for_less_than_the_booking_costs_confirms_nothing(webhook_endpoint, pending_booking, caplog):
    payment = create_intent(pending_booking)
    intent_id = payment.stripe_payment_intent_id
    # The intent was changed at Stripe before it was paid: Stripe received 100, the booking costs 5000.
    stripe_as_customer().v1.payment_intents.update(intent_id, params={"amount": 100})
    pay_intent(intent_id, card=CARD_OK)
    paid = retrieve_intent(intent_id)
    assert paid["status"] == "succeeded"

    response = post_event(webhook_endpoint, stripe_event("payment_intent.succeeded", paid))

    assert response.status_code == 200, response.content
    payment = assert_not_confirmed(pending_booking)
    assert "amount_received 100, expected 5000" in payment.last_error
    assert "nothing confirmed" in caplog.text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": 4999}, "amount_received 5000, expected 4999"),
        ({"currency": "eur"}, "currency usd, expected eur"),
        ("live", "livemode False, expected True"),
    ],
)
def test_succeeded_that_does_not_pay_this_payment_confirms_nothing(
    webhook_endpoint, pending_booking, settings, change, expected
):
    payment = create_intent(pending_booking)
    pay_intent(payment.stripe_payment_intent_id)
    if change == "live":
        settings.STRIPE_LIVE_MODE = True  # a test-mode payment reaching the live site
    else:
        Payment.objects.filter(pk=payment.pk).update(**change)
    event = stripe_event("payment_intent.succeeded", retrieve_intent(payment.stripe_payment_intent_id))

    assert post_event(webhook_endpoint, event).status_code == 200

    payment = assert_not_confirmed(pending_booking)
    assert expected in payment.last_error


def test_reconciliation_applies_the_same_checks(localstripe, pending_booking):
    payment = create_intent(pending_booking)
    pay_intent(payment.stripe_payment_intent_id)
    Payment.objects.filter(pk=payment.pk).update(amount=6000)

    assert checkout_services.payment_reconcile(payment_id=payment.pk) == services.ApplyOutcome.MISMATCH

    assert "amount_received 5000, expected 6000" in assert_not_confirmed(pending_booking).last_error


def test_a_late_payment_that_matches_still_confirms_from_stripes_state(webhook_endpoint, pending_booking):
    payment = create_intent(pending_booking)
    pay_intent(payment.stripe_payment_intent_id)
    bookings_expire_due(now=pending_booking.expires_at)
    # The payload is stale (it still says requires_confirmation); Stripe says succeeded.
    stale = {**retrieve_intent(payment.stripe_payment_intent_id), "status": "requires_confirmation"}

    assert post_event(webhook_endpoint, stripe_event("payment_intent.processing", stale)).status_code == 200

    pending_booking.refresh_from_db()
    assert pending_booking.status == BookingStatus.CONFIRMED
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED


# --- charge.refunded ---------------------------------------------------------------------------


def test_signed_charge_refunded_for_a_charge_stripe_shows_unrefunded_records_nothing(webhook_endpoint, pending_booking):
    payment = create_intent(pending_booking)
    pay_intent(payment.stripe_payment_intent_id)
    intent = retrieve_intent(payment.stripe_payment_intent_id)
    assert post_event(webhook_endpoint, stripe_event("payment_intent.succeeded", intent)).status_code == 200
    forged = {**intent["latest_charge"], "refunded": True, "amount_refunded": intent["amount"]}

    response = post_event(webhook_endpoint, stripe_event("charge.refunded", forged))

    assert response.status_code == 200, response.content
    assert not Refund.objects.filter(payment=payment).exists()
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    assert services.payment_refund_for_booking(booking_id=pending_booking.pk, reason="customer_cancel") is not None


# --- Stripe unreachable while applying a webhook -------------------------------------------------


@pytest.mark.parametrize("down", ["ours", "dj-stripe's"])
def test_stripe_unreachable_while_applying_answers_503_and_the_redelivery_confirms(
    webhook_endpoint, pending_booking, settings, closed_port_url, monkeypatch, down
):
    payment = create_intent(pending_booking)
    pay_intent(payment.stripe_payment_intent_id)
    event = stripe_event("payment_intent.succeeded", retrieve_intent(payment.stripe_payment_intent_id))
    localstripe_url = settings.STRIPE_API_HOST
    if down == "ours":
        settings.STRIPE_API_HOST = closed_port_url  # our re-read fails, dj-stripe's sync works
    else:
        monkeypatch.setattr(stripe, "api_base", closed_port_url)  # dj-stripe's sync fails first

    response = post_event(webhook_endpoint, event)

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "payment_provider_unavailable"
    assert response["Retry-After"]
    assert_not_confirmed(pending_booking)
    assert not Event.objects.filter(id=event["id"]).exists()  # rolled back: the redelivery is processed

    settings.STRIPE_API_HOST = localstripe_url
    monkeypatch.setattr(stripe, "api_base", localstripe_url)
    assert post_event(webhook_endpoint, event).status_code == 200
    pending_booking.refresh_from_db()
    assert pending_booking.status == BookingStatus.CONFIRMED


def test_an_intent_stripe_does_not_know_is_noted_and_not_retried(localstripe, pending_booking):
    payment = create_intent(pending_booking)
    intent = retrieve_intent(payment.stripe_payment_intent_id)
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_unknown_at_stripe")
    forged = {**intent, "id": "pi_unknown_at_stripe", "status": "succeeded"}

    # What the receiver calls (dj-stripe's own sync of such an event is dj-stripe's business).
    outcome = checkout_services.payment_intent_apply_event(intent=forged)

    assert outcome == services.ApplyOutcome.UNCHANGED  # refused (404), not transient: no redelivery asked for
    assert "InvalidRequestError" in assert_not_confirmed(pending_booking).last_error


# --- dj-stripe's own calls --------------------------------------------------------------------


def test_dj_stripes_sdk_client_has_our_timeout_and_no_hidden_retries(settings):
    client = stripe.default_http_client

    assert isinstance(client, stripe.RequestsClient)
    assert client._timeout == settings.STRIPE_TIMEOUT_SECONDS
    assert stripe.max_network_retries == 0


@pytest.fixture
def hung_stripe():
    """A Stripe API address that accepts connections and never answers (Stripe hung)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_dj_stripe_call_to_a_hung_stripe_gives_up_after_stripe_timeout_seconds(
    localstripe, settings, monkeypatch, hung_stripe
):
    settings.STRIPE_TIMEOUT_SECONDS = 1
    monkeypatch.setattr(stripe, "default_http_client", stripe.default_http_client)  # restored after the test
    monkeypatch.setattr(stripe, "max_network_retries", stripe.max_network_retries)
    gateway.configure_sdk_defaults()
    monkeypatch.setattr(stripe, "api_base", hung_stripe)

    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        DjstripePaymentIntent(id="pi_hung").api_retrieve(api_key=settings.STRIPE_SECRET_KEY)

    assert time.monotonic() - started < 3
