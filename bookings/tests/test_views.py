"""Customer booking pages through Django's test client: my bookings, checkout, status poll, cancel."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import views
from bookings.models import BookingStatus
from bookings.services import booking_confirm_payment, booking_join
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.errors import DomainError
from catalog.tests.factories import SlotFactory
from payments.models import Payment, PaymentStatus, Refund, RefundStatus
from payments.services import IntentResult
from payments.tests.factories import PaymentFactory, RefundFactory
from reviews.tests.factories import AttendedBookingFactory, ReviewFactory

pytestmark = pytest.mark.django_db

MY_BOOKINGS_URL = reverse("portal:my-bookings")


def checkout_url(booking) -> str:
    return reverse("portal:checkout", args=[booking.pk])


def status_url(booking) -> str:
    return reverse("portal:booking-status", args=[booking.pk])


def cancel_url(booking) -> str:
    return reverse("portal:booking-cancel", args=[booking.pk])


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def pending(customer):
    """A 2-person hold on a $25 theme, made by the booking engine."""
    slot = SlotFactory(theme__price=2500, theme__currency="usd", capacity=5)
    return booking_join(slot_id=slot.pk, customer=customer, party_size=2)


@pytest.fixture
def intents(monkeypatch):
    """The payments service as the checkout page sees it; records who asked for which booking.

    The Stripe side of payment_intent_for_booking is tested against localstripe
    in payments/tests; here only what the page does with its answer matters.
    """
    calls = []

    def fake_intent_for_booking(*, booking_id, customer, client_key="", now=None):
        calls.append((booking_id, customer.pk))
        payment = Payment(
            booking_id=booking_id,
            stripe_payment_intent_id=f"pi_test_{booking_id}",
            client_secret=f"pi_test_{booking_id}_secret_abc",
            amount=5000,
            currency="usd",
            status=PaymentStatus.REQUIRES_PAYMENT,
        )
        return IntentResult(payment=payment, created=True)

    monkeypatch.setattr(views, "payment_intent_for_booking", fake_intent_for_booking)
    return calls


def other_customers_booking():
    return ConfirmedBookingFactory(customer=UserFactory())


# --- Anonymous and other customers --------------------------------------------------------


@pytest.mark.parametrize("name", ["my-bookings", "checkout", "booking-status", "booking-cancel"])
def test_anonymous_visitors_are_sent_to_log_in(client, name):
    booking = BookingFactory()
    url = MY_BOOKINGS_URL if name == "my-bookings" else reverse(f"portal:{name}", args=[booking.pk])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={url}"


@pytest.mark.parametrize("name", ["checkout", "booking-status", "booking-cancel"])
def test_another_customers_booking_is_404(web, name, intents):
    booking = other_customers_booking()

    assert web.get(reverse(f"portal:{name}", args=[booking.pk])).status_code == 404
    if name == "booking-cancel":
        assert web.post(reverse(f"portal:{name}", args=[booking.pk])).status_code == 404
        booking.refresh_from_db()
        assert booking.status == BookingStatus.CONFIRMED
    assert intents == []


def test_the_merchant_of_the_slot_does_not_get_the_customer_pages_either(client, intents):
    booking = ConfirmedBookingFactory()
    client.force_login(booking.slot.theme.merchant.owner)

    assert client.get(cancel_url(booking)).status_code == 404
    assert client.get(status_url(booking)).status_code == 404


# --- My bookings -------------------------------------------------------------------------------


def test_my_bookings_splits_upcoming_and_past_with_status_badges(web, customer):
    upcoming = ConfirmedBookingFactory(customer=customer, slot__theme__title="Future Room")
    past_slot = SlotFactory(
        theme__title="Past Room",
        starts_at=timezone.now() - timedelta(days=3),
        ends_at=timezone.now() - timedelta(days=3) + timedelta(hours=1),
    )
    past = ConfirmedBookingFactory(customer=customer, slot=past_slot, status=BookingStatus.NO_SHOW)
    ConfirmedBookingFactory(slot__theme__title="Not Mine")

    response = web.get(MY_BOOKINGS_URL)

    assert response.status_code == 200
    html = response.content.decode()
    upcoming_part, past_part = html.split('id="past-heading"')
    assert "Future Room" in upcoming_part
    assert 'class="badge badge-confirmed">Confirmed<' in upcoming_part
    assert "Past Room" in past_part
    assert 'class="badge badge-no_show">No-show<' in past_part
    assert "Not Mine" not in html
    assert f"Booking #{upcoming.pk}" in html
    assert f"Booking #{past.pk}" in html


def test_my_bookings_offers_pay_and_cancel_for_a_hold(web, pending):
    html = web.get(MY_BOOKINGS_URL).content.decode()

    assert checkout_url(pending) in html
    assert "Pay $50.00" in html
    assert cancel_url(pending) in html
    assert 'class="badge badge-pending_payment">Pending payment<' in html


def test_my_bookings_shows_a_run_out_hold_as_expired_before_the_sweep(web, customer):
    booking = BookingFactory(customer=customer, expires_at=timezone.now() - timedelta(minutes=1))

    html = web.get(MY_BOOKINGS_URL).content.decode()

    assert 'class="badge badge-expired">Expired<' in html
    assert checkout_url(booking) not in html
    assert cancel_url(booking) not in html


def test_my_bookings_explains_a_paid_booking_past_the_cutoff(web, customer):
    slot = SlotFactory(theme__cancellation_cutoff_hours=48, starts_at=timezone.now() + timedelta(hours=10))
    booking = ConfirmedBookingFactory(customer=customer, slot=slot)

    html = web.get(MY_BOOKINGS_URL).content.decode()

    assert cancel_url(booking) not in html
    assert "Paid bookings can be cancelled up to 48 hours before the start." in html


def _past_slot(**kwargs):
    start = timezone.now() - timedelta(days=2)
    return SlotFactory(starts_at=start, ends_at=start + timedelta(hours=1), **kwargs)


def test_my_bookings_offers_a_review_for_attended_themes_not_yet_reviewed(web, customer):
    fresh = AttendedBookingFactory(customer=customer, slot=_past_slot())
    reviewed = AttendedBookingFactory(customer=customer, slot=_past_slot())
    ReviewFactory(author=customer, theme=reviewed.slot.theme)
    no_show = ConfirmedBookingFactory(customer=customer, slot=_past_slot(), status=BookingStatus.NO_SHOW)

    html = web.get(MY_BOOKINGS_URL).content.decode()

    fresh_review = reverse("portal:review", args=[fresh.slot.theme_id])
    assert f'href="{fresh_review}">Write a review<' in html
    assert f'href="{reverse("portal:review", args=[reviewed.slot.theme_id])}">Edit your review<' in html
    assert reverse("portal:review", args=[no_show.slot.theme_id]) not in html


def test_my_bookings_query_count_does_not_grow_with_bookings(web, customer):
    def make(n):
        for _ in range(n):
            ConfirmedBookingFactory(customer=customer)
            AttendedBookingFactory(customer=customer, slot=_past_slot())

    make(5)
    with CaptureQueriesContext(connection) as few:
        assert web.get(MY_BOOKINGS_URL).status_code == 200
    make(25)
    with CaptureQueriesContext(connection) as many:
        assert web.get(MY_BOOKINGS_URL).status_code == 200

    assert len(few.captured_queries) == len(many.captured_queries)


# --- Checkout ------------------------------------------------------------------------------------


def test_checkout_shows_amount_countdown_and_stripe_card_form(web, customer, pending, intents, settings):
    settings.STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_portal"

    response = web.get(checkout_url(pending))

    assert response.status_code == 200
    html = response.content.decode()
    assert intents == [(pending.pk, customer.pk)]
    assert '<button type="submit" id="pay-button" disabled>Pay $50.00</button>' in html
    assert f'data-client-secret="pi_test_{pending.pk}_secret_abc"' in html
    assert 'data-publishable-key="pk_test_portal"' in html
    assert f'data-status-url="{status_url(pending)}"' in html
    assert f'data-pay-url="{reverse("portal:booking-pay", args=[pending.pk])}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<script src="http://127.0.0.1:8420/js.stripe.com/v3/"></script>' in html
    assert 'id="card-element"' in html
    # The countdown, and its no-JS text.
    assert 'id="countdown"' in html
    assert 'role="timer"' in html
    assert "14:5" in html or "15:00" in html
    assert "If you have not paid by then, the places are released" in html
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda c: ConfirmedBookingFactory(customer=c), "is already paid and confirmed"),
        (lambda c: BookingFactory(customer=c, expires_at=timezone.now() - timedelta(seconds=1)), "ran out"),
        (lambda c: BookingFactory(customer=c, status=BookingStatus.CANCELLED), "there is nothing to pay"),
    ],
)
def test_checkout_of_a_booking_that_is_not_a_live_hold_goes_to_my_bookings(web, customer, intents, make, message):
    booking = make(customer)

    response = web.get(checkout_url(booking), follow=True)

    assert response.redirect_chain == [(MY_BOOKINGS_URL, 302)]
    assert message in response.content.decode()
    assert intents == []


def test_checkout_of_a_free_booking_is_skipped(web, customer, intents):
    slot = SlotFactory(theme__price=0)
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)

    response = web.get(checkout_url(booking))

    assert response.status_code == 302
    assert response["Location"] == MY_BOOKINGS_URL
    assert intents == []


def test_checkout_says_when_the_payment_provider_is_down(web, pending, monkeypatch):
    def unavailable(**kwargs):
        raise DomainError(
            "payment_provider_unavailable",
            "The payment provider cannot be reached right now. Try again in a moment.",
            http_status=503,
        )

    monkeypatch.setattr(views, "payment_intent_for_booking", unavailable)

    response = web.get(checkout_url(pending))

    assert response.status_code == 503
    html = response.content.decode()
    assert "The payment provider cannot be reached right now." in html
    assert "Try again" in html
    assert 'id="payment-form"' not in html


def test_checkout_refused_by_the_payments_service_goes_back_with_its_message(web, pending, monkeypatch):
    def not_payable(**kwargs):
        raise DomainError("not_payable", "This hold has expired: book the slot again.")

    monkeypatch.setattr(views, "payment_intent_for_booking", not_payable)

    response = web.get(checkout_url(pending), follow=True)

    assert response.redirect_chain == [(MY_BOOKINGS_URL, 302)]
    assert "This hold has expired: book the slot again." in response.content.decode()


# --- Status poll -----------------------------------------------------------------------------------


def test_status_endpoint_follows_the_booking_to_confirmed(web, pending):
    assert web.get(status_url(pending)).json() == {
        "id": pending.pk,
        "status": "pending_payment",
        "payment": "",
        "refund": "",
    }

    booking_confirm_payment(booking_id=pending.pk)  # what the payment_intent.succeeded webhook does

    response = web.get(status_url(pending))
    assert response.status_code == 200
    assert response.json() == {"id": pending.pk, "status": "confirmed", "payment": "", "refund": ""}
    assert "no-store" in response["Cache-Control"]


def test_status_endpoint_reports_a_run_out_hold_as_expired(web, customer):
    booking = BookingFactory(customer=customer, expires_at=timezone.now() - timedelta(seconds=1))

    assert web.get(status_url(booking)).json()["status"] == "expired"


def _run_out(booking) -> None:
    type(booking).objects.filter(pk=booking.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_a_paid_hold_that_ran_out_is_not_final_and_its_late_payment_shows_confirmed(web, pending):
    """The checkout page polls this: "expired" with an unsettled payment means "keep waiting", not "refunded"."""
    payment = PaymentFactory(booking=pending, status=PaymentStatus.REQUIRES_PAYMENT)  # paid at Stripe, no webhook yet
    _run_out(pending)

    assert web.get(status_url(pending)).json() == {
        "id": pending.pk,
        "status": "expired",
        "payment": "requires_payment",
        "refund": "",
    }

    # The late payment's webhook: the places are still free, so the booking is confirmed after all.
    assert booking_confirm_payment(booking_id=pending.pk).value == "confirmed"
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED)

    assert web.get(status_url(pending)).json() == {
        "id": pending.pk,
        "status": "confirmed",
        "payment": "succeeded",
        "refund": "",
    }


def test_a_late_payment_that_could_not_be_honoured_shows_its_refund(web, pending):
    _run_out(pending)
    payment = PaymentFactory(booking=pending, status=PaymentStatus.SUCCEEDED)
    refund = RefundFactory(payment=payment, reason="late_payment", status=RefundStatus.PENDING)

    assert web.get(status_url(pending)).json() == {
        "id": pending.pk,
        "status": "expired",
        "payment": "succeeded",
        "refund": "pending",
    }
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.SUCCEEDED)
    assert web.get(status_url(pending)).json()["refund"] == "succeeded"


# --- Cancel ------------------------------------------------------------------------------------------


def test_cancel_page_of_a_paid_booking_before_the_cutoff_promises_a_full_refund(web, customer):
    booking = ConfirmedBookingFactory(customer=customer, party_size=3, slot__theme__price=2500)

    response = web.get(cancel_url(booking))

    assert response.status_code == 200
    html = response.content.decode()
    assert "You get a full refund of $75.00" in html
    assert ">Cancel booking</button>" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_cancelling_a_paid_booking_refunds_it(web, customer):
    booking = ConfirmedBookingFactory(customer=customer, party_size=2, slot__theme__price=2500)
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED)

    response = web.post(cancel_url(booking), follow=True)

    assert response.redirect_chain == [(MY_BOOKINGS_URL, 302)]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert Refund.objects.get(payment__booking=booking).amount == 5000
    assert "A full refund of $50.00 is on its way to your card." in response.content.decode()


@pytest.mark.parametrize(
    ("refund_status", "text"),
    [
        (RefundStatus.SUCCEEDED, "Refunded</span> $50.00 to the card you paid with."),
        (RefundStatus.PENDING, "Refund on its way</span> $50.00 is being refunded to your card."),
        (RefundStatus.FAILED, "Refund delayed</span> Your refund of $50.00 did not go through yet"),
    ],
)
def test_my_bookings_says_where_the_refund_of_a_cancelled_booking_is(web, customer, refund_status, text):
    booking = ConfirmedBookingFactory(
        customer=customer, party_size=2, slot__theme__price=2500, status=BookingStatus.CANCELLED
    )
    RefundFactory(payment__booking=booking, status=refund_status)
    other = ConfirmedBookingFactory(customer=customer, party_size=2, slot__theme__price=2500)

    html = web.get(MY_BOOKINGS_URL).content.decode()

    assert text in html
    assert f'id="booking-{booking.pk}-refund"' in html
    assert f'id="booking-{other.pk}-refund"' not in html


def test_cancel_page_after_the_cutoff_explains_why_not_and_offers_no_button(web, customer):
    slot = SlotFactory(theme__cancellation_cutoff_hours=24, starts_at=timezone.now() + timedelta(hours=5))
    booking = ConfirmedBookingFactory(customer=customer, slot=slot)

    html = web.get(cancel_url(booking)).content.decode()

    assert "This booking cannot be cancelled" in html
    assert "Paid bookings can be cancelled up to 24 hours before the start." in html
    assert "No refund is possible now" in html
    assert ">Cancel booking</button>" not in html


def test_cancel_post_after_the_cutoff_shows_the_services_refusal(web, customer):
    slot = SlotFactory(theme__cancellation_cutoff_hours=24, starts_at=timezone.now() + timedelta(hours=5))
    booking = ConfirmedBookingFactory(customer=customer, slot=slot)

    response = web.post(cancel_url(booking))

    assert response.status_code == 200
    assert "Paid bookings can be cancelled up to 24 hours before the start." in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_cancel_page_of_an_unpaid_hold_says_nothing_is_charged(web, pending):
    html = web.get(cancel_url(pending)).content.decode()

    assert "You have not paid for this booking yet" in html
    assert ">Cancel booking</button>" in html

    web.post(cancel_url(pending))
    pending.refresh_from_db()
    assert pending.status == BookingStatus.CANCELLED


def test_cancel_page_of_a_free_booking_says_there_is_nothing_to_refund(web, customer):
    booking = booking_join(slot_id=SlotFactory(theme__price=0).pk, customer=customer, party_size=1)

    assert "This booking is free: there is nothing to refund." in web.get(cancel_url(booking)).content.decode()


def test_cancel_forms_need_a_csrf_token(customer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    booking = ConfirmedBookingFactory(customer=customer)

    assert client.post(cancel_url(booking)).status_code == 403
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_cancel_says_a_refund_was_made_when_the_payment_landed_after_the_page_was_shown(web, pending, monkeypatch):
    """The page showed an unpaid hold (no refund); the payment was confirmed just before the cancel's lock.

    The message reports what the cancel did under its lock: a refund of the payment.
    """
    from checkout import services

    real_cancel = services.booking_cancel_and_refund

    def payment_lands_first(**kwargs):
        PaymentFactory(booking=pending, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
        booking_confirm_payment(booking_id=pending.pk)
        return real_cancel(**kwargs)

    monkeypatch.setattr(services, "booking_cancel_and_refund", payment_lands_first)

    response = web.post(cancel_url(pending), follow=True)

    assert Refund.objects.get(payment__booking=pending).amount == 5000
    assert "A full refund of $50.00 is on its way to your card." in response.content.decode()


def test_cancelling_an_unpaid_hold_says_nothing_was_charged(web, pending):
    response = web.post(cancel_url(pending), follow=True)

    html = response.content.decode()
    assert f"Booking #{pending.pk} for" in html
    assert "No payment had gone through, so nothing was charged" in html
    assert "refund of" not in html
    assert not Refund.objects.exists()


def test_cancelling_a_confirmed_booking_without_a_captured_payment_promises_no_refund(web, customer):
    """Terms alone (confirmed, amount > 0) said "refund"; no payment had succeeded, so none was recorded."""
    booking = ConfirmedBookingFactory(customer=customer, party_size=2, slot__theme__price=2500)

    html = web.post(cancel_url(booking), follow=True).content.decode()

    assert "A full refund" not in html
    assert "nothing was charged" in html
    assert not Refund.objects.exists()
