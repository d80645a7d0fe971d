"""Card testing: the pay endpoints are throttled per user and per IP (THROTTLE_PAY), and a booking's
card is refused after MAX_FAILED_ATTEMPTS failed attempts, each counted once (against localstripe)."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from bookings.services import booking_join
from catalog.tests.factories import SlotFactory
from conftest import bearer_client
from payments import services
from payments.models import Payment, PaymentStatus
from payments.tests.factories import PaymentFactory
from payments.tests.stripe_helpers import (
    CARD_DECLINED,
    card_token,
    pay_intent,
    post_event,
    retrieve_intent,
    stripe_event,
)

pytestmark = pytest.mark.django_db

API_URL = "/api/v1/payments/create/"


def pay_url(booking_id: int) -> str:
    return reverse("portal:booking-pay", args=[booking_id])


@pytest.fixture
def pay_rate(settings):
    def set_rate(rate: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "pay": rate},
        }

    return set_rate


def portal(user, ip: str = "127.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.force_login(user)
    return client


# --- THROTTLE_PAY -----------------------------------------------------------------------------


def test_the_default_pay_rate_is_ten_a_minute(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["pay"] == "10/minute"


def test_portal_pay_answers_429_once_the_users_budget_is_spent_whatever_the_ip(pay_rate):
    pay_rate("2/minute")
    user = UserFactory()

    responses = [portal(user, ip=f"10.0.0.{n}").post(pay_url(999999), {"token": "tok_x"}) for n in range(3)]

    assert [r.status_code for r in responses] == [404, 404, 429]
    wait = int(responses[2]["Retry-After"])
    assert 0 < wait <= 60
    assert responses[2].json() == {
        "detail": f"Too many payment attempts. Try again in {wait} seconds.",
        "code": "throttled",
    }


def test_portal_pay_answers_429_once_the_ips_budget_is_spent_whatever_the_user(pay_rate):
    pay_rate("2/minute")

    statuses = [portal(UserFactory(), ip="10.0.0.9").post(pay_url(999999)).status_code for _ in range(3)]

    assert statuses == [404, 404, 429]
    assert portal(UserFactory(), ip="10.0.0.10").post(pay_url(999999)).status_code == 404


def test_api_payments_create_is_throttled_per_user_and_per_ip(pay_rate):
    pay_rate("2/minute")
    user = UserFactory()
    client = bearer_client(user)

    statuses = [client.post(API_URL, {"booking": 999999}, REMOTE_ADDR=f"10.0.1.{n}").status_code for n in range(3)]
    other_users = [
        bearer_client(UserFactory()).post(API_URL, {"booking": 999999}, REMOTE_ADDR="10.0.2.1").status_code
        for _ in range(3)
    ]

    assert statuses == [404, 404, 429]
    assert other_users == [404, 404, 429]


def test_the_portal_and_the_api_share_one_budget(pay_rate):
    pay_rate("2/minute")
    user = UserFactory()

    assert bearer_client(user).post(API_URL, {"booking": 999999}).status_code == 404
    assert portal(user).post(pay_url(999999)).status_code == 404
    assert bearer_client(user).post(API_URL, {"booking": 999999}).status_code == 429
    assert portal(user).post(pay_url(999999)).status_code == 429


# --- Too many failed attempts: 409 too_many_attempts -------------------------------------------


@pytest.fixture
def blocked_payment(db):
    """A pending booking whose card was refused MAX_FAILED_ATTEMPTS times (rows only: no Stripe call follows)."""
    booking = booking_join(
        slot_id=SlotFactory(theme__price=2500, theme__currency="usd").pk, customer=UserFactory(), party_size=1
    )
    keys = [f"charge:ch_failed_{n}" for n in range(services.MAX_FAILED_ATTEMPTS)]
    return PaymentFactory(booking=booking, failure_keys=keys, failed_attempts=len(keys))


def test_a_booking_whose_card_was_refused_five_times_is_409_in_the_api(blocked_payment, settings, closed_port_url):
    settings.STRIPE_API_HOST = closed_port_url  # refused before Stripe is asked anything

    response = bearer_client(blocked_payment.booking.customer).post(API_URL, {"booking": blocked_payment.booking_id})

    assert response.status_code == 409
    assert response.json()["code"] == "too_many_attempts"


def test_a_booking_whose_card_was_refused_five_times_is_409_in_the_portal(blocked_payment, settings, closed_port_url):
    settings.STRIPE_API_HOST = closed_port_url
    client = portal(blocked_payment.booking.customer)

    response = client.post(pay_url(blocked_payment.booking_id), {"token": "tok_anything"})

    assert response.status_code == 409
    assert response.json()["code"] == "too_many_attempts"
    checkout = client.get(reverse("portal:checkout", args=[blocked_payment.booking_id]), follow=True)
    assert "can no longer be paid by card" in checkout.content.decode()


def test_four_failures_still_allow_another_card(blocked_payment, settings, closed_port_url):
    Payment.objects.filter(pk=blocked_payment.pk).update(failed_attempts=services.MAX_FAILED_ATTEMPTS - 1)
    settings.STRIPE_API_HOST = closed_port_url

    response = bearer_client(blocked_payment.booking.customer).post(API_URL, {"booking": blocked_payment.booking_id})

    assert response.status_code == 200  # the intent exists; Stripe is not called


# --- Counting failures, each once (real declines at localstripe) -------------------------------------


@pytest.fixture
def customer_booking(db, localstripe):
    customer = UserFactory()
    slot = SlotFactory(theme__price=2500, theme__currency="usd", capacity=5)
    return booking_join(slot_id=slot.pk, customer=customer, party_size=2)


def payment_of(booking) -> Payment:
    return Payment.objects.get(booking=booking)


def test_a_decline_reported_by_the_confirm_answer_and_by_the_webhook_counts_once(webhook_endpoint, customer_booking):
    client = portal(customer_booking.customer)

    assert client.post(pay_url(customer_booking.pk), {"token": card_token(CARD_DECLINED)}).status_code == 402
    payment = payment_of(customer_booking)
    assert payment.failed_attempts == 1
    failed = stripe_event("payment_intent.payment_failed", retrieve_intent(payment.stripe_payment_intent_id))
    for _ in range(2):  # the webhook for the same attempt, delivered twice (two event ids would do the same)
        assert post_event(webhook_endpoint, failed).status_code == 200

    payment.refresh_from_db()
    assert payment.failed_attempts == 1
    assert payment.failure_keys == [
        f"charge:{retrieve_intent(payment.stripe_payment_intent_id)['latest_charge']['id']}"
    ]
    assert payment.status == PaymentStatus.FAILED


def test_a_decline_made_with_stripe_js_is_counted_from_the_webhook(webhook_endpoint, customer_booking):
    """The API path: the client confirms with Stripe.js and the client secret; only the webhook tells us."""
    payment = services.payment_intent_for_booking(
        booking_id=customer_booking.pk, customer=customer_booking.customer
    ).payment
    with pytest.raises(Exception, match="declined"):
        pay_intent(payment.stripe_payment_intent_id, card=CARD_DECLINED)

    event = stripe_event("payment_intent.payment_failed", retrieve_intent(payment.stripe_payment_intent_id))
    assert post_event(webhook_endpoint, event).status_code == 200

    assert payment_of(customer_booking).failed_attempts == 1


def test_a_failure_the_payload_claims_but_stripe_does_not_show_for_this_intent_is_not_counted(
    webhook_endpoint, customer_booking, paid_slot
):
    other = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)
    other_payment = services.payment_intent_for_booking(booking_id=other.pk, customer=other.customer).payment
    with pytest.raises(Exception, match="declined"):
        pay_intent(other_payment.stripe_payment_intent_id, card=CARD_DECLINED)
    other_charge = retrieve_intent(other_payment.stripe_payment_intent_id)["latest_charge"]["id"]
    payment = services.payment_intent_for_booking(
        booking_id=customer_booking.pk, customer=customer_booking.customer
    ).payment
    intent = retrieve_intent(payment.stripe_payment_intent_id)  # never tried: no failure at Stripe
    claimed = {
        **intent,
        "last_payment_error": {"charge": other_charge, "code": "card_declined", "message": "Your card was declined."},
    }

    assert post_event(webhook_endpoint, stripe_event("payment_intent.payment_failed", claimed)).status_code == 200

    payment.refresh_from_db()
    assert (payment.failed_attempts, payment.status) == (0, PaymentStatus.REQUIRES_PAYMENT)


def test_the_fifth_decline_in_the_portal_refuses_the_card_and_cancels_the_intent(customer_booking):
    payment = services.payment_intent_for_booking(
        booking_id=customer_booking.pk, customer=customer_booking.customer
    ).payment
    earlier = [f"charge:ch_earlier_{n}" for n in range(services.MAX_FAILED_ATTEMPTS - 1)]
    Payment.objects.filter(pk=payment.pk).update(failure_keys=earlier, failed_attempts=len(earlier))
    client = portal(customer_booking.customer)

    assert client.post(pay_url(customer_booking.pk), {"token": card_token(CARD_DECLINED)}).status_code == 402

    payment.refresh_from_db()
    assert payment.failed_attempts == services.MAX_FAILED_ATTEMPTS
    # A client secret already handed out can try no more cards.
    assert retrieve_intent(payment.stripe_payment_intent_id)["status"] == "canceled"
    assert payment.status == PaymentStatus.CANCELED
    again = client.post(pay_url(customer_booking.pk), {"token": card_token(CARD_DECLINED)})
    assert (again.status_code, again.json()["code"]) == (409, "too_many_attempts")


def test_the_fifth_decline_reported_by_webhook_cancels_the_intent_after_commit(
    webhook_endpoint, customer_booking, django_capture_on_commit_callbacks
):
    payment = services.payment_intent_for_booking(
        booking_id=customer_booking.pk, customer=customer_booking.customer
    ).payment
    earlier = [f"charge:ch_earlier_{n}" for n in range(services.MAX_FAILED_ATTEMPTS - 1)]
    Payment.objects.filter(pk=payment.pk).update(failure_keys=earlier, failed_attempts=len(earlier))
    with pytest.raises(Exception, match="declined"):
        pay_intent(payment.stripe_payment_intent_id, card=CARD_DECLINED)
    event = stripe_event("payment_intent.payment_failed", retrieve_intent(payment.stripe_payment_intent_id))

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(webhook_endpoint, event).status_code == 200

    payment.refresh_from_db()
    assert payment.failed_attempts == services.MAX_FAILED_ATTEMPTS
    assert retrieve_intent(payment.stripe_payment_intent_id)["status"] == "canceled"
    response = bearer_client(customer_booking.customer).post(API_URL, {"booking": customer_booking.pk})
    assert (response.status_code, response.json()["code"]) == (409, "too_many_attempts")
