"""The checkout page's pay endpoint (`portal:booking-pay`) through Django's client, against a real localstripe.

The browser's part (Stripe.js `createToken`) is done here by `card_token`,
which posts the card to localstripe with the publishable key exactly as the
stand-in Stripe.js does; everything after that is the real endpoint, the real
service and a real localstripe.
"""

import time

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory
from devtools.embedded import free_port
from payments import gateway, services
from payments.models import Payment, PaymentStatus
from payments.stripe_setup import ensure_webhook_endpoint
from payments.tests.stripe_helpers import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    RecordingTransport,
    card_token,
    intents_for_booking,
    retrieve_intent,
)

pytestmark = pytest.mark.localstripe


def pay_url(booking) -> str:
    return reverse("portal:booking-pay", args=[booking.pk])


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def pending(db, customer):
    """A 2-person hold on a $25 theme (5000 cents to pay), made by the booking engine."""
    slot = SlotFactory(theme__price=2500, theme__currency="usd", capacity=5)
    return booking_join(slot_id=slot.pk, customer=customer, party_size=2)


@pytest.mark.django_db
def test_a_good_card_is_charged_once_on_the_bookings_one_intent(web, localstripe, pending):
    response = web.post(pay_url(pending), {"token": card_token(CARD_OK)})

    assert response.status_code == 200, response.content
    payment = Payment.objects.get(booking=pending)
    assert response.json() == {"status": "succeeded", "client_secret": payment.client_secret, "requires_action": False}
    assert intents_for_booking(pending.pk) == [payment.stripe_payment_intent_id]
    intent = retrieve_intent(payment.stripe_payment_intent_id)
    assert (intent["status"], intent["amount"], intent["currency"]) == ("succeeded", 5000, "usd")
    # The webhook confirms the booking, not this request.
    pending.refresh_from_db()
    assert pending.status == BookingStatus.PENDING_PAYMENT


@pytest.mark.django_db
def test_paying_again_after_success_attaches_nothing_and_answers_succeeded(web, localstripe, pending):
    assert web.post(pay_url(pending), {"token": card_token(CARD_OK)}).status_code == 200
    intent_id = Payment.objects.get(booking=pending).stripe_payment_intent_id
    first_method = retrieve_intent(intent_id)["payment_method"]

    again = web.post(pay_url(pending), {"token": card_token(CARD_OK)})

    assert again.status_code == 200
    assert again.json()["status"] == "succeeded"
    assert retrieve_intent(intent_id)["payment_method"] == first_method
    assert intents_for_booking(pending.pk) == [intent_id]


@pytest.mark.django_db
def test_a_declined_card_answers_402_with_a_clear_message_and_the_booking_stays_pending(web, localstripe, pending):
    response = web.post(pay_url(pending), {"token": card_token(CARD_DECLINED)})

    assert response.status_code == 402
    assert response.json() == {"detail": "Your card was declined.", "code": "card_declined"}
    pending.refresh_from_db()
    assert pending.status == BookingStatus.PENDING_PAYMENT
    intent = retrieve_intent(Payment.objects.get(booking=pending).stripe_payment_intent_id)
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "card_declined"


@pytest.mark.django_db
def test_a_card_asking_for_3d_secure_hands_the_client_secret_back_to_the_browser(web, localstripe, pending):
    response = web.post(pay_url(pending), {"token": card_token(CARD_3DS)})

    assert response.status_code == 200
    payment = Payment.objects.get(booking=pending)
    assert response.json() == {
        "status": "requires_action",
        "client_secret": payment.client_secret,
        "requires_action": True,
    }


@pytest.mark.django_db
def test_another_customers_booking_is_404_and_never_reaches_stripe(web, localstripe):
    booking = booking_join(slot_id=SlotFactory(theme__price=2500).pk, customer=UserFactory(), party_size=1)

    response = web.post(pay_url(booking), {"token": card_token(CARD_OK)})

    assert response.status_code == 404
    assert not Payment.objects.filter(booking=booking).exists()
    assert intents_for_booking(booking.pk) == []


