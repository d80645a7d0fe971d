"""POST /api/v1/payments/create/ against a real localstripe."""

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.services import booking_join
from bookings.tests.factories import BookingFactory
from catalog.tests.factories import SlotFactory
from conftest import bearer_client
from payments.models import Payment, PaymentStatus
from payments.tests.stripe_helpers import intents_for_booking, retrieve_intent
from tests.concurrency import run_together

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]

URL = "/api/v1/payments/create/"


@pytest.fixture
def owner_client(pending_booking):
    return bearer_client(pending_booking.customer)


def test_create_returns_a_card_intent_for_the_booking_amount(localstripe, pending_booking, owner_client):
    response = owner_client.post(URL, {"booking": pending_booking.pk})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["booking"] == pending_booking.pk
    assert body["amount"] == 5000
    assert body["currency"] == "usd"
    assert body["status"] == PaymentStatus.REQUIRES_PAYMENT
    assert body["client_secret"].startswith(body["payment_intent_id"] + "_secret_")
    intent = retrieve_intent(body["payment_intent_id"])
    assert (intent["amount"], intent["currency"]) == (5000, "usd")
    assert intent["metadata"] == {"booking_id": str(pending_booking.pk)}
    payment = Payment.objects.get(booking=pending_booking)
    assert payment.idempotency_key == f"booking-{pending_booking.pk}-intent"
    assert payment.client_secret == body["client_secret"]


def test_repeat_returns_the_same_intent_with_200(localstripe, pending_booking, owner_client):
    first = owner_client.post(URL, {"booking": pending_booking.pk})
    second = owner_client.post(URL, {"booking": pending_booking.pk})

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["payment_intent_id"] == first.json()["payment_intent_id"]
    assert second.json()["client_secret"] == first.json()["client_secret"]
    assert intents_for_booking(pending_booking.pk) == [first.json()["payment_intent_id"]]


