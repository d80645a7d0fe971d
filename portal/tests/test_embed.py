"""The booking widget's pages (/embed/...): who may frame them, and the booking flow kept inside the frame."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookings import views as booking_views
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.models import Payment, PaymentStatus
from payments.services import IntentResult

pytestmark = pytest.mark.django_db

ORIGINS = ["https://rooms.example", "http://localhost:8001"]


def csp(response) -> dict[str, str]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


@pytest.fixture
def theme():
    return ThemeFactory(merchant=MerchantFactory(widget_origins=ORIGINS), price=2500, currency="usd")


@pytest.fixture
def slot(theme):
    return SlotFactory(theme=theme, capacity=6, starts_at=timezone.now() + timedelta(days=2))


@pytest.fixture
def intents(monkeypatch):
    """The checkout's PaymentIntent without Stripe (the browser test pays through localstripe)."""

    def fake(*, booking_id, customer, client_key="", now=None):
        payment = Payment(
            booking_id=booking_id,
            stripe_payment_intent_id=f"pi_test_{booking_id}",
            client_secret=f"pi_test_{booking_id}_secret_abc",
            amount=5000,
            currency="usd",
            status=PaymentStatus.REQUIRES_PAYMENT,
        )
        return IntentResult(payment=payment, created=True)

    monkeypatch.setattr(booking_views, "payment_intent_for_booking", fake)


def test_the_times_page_may_be_framed_by_the_merchants_sites_only(client, theme, slot):
    response = client.get(reverse("embed:times", args=[theme.pk]))

    assert response.status_code == 200
    assert csp(response)["frame-ancestors"] == "https://rooms.example http://localhost:8001"
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert 'data-embed-origins="https://rooms.example http://localhost:8001"' in html
    assert f'href="{reverse("embed:book", args=[theme.pk])}?slot={slot.pk}"' in html
    assert "6 seats left" in html
    # The rest of the policy is the site's.
    assert csp(response)["default-src"] == "'self'"