@pytest.mark.django_db
def test_a_booking_that_is_not_a_pending_hold_is_409_not_payable(web, localstripe, customer):
    booking = ConfirmedBookingFactory(customer=customer)

    response = web.post(pay_url(booking), {"token": card_token(CARD_OK)})

    assert response.status_code == 409
    assert response.json()["code"] == "not_payable"
    assert intents_for_booking(booking.pk) == []


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client, pending):
    url = pay_url(pending)

    response = client.post(url, {"token": "tok_whatever"})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={url}"


@pytest.mark.django_db
def test_only_post_is_allowed(web, pending):
    assert web.get(pay_url(pending)).status_code == 405


@pytest.mark.django_db
def test_the_pay_endpoint_needs_a_csrf_token(customer, pending):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)

    assert client.post(pay_url(pending), {"token": "tok_whatever"}).status_code == 403
    assert not Payment.objects.filter(booking=pending).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "pm_123", "tok_", "tok_abc def", "tok_" + "a" * 201])
def test_something_that_is_not_a_card_token_is_400_before_stripe_is_called(web, pending, token):
    response = web.post(pay_url(pending), {"token": token})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert not Payment.objects.filter(booking=pending).exists()


@pytest.mark.django_db
def test_stripe_unreachable_is_503_and_says_to_try_again(web, localstripe, pending, settings):
    assert web.post(pay_url(pending), {"token": card_token(CARD_DECLINED)}).status_code == 402  # the intent exists
    token = card_token(CARD_OK)
    settings.STRIPE_API_HOST = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    response = web.post(pay_url(pending), {"token": token})

    assert response.status_code == 503
    assert response.json()["code"] == "payment_provider_unavailable"
    assert "APIConnectionError" in Payment.objects.get(booking=pending).last_error


@pytest.mark.django_db
def test_with_real_stripe_the_token_becomes_a_payment_method_under_a_deterministic_key(
    web, localstripe, pending, monkeypatch
):
    """The api.stripe.com branch, as far as it can run here: the calls it makes and their keys.

    localstripe does not implement `card[token]` on PaymentMethods, so it
    refuses the first write (400): the endpoint answers 502 and nothing is charged.
    """
    token = card_token(CARD_OK)
    services.payment_intent_for_booking(booking_id=pending.pk, customer=pending.customer)
    transport = RecordingTransport()
    monkeypatch.setattr(gateway, "_http_client", lambda: transport)
    monkeypatch.setattr(services, "_talks_to_localstripe", lambda: False)

    response = web.post(pay_url(pending), {"token": token})

    intent_id = Payment.objects.get(booking=pending).stripe_payment_intent_id
    assert [(method, url.split("/v1/")[1], key) for method, url, key in transport.calls] == [
        ("get", f"payment_intents/{intent_id}", None),
        ("post", "payment_methods", f"booking-{pending.pk}-confirm-{token}-method"),
    ]
    assert response.status_code == 502
    assert response.json()["code"] == "payment_provider_error"
    assert retrieve_intent(intent_id)["status"] == "requires_payment_method"


@pytest.mark.django_db(transaction=True)
def test_the_webhook_then_confirms_the_booking(localstripe, localstripe_delivers_to):
    """Pay endpoint -> localstripe -> signed payment_intent.succeeded -> live server -> confirmed."""
    localstripe_delivers_to(ensure_webhook_endpoint())
    customer = UserFactory()
    slot = SlotFactory(theme__price=2500, theme__currency="usd", capacity=5)
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)
    client = Client()
    client.force_login(customer)

    assert client.post(pay_url(booking), {"token": card_token(CARD_OK)}).status_code == 200

    deadline = time.monotonic() + 10
    while Booking.objects.get(pk=booking.pk).status != BookingStatus.CONFIRMED and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED
    assert Payment.objects.get(booking=booking).status == PaymentStatus.SUCCEEDED
    assert client.get(reverse("portal:booking-status", args=[booking.pk])).json()["status"] == "confirmed"