def test_same_idempotency_key_for_the_same_booking_gives_the_same_response(localstripe, pending_booking, owner_client):
    first = owner_client.post(URL, {"booking": pending_booking.pk}, HTTP_IDEMPOTENCY_KEY="checkout-1")
    again = owner_client.post(URL, {"booking": pending_booking.pk}, HTTP_IDEMPOTENCY_KEY="checkout-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(intents_for_booking(pending_booking.pk)) == 1


def test_idempotency_key_reused_for_another_booking_is_refused(localstripe, pending_booking, owner_client):
    other = booking_join(slot_id=SlotFactory().pk, customer=pending_booking.customer, party_size=1)
    assert owner_client.post(URL, {"booking": pending_booking.pk}, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201

    response = owner_client.post(URL, {"booking": other.pk}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Payment.objects.filter(booking=other).exists()
    assert intents_for_booking(other.pk) == []


def test_idempotency_keys_of_different_customers_do_not_clash(localstripe, pending_booking, owner_client):
    stranger = UserFactory()
    theirs = booking_join(slot_id=SlotFactory().pk, customer=stranger, party_size=1)

    mine = owner_client.post(URL, {"booking": pending_booking.pk}, HTTP_IDEMPOTENCY_KEY="1")
    their = bearer_client(stranger).post(URL, {"booking": theirs.pk}, HTTP_IDEMPOTENCY_KEY="1")

    assert (mine.status_code, their.status_code) == (201, 201)


def test_another_customers_booking_is_not_found(localstripe, pending_booking):
    response = bearer_client(UserFactory()).post(URL, {"booking": pending_booking.pk})

    assert response.status_code == 404
    assert not Payment.objects.exists()


def test_the_slot_merchant_cannot_create_the_customers_payment(localstripe, pending_booking):
    merchant_owner = pending_booking.slot.theme.merchant.owner

    assert bearer_client(merchant_owner).post(URL, {"booking": pending_booking.pk}).status_code == 404


def test_unknown_booking_is_not_found_and_anonymous_is_refused(localstripe, pending_booking, api_client):
    assert bearer_client(pending_booking.customer).post(URL, {"booking": 987654321}).status_code == 404
    assert api_client.post(URL, {"booking": pending_booking.pk}).status_code == 401


@pytest.mark.parametrize("body", [{}, {"booking": "abc"}, {"booking": -1}, {"booking": 2**70}])
def test_bad_input_is_a_400(localstripe, owner_client, body):
    assert owner_client.post(URL, body).status_code == 400


def test_overlong_idempotency_key_is_a_400(localstripe, pending_booking, owner_client):
    response = owner_client.post(URL, {"booking": pending_booking.pk}, HTTP_IDEMPOTENCY_KEY="k" * 201)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_confirmed_booking_is_not_payable(localstripe, db):
    booking = BookingFactory(status=BookingStatus.CONFIRMED, expires_at=None, confirmed_at=timezone.now())

    response = bearer_client(booking.customer).post(URL, {"booking": booking.pk})

    assert response.status_code == 409
    assert response.json()["code"] == "not_payable"
    assert intents_for_booking(booking.pk) == []


def test_expired_hold_is_not_payable(localstripe, pending_booking, owner_client):
    pending_booking.expires_at = timezone.now() - timezone.timedelta(seconds=1)
    pending_booking.save(update_fields=["expires_at"])

    response = owner_client.post(URL, {"booking": pending_booking.pk})

    assert response.status_code == 409
    assert response.json()["code"] == "not_payable"


def test_free_theme_never_calls_stripe(settings, closed_port_url, db):
    settings.STRIPE_API_HOST = closed_port_url  # any Stripe call would be a 503
    booking = booking_join(slot_id=SlotFactory(theme__price=0).pk, customer=UserFactory(), party_size=2)
    assert booking.status == BookingStatus.CONFIRMED
    zero_hold = BookingFactory(slot__theme__price=0)

    for free in (booking, zero_hold):
        response = bearer_client(free.customer).post(URL, {"booking": free.pk})
        assert response.status_code == 409
        assert response.json()["code"] == "not_payable"
    assert not Payment.objects.exists()


def test_stripe_down_is_a_503_and_a_later_retry_succeeds(settings, localstripe, closed_port_url, pending_booking):
    client = bearer_client(pending_booking.customer)
    settings.STRIPE_API_HOST = closed_port_url

    down = client.post(URL, {"booking": pending_booking.pk})

    assert down.status_code == 503
    assert down.json()["code"] == "payment_provider_unavailable"
    assert down.json()["detail"]
    payment = Payment.objects.get(booking=pending_booking)
    assert (payment.status, payment.stripe_payment_intent_id) == (PaymentStatus.CREATING, "")
    assert "APIConnectionError" in payment.last_error

    settings.STRIPE_API_HOST = localstripe
    up = client.post(URL, {"booking": pending_booking.pk})

    assert up.status_code == 201
    payment.refresh_from_db()
    assert payment.stripe_payment_intent_id == up.json()["payment_intent_id"]
    assert (payment.status, payment.last_error) == (PaymentStatus.REQUIRES_PAYMENT, "")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_create_one_intent(localstripe, paid_slot, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "pay": "100/minute"}}
    booking = booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=1)
    callers = 20

    def pay(client) -> tuple[int, dict]:
        response = client.post(URL, {"booking": booking.pk})
        return response.status_code, response.json()

    clients = [bearer_client(booking.customer) for _ in range(callers)]
    answers = run_together([lambda client=client: pay(client) for client in clients])

    codes = sorted(code for code, _ in answers)
    assert codes == [200] * (callers - 1) + [201], answers
    assert len({body["payment_intent_id"] for _, body in answers}) == 1
    assert len(intents_for_booking(booking.pk)) == 1
    assert Payment.objects.filter(booking=booking).count() == 1


def test_a_request_that_waits_too_long_for_a_concurrent_creation_gets_a_503(localstripe, pending_booking, settings):
    from django.db import connections

    from payments.services import INTENT_LOCK_NAMESPACE

    settings.STRIPE_TIMEOUT_SECONDS = 1  # waiters give up after timeout + 2 s
    other = connections.create_connection("default")  # another request, stuck calling Stripe
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [INTENT_LOCK_NAMESPACE, pending_booking.pk])

        response = bearer_client(pending_booking.customer).post(URL, {"booking": pending_booking.pk})

        assert response.status_code == 503
        assert response.json()["code"] == "payment_provider_unavailable"
        assert intents_for_booking(pending_booking.pk) == []
    finally:
        other.close()

    retry = bearer_client(pending_booking.customer).post(URL, {"booking": pending_booking.pk})
    assert retry.status_code == 201
