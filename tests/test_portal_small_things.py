"""Issue 16's small things: login lands merchants on their dashboard, a favicon, the form error summary,
and cancelled bookings leaving "Upcoming"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
LOGIN_URL = reverse("portal:login")


@pytest.fixture(autouse=True)
def _fresh_throttles(settings):
    from django.core.cache import cache

    cache.clear()


def log_in(client: Client, user, **extra):
    return client.post(LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD, **extra})


# --- Where a login lands ----------------------------------------------------------------------


def test_a_merchant_who_logs_in_lands_on_their_dashboard(client):
    merchant = MerchantFactory()
    response = log_in(client, merchant.owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("merchant:home")


def test_a_pending_merchant_lands_on_the_merchant_page_too(client):
    merchant = PendingMerchantFactory()
    assert log_in(client, merchant.owner)["Location"] == reverse("merchant:home")


def test_a_customer_who_logs_in_lands_on_the_catalog(client):
    assert log_in(client, UserFactory())["Location"] == "/"


def test_a_safe_next_wins_for_merchants_and_customers(client):
    merchant = MerchantFactory()
    assert log_in(client, merchant.owner, next="/bookings/")["Location"] == "/bookings/"
    assert log_in(Client(), UserFactory(), next="/merchant/week/")["Location"] == "/merchant/week/"


def test_an_unsafe_next_is_ignored(client):
    merchant = MerchantFactory()
    assert log_in(client, merchant.owner, next="https://evil.example/")["Location"] == reverse("merchant:home")
    assert log_in(Client(), UserFactory(), next="//evil.example/")["Location"] == "/"


# --- Favicon -----------------------------------------------------------------------------------


def test_pages_link_the_favicon_and_favicon_ico_redirects_to_it(client):
    html = client.get(LOGIN_URL).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg' in html
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].startswith("/static/favicon")
    assert (ROOT / "static" / "favicon.svg").read_text().startswith("<svg")


# --- Error summary -----------------------------------------------------------------------------


def test_a_form_error_renders_a_focusable_error_summary_and_the_focus_script(client):
    user = UserFactory()
    html = client.post(LOGIN_URL, {"username": user.email, "password": "wrong"}).content.decode()
    assert '<div class="form-errors error-summary" role="alert" tabindex="-1" data-error-summary>' in html
    assert '<script src="/static/js/form_focus.js' in html
    script = (ROOT / "static" / "js" / "form_focus.js").read_text()
    assert "[data-error-summary]" in script
    assert ".focus()" in script


def test_field_errors_are_linked_from_the_summary(client):
    html = client.post(reverse("portal:register"), {"email": "not-an-email"}).content.decode()
    assert "data-error-summary" in html
    assert '<a href="#id_email">Check email</a>' in html
    assert '<a href="#id_full_name">' in html or '<a href="#id_password1">' in html


def test_a_page_without_errors_has_no_summary(client):
    assert "data-error-summary" not in client.get(LOGIN_URL).content.decode()


# --- My bookings: cancelled bookings leave "Upcoming" ------------------------------------------


def test_cancelled_and_expired_bookings_move_to_past_and_cancelled():
    customer = UserFactory()
    now = timezone.now()

    def booking(title, factory=ConfirmedBookingFactory, **kwargs):
        slot = SlotFactory(theme=ThemeFactory(title=title), starts_at=kwargs.pop("starts_at", now + timedelta(days=3)))
        return factory(slot=slot, customer=customer, **kwargs)

    booking("Still Coming")
    booking("Held Coming", factory=BookingFactory)
    booking("Cancelled Future", status=BookingStatus.CANCELLED)
    booking("Expired Future", factory=BookingFactory, status=BookingStatus.EXPIRED, expires_at=None)
    booking("Run Out Hold", factory=BookingFactory, expires_at=now - timedelta(minutes=1))
    booking("Long Ago", status=BookingStatus.ATTENDED, starts_at=now - timedelta(days=3))

    client = Client()
    client.force_login(customer)
    html = client.get(reverse("portal:my-bookings")).content.decode()
    upcoming, past = html.split('id="past-heading"')
    assert "Past and cancelled" in past
    for title in ("Still Coming", "Held Coming"):
        assert title in upcoming
        assert title not in past
    for title in ("Cancelled Future", "Expired Future", "Run Out Hold", "Long Ago"):
        assert title in past
        assert title not in upcoming
