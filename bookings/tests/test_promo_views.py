"""Promo codes in the portal: the booking form's "Have a code?", the checkout's discount, the merchant's page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import Booking, BookingStatus, PromoCode
from bookings.promo import promo_code_create
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.tests.factories import SucceededPaymentFactory

pytestmark = pytest.mark.django_db


def open_slot(**kwargs):
    start = (timezone.now() + timedelta(hours=26)).replace(microsecond=0)
    return SlotFactory(starts_at=start, **kwargs)


def book_url(theme) -> str:
    return reverse("portal:theme-book", args=[theme.pk])


@pytest.fixture
def customer_web(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def merchant_web(client, merchant):
    client.force_login(merchant.owner)
    return client


# --- The customer's booking form and checkout ----------------------------------------------------


def test_the_theme_page_offers_a_code_field(customer_web):
    slot = open_slot(theme__price=2500)
    page = customer_web.get(reverse("portal:theme-detail", args=[slot.theme.pk])).content.decode()
    assert "Have a code?" in page
    assert 'name="promo_code"' in page
    assert 'name="apply_code"' in page


def test_apply_shows_the_discounted_total_and_books_nothing(customer_web):
    slot = open_slot(theme__price=2500, theme__currency="eur")
    code = promo_code_create(merchant=slot.theme.merchant, code="WELCOME10", percent_off=10)

    response = customer_web.post(
        book_url(slot.theme), {"slot": slot.pk, "party_size": 2, "promo_code": "welcome10", "apply_code": "1"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Code WELCOME10: €50.00 − €5.00 = <strong>€45.00</strong> to pay" in page
    assert 'value="welcome10"' in page  # the code stays typed in
    assert not Booking.objects.exists()
    code.refresh_from_db()
    assert code.redemptions == 0


def test_a_refused_code_is_shown_in_words_next_to_the_field(customer_web):
    slot = open_slot(theme__price=2500)
    code = promo_code_create(merchant=slot.theme.merchant, code="FULL", percent_off=10, max_redemptions=1)
    PromoCode.objects.filter(pk=code.pk).update(redemptions=1)

    for extra in ({}, {"apply_code": "1"}):
        response = customer_web.post(
            book_url(slot.theme), {"slot": slot.pk, "party_size": 1, "promo_code": "full", **extra}
        )
        assert response.status_code == 200
        assert "This code has been used up." in response.content.decode()
        assert response.context["form"].errors["promo_code"] == ["This code has been used up."]
    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 1, "promo_code": "NOPE"})
    assert "Unknown code: check its spelling." in response.content.decode()
    assert not Booking.objects.exists()


def test_booking_with_a_code_shows_price_discount_and_total_at_checkout(customer_web, settings):
    slot = open_slot(theme__price=3000, theme__currency="eur")
    promo_code_create(merchant=slot.theme.merchant, code="WELCOME10", percent_off=10)

    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 2, "promo_code": "Welcome10"})

    booking = Booking.objects.get()
    assert (booking.amount, booking.discount) == (5400, 600)
    assert response["Location"] == reverse("portal:checkout", args=[booking.pk])
    # The checkout creates a PaymentIntent; with Stripe unreachable it still renders the summary (503).
    settings.STRIPE_API_HOST = "http://127.0.0.1:9"
    page = customer_web.get(reverse("portal:checkout", args=[booking.pk])).content.decode()
    assert '<dd id="booking-price">€60.00</dd>' in page
    assert "−€6.00 (code WELCOME10)" in page
    assert "€54.00" in page


def test_a_code_that_covers_everything_confirms_at_once(customer_web):
    slot = open_slot(theme__price=3000)
    promo_code_create(merchant=slot.theme.merchant, code="GIFT", percent_off=100)

    response = customer_web.post(
        book_url(slot.theme), {"slot": slot.pk, "party_size": 1, "promo_code": "gift"}, follow=True
    )

    booking = Booking.objects.get()
    assert (booking.status, booking.amount) == (BookingStatus.CONFIRMED, 0)
    assert response.redirect_chain[-1][0] == reverse("portal:my-bookings")
    assert "your code covers it, nothing to pay" in response.content.decode()


# --- The merchant's page -----------------------------------------------------------------------------


def test_the_merchant_nav_links_the_promo_codes_page(merchant_web):
    assert reverse("merchant:promo-codes") in merchant_web.get(reverse("merchant:theme-list")).content.decode()


def test_the_merchant_creates_a_code_and_sees_uses_and_revenue(merchant_web, merchant):
    theme = ThemeFactory(merchant=merchant, price=5000, currency="eur")
    response = merchant_web.post(
        reverse("merchant:promo-codes"),
        {
            "code": "SPRING",
            "kind": "percent",
            "percent_off": "20",
            "currency": "eur",
            "last_day": (timezone.localdate() + timedelta(days=30)).isoformat(),
            "max_redemptions": "5",
            "themes": [theme.pk],
        },
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    code = PromoCode.objects.get(merchant=merchant)
    assert (code.code, code.percent_off, code.max_redemptions) == ("SPRING", 20, 5)
    assert list(code.themes.all()) == [theme]
    assert code.valid_to is not None

    booking = services.booking_join(slot_id=open_slot(theme=theme).pk, customer=UserFactory(), promo_code="spring")
    SucceededPaymentFactory(booking=booking)
    services.booking_confirm_payment(booking_id=booking.pk)

    page = merchant_web.get(reverse("merchant:promo-codes")).content.decode()
    assert "SPRING" in page
    assert "20 % off" in page
    assert "1 / 5" in page
    assert "€40.00" in page  # revenue: what was paid with it
    assert "Active" in page


def test_an_amount_code_is_typed_in_major_units(merchant_web, merchant):
    response = merchant_web.post(
        reverse("merchant:promo-codes"),
        {"code": "FIVE", "kind": "amount", "amount_off": "5.50", "currency": "eur"},
    )
    assert response.status_code == 302
    code = PromoCode.objects.get(merchant=merchant)
    assert (code.amount_off, code.currency, code.percent_off) == (550, "eur", None)


def test_create_errors_are_shown_in_words(merchant_web, merchant):
    promo_code_create(merchant=merchant, code="TAKEN", percent_off=10)
    response = merchant_web.post(
        reverse("merchant:promo-codes"), {"code": "taken", "kind": "percent", "percent_off": "5"}
    )
    assert response.status_code == 400
    assert "You already have a promo code TAKEN" in response.content.decode()
    response = merchant_web.post(reverse("merchant:promo-codes"), {"code": "X", "kind": "amount"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"code", "amount_off"} <= set(errors)


def test_pause_and_resume(merchant_web, merchant):
    code = promo_code_create(merchant=merchant, code="WELCOME10", percent_off=10)
    merchant_web.post(reverse("merchant:promo-code-active", args=[code.pk]), {})
    code.refresh_from_db()
    assert code.is_active is False
    assert "Paused" in merchant_web.get(reverse("merchant:promo-codes")).content.decode()
    merchant_web.post(reverse("merchant:promo-code-active", args=[code.pk]), {"is_active": "on"})
    code.refresh_from_db()
    assert code.is_active is True


def test_edit_the_last_day_and_the_maximum_never_below_uses(merchant_web, merchant):
    code = promo_code_create(merchant=merchant, code="WELCOME10", percent_off=10, max_redemptions=10)
    PromoCode.objects.filter(pk=code.pk).update(redemptions=4)
    url = reverse("merchant:promo-code-edit", args=[code.pk])

    response = merchant_web.post(url, {"max_redemptions": "3"})
    assert response.status_code == 400
    assert "already redeemed 4 times" in response.content.decode()

    day = timezone.localdate() + timedelta(days=7)
    assert merchant_web.post(url, {"max_redemptions": "8", "last_day": day.isoformat()}).status_code == 302
    code.refresh_from_db()
    assert code.max_redemptions == 8
    assert code.valid_to.astimezone(merchant.tzinfo).date() == day + timedelta(days=1)


def test_another_merchants_code_is_a_404(merchant_web):
    code = promo_code_create(merchant=MerchantFactory(), code="THEIRS", percent_off=10)
    assert merchant_web.get(reverse("merchant:promo-code-edit", args=[code.pk])).status_code == 404
    assert merchant_web.post(reverse("merchant:promo-code-active", args=[code.pk]), {}).status_code == 404


def test_customers_cannot_open_the_page(customer_web):
    response = customer_web.get(reverse("merchant:promo-codes"))
    assert response.status_code == 302


# --- Django admin -------------------------------------------------------------------------------------


def test_admin_lists_searches_and_pauses_codes_and_the_booking_links_its_code(client):
    from accounts.tests.factories import AdminFactory

    client.force_login(AdminFactory())
    merchant = MerchantFactory(name="Riddle Rooms")
    code = promo_code_create(merchant=merchant, code="WELCOME10", percent_off=10, max_redemptions=100)
    promo_code_create(merchant=MerchantFactory(), code="OTHER5", amount_off=500, currency="eur")
    booking = services.booking_join(
        slot_id=open_slot(theme__merchant=merchant).pk, customer=UserFactory(), promo_code="welcome10"
    )

    changelist = reverse("admin:bookings_promocode_changelist")
    page = client.get(changelist, {"q": "welcome10"}).content.decode()
    assert "WELCOME10" in page
    assert "1 / 100" in page
    assert "10 % off" in page
    assert "OTHER5" not in page

    client.post(changelist, {"action": "pause", "_selected_action": [code.pk]})
    code.refresh_from_db()
    assert code.is_active is False

    page = client.get(reverse("admin:bookings_booking_change", args=[booking.pk])).content.decode()
    assert reverse("admin:bookings_promocode_change", args=[code.pk]) in page


# --- Demo data ------------------------------------------------------------------------------------------


def test_seed_demo_gives_the_demo_merchant_an_active_code_and_prints_it():
    import io

    from django.core.management import call_command

    from portal.demo import DEMO_PROMO_CODE, MERCHANT_EMAIL

    out = io.StringIO()
    call_command("seed_demo", "--not-production", stdout=out)

    code = PromoCode.objects.get(code=DEMO_PROMO_CODE)
    assert code.merchant.owner.email == MERCHANT_EMAIL
    assert (code.is_active, code.percent_off, code.max_redemptions) == (True, 10, 100)
    assert f"Demo promo code: {DEMO_PROMO_CODE}" in out.getvalue()


# --- Email ------------------------------------------------------------------------------------------------


def test_the_confirmation_email_says_what_the_code_took_off(mailoutbox, django_capture_on_commit_callbacks):
    slot = open_slot(theme__price=2500, theme__currency="usd")
    promo_code_create(merchant=slot.theme.merchant, code="WELCOME10", percent_off=10)
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2, promo_code="welcome10")
    SucceededPaymentFactory(booking=booking)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_confirm_payment(booking_id=booking.pk)

    message = mailoutbox[-1]
    assert "Total:      $45.00 ($5.00 off with a promo code)" in message.body
    assert "$5.00 off with a promo code" in message.alternatives[0][0]