def test_another_merchants_sites_are_not_allowed_and_no_origins_means_no_framing(client, theme):
    other = ThemeFactory(merchant=MerchantFactory(widget_origins=[]))

    response = client.get(reverse("embed:times", args=[other.pk]))

    assert response.status_code == 200
    assert csp(response)["frame-ancestors"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert "rooms.example" not in response["Content-Security-Policy"]


def test_an_origin_stored_around_the_validation_never_reaches_the_header(client):
    theme = ThemeFactory(merchant=MerchantFactory(widget_origins=["https://ok.example", "*", "https://x.example; a"]))

    response = client.get(reverse("embed:times", args=[theme.pk]))

    assert csp(response)["frame-ancestors"] == "https://ok.example"


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/register/", "/merchant/"])
def test_every_other_page_stays_unframeable(client, theme, path):
    response = client.get(path)

    assert response["X-Frame-Options"] == "DENY"
    assert csp(response)["frame-ancestors"] == "'none'"


def test_the_portal_theme_and_checkout_pages_stay_unframeable(client, theme, slot, intents):
    customer = UserFactory()
    client.force_login(customer)
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)

    for url in (reverse("portal:theme-detail", args=[theme.pk]), reverse("portal:checkout", args=[booking.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert response["X-Frame-Options"] == "DENY"
        assert csp(response)["frame-ancestors"] == "'none'"


def test_an_unknown_or_hidden_theme_is_a_404(client):
    hidden = ThemeFactory(is_active=False, merchant=MerchantFactory(widget_origins=ORIGINS))
    assert client.get(reverse("embed:times", args=[hidden.pk])).status_code == 404
    assert client.get("/embed/themes/999999/").status_code == 404


def test_a_visitor_logs_in_inside_the_frame_books_and_lands_on_the_frames_checkout(client, theme, slot, intents):
    customer = UserFactory(email="ada@example.com")
    book_url = f"{reverse('embed:book', args=[theme.pk])}?slot={slot.pk}"

    anonymous = client.get(book_url)
    assert anonymous.status_code == 200
    next_query = f"next=%2Fembed%2Fthemes%2F{theme.pk}%2Fbook%2F%3Fslot%3D{slot.pk}"
    login_url = f"{reverse('embed:login', args=[theme.pk])}?{next_query}"
    assert login_url.replace("&", "&amp;") in anonymous.content.decode()
    assert csp(anonymous)["frame-ancestors"] == "https://rooms.example http://localhost:8001"

    login_page = client.get(login_url)
    assert login_page.status_code == 200
    assert "X-Frame-Options" not in login_page
    assert f'action="{reverse("embed:login", args=[theme.pk])}"' in login_page.content.decode()

    logged_in = client.post(login_url, {"username": customer.email, "password": DEFAULT_PASSWORD, "next": book_url})
    assert logged_in.status_code == 302
    assert logged_in["Location"] == book_url

    form = client.get(book_url)
    assert 'name="party_size"' in form.content.decode()
    booked = client.post(reverse("embed:book", args=[theme.pk]), {"slot": slot.pk, "party_size": 2})
    booking = Booking.objects.get(customer=customer)
    assert booked.status_code == 302
    assert booked["Location"] == reverse("embed:checkout", args=[theme.pk, booking.pk])

    checkout = client.get(booked["Location"])
    assert checkout.status_code == 200
    html = checkout.content.decode()
    assert 'data-embed-origins="https://rooms.example http://localhost:8001"' in html
    assert f'data-booking="{booking.pk}"' in html
    assert "data-embed-close" in html
    assert 'class="site-header"' not in html  # the widget's minimal page, not the site's
    assert csp(checkout)["frame-ancestors"] == "https://rooms.example http://localhost:8001"
    assert "X-Frame-Options" not in checkout


def test_login_inside_the_frame_never_leaves_it(client, theme):
    customer = UserFactory()
    response = client.post(
        reverse("embed:login", args=[theme.pk]),
        {"username": customer.email, "password": DEFAULT_PASSWORD, "next": "/merchant/"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("embed:book", args=[theme.pk])


def test_signing_up_inside_the_frame_goes_on_to_the_booking(client, theme, slot):
    book_url = f"{reverse('embed:book', args=[theme.pk])}?slot={slot.pk}"
    response = client.post(
        reverse("embed:register", args=[theme.pk]),
        {
            "full_name": "Ada Lovelace",
            "email": "ada@example.com",
            "password1": "analytical-engine-1843",
            "password2": "analytical-engine-1843",
            "next": book_url,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == book_url
    assert "X-Frame-Options" not in response


def test_a_free_booking_ends_on_the_result_page_that_reports_confirmed(client, slot):
    free = ThemeFactory(merchant=slot.theme.merchant, price=0)
    free_slot = SlotFactory(theme=free, starts_at=timezone.now() + timedelta(days=3))
    customer = UserFactory()
    client.force_login(customer)

    response = client.post(reverse("embed:book", args=[free.pk]), {"slot": free_slot.pk, "party_size": 1})

    booking = Booking.objects.get(customer=customer)
    assert booking.status == BookingStatus.CONFIRMED
    assert response["Location"] == reverse("embed:result", args=[free.pk, booking.pk])
    result = client.get(response["Location"])
    assert 'data-embed-outcome="confirmed"' in result.content.decode()
    assert csp(result)["frame-ancestors"] == "https://rooms.example http://localhost:8001"


def test_a_checkout_with_nothing_to_pay_stays_in_the_frame(client, theme, slot, intents):
    customer = UserFactory()
    client.force_login(customer)
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED)

    response = client.get(reverse("embed:checkout", args=[theme.pk, booking.pk]))

    assert response["Location"] == reverse("embed:result", args=[theme.pk, booking.pk])
    result = client.get(response["Location"])
    assert 'data-embed-outcome="cancelled"' in result.content.decode()


def test_a_booking_of_another_theme_is_not_shown_under_this_themes_frame(client, theme, intents):
    customer = UserFactory()
    client.force_login(customer)
    elsewhere = SlotFactory(theme=ThemeFactory(), starts_at=timezone.now() + timedelta(days=2))
    booking = booking_join(slot_id=elsewhere.pk, customer=customer, party_size=1)

    assert client.get(reverse("embed:checkout", args=[theme.pk, booking.pk])).status_code == 404
    assert client.get(reverse("embed:result", args=[theme.pk, booking.pk])).status_code == 404


def test_an_anonymous_checkout_goes_to_the_frames_login(client, theme):
    response = client.get(reverse("embed:checkout", args=[theme.pk, 1]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("embed:login", args=[theme.pk]))


# --- Cookies ---------------------------------------------------------------------------------


def _login(client):
    customer = UserFactory()
    client.get(reverse("portal:login"))  # the CSRF cookie
    return customer, client.post(reverse("portal:login"), {"username": customer.email, "password": DEFAULT_PASSWORD})


def test_with_samesite_none_the_session_and_csrf_cookies_are_secure_and_partitioned(client, settings):
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.COOKIE_PARTITIONED = True

    first = client.get(reverse("portal:login"))
    csrf_cookie = first.cookies[settings.CSRF_COOKIE_NAME].output()
    _, response = _login(client)
    session_cookie = response.cookies[settings.SESSION_COOKIE_NAME].output()

    for header in (csrf_cookie, session_cookie):
        assert "SameSite=None" in header
        assert "Secure" in header
        assert header.endswith("; Partitioned")
    assert "HttpOnly" in session_cookie


def test_without_partitioning_the_cookies_are_left_alone(client, settings):
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "Lax"
    settings.COOKIE_PARTITIONED = False

    _, response = _login(client)

    header = response.cookies[settings.SESSION_COOKIE_NAME].output()
    assert "SameSite=Lax" in header
    assert "Partitioned" not in header


def test_production_defaults_are_samesite_none_secure_partitioned(settings):
    # The test settings are production's (DEBUG off, Secure cookies), as the CI runs them.
    from bookwise import settings as project_settings

    assert project_settings.SESSION_COOKIE_SECURE
    assert project_settings.CSRF_COOKIE_SECURE
    assert project_settings.SESSION_COOKIE_SAMESITE == project_settings.CSRF_COOKIE_SAMESITE == "None"
    assert project_settings.COOKIE_PARTITIONED is True
