"""Setup that guesses right: currency from the country, a curated timezone list, capacity from the
theme, a venue address shown everywhere; the merchant settings page; the navigation label."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.notifications import booking_ics
from bookings.tests.factories import ConfirmedBookingFactory
from bookings.tests.ics_check import check_calendar, unescape_text
from bookwise import money
from catalog.models import Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client
from merchants import places
from merchants.forms import MerchantApplyForm, ScheduleForm, SlotForm, ThemeForm
from merchants.models import BookingEmails, Merchant, MerchantStatus
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def merchant():
    return MerchantFactory(
        name="Puzzle Works",
        street="Rua Augusta 12",
        postcode="1100-048",
        city="Lisbon",
        country="PT",
        timezone="Europe/Lisbon",
    )


# --- Currency from the country ------------------------------------------------------------------


def test_country_currency_map_names_only_supported_currencies():
    assert set(money.COUNTRY_CURRENCIES.values()) <= set(money.CURRENCIES)
    assert set(money.COUNTRY_CURRENCIES) <= set(places.countries())
    assert money.currency_for_country("PT") == "eur"
    assert money.currency_for_country("jp") == "jpy"
    assert money.currency_for_country("GB") == "gbp"
    assert money.currency_for_country("AR") == money.DEFAULT_CURRENCY  # peso: not sold here
    assert money.currency_for_country("") == money.DEFAULT_CURRENCY


def test_new_theme_form_preselects_the_currency_of_the_merchants_country(merchant):
    page = client_for(merchant.owner).get(reverse("merchant:theme-create")).content.decode()

    assert '<option value="eur" selected>EUR</option>' in page
    options = re.findall(r'<option value="([a-z]+)"', page.split('name="currency"')[1].split("</select>")[0])
    assert options == list(money.SUPPORTED_CURRENCIES)


def test_editing_a_theme_keeps_its_own_currency(merchant):
    theme = ThemeFactory(merchant=merchant, currency="usd")
    page = client_for(merchant.owner).get(reverse("merchant:theme-edit", args=[theme.pk])).content.decode()
    assert '<option value="usd" selected>USD</option>' in page


def test_api_theme_without_a_currency_gets_the_countrys(merchant):
    response = bearer_client(merchant.owner).post(
        "/api/v1/themes/", {"title": "The Vault", "duration_minutes": 60, "price": 2500}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["currency"] == "eur"
    merchant_jp = MerchantFactory(country="JP", timezone="Asia/Tokyo")
    response = bearer_client(merchant_jp.owner).post(
        "/api/v1/themes/", {"title": "Kagi", "duration_minutes": 60, "price": 5000}, format="json"
    )
    assert response.json()["currency"] == "jpy"


# --- Timezones ----------------------------------------------------------------------------------


def test_timezone_list_is_canonical_zones_grouped_by_region():
    groups = dict(places.timezone_groups())
    assert "Europe/Lisbon" in dict(groups["Europe"])
    assert "America/New_York" in dict(groups["America"])
    assert dict(groups["America"])["America/New_York"] == "New York"
    everything = places.curated_timezones()
    # Aliases and legacy names are not offered; every offered zone is a real one.
    assert not {"Portugal", "US/Eastern", "Asia/Calcutta", "Etc/GMT+3", "EST5EDT"} & everything
    assert "Asia/Kolkata" in everything
    assert everything <= __import__("zoneinfo").available_timezones()


def test_apply_page_has_an_optgroup_timezone_select_and_the_browser_guess_script():
    page = client_for(UserFactory()).get(reverse("merchant:home")).content.decode()
    assert '<optgroup label="Europe">' in page
    assert '<option value="Europe/Lisbon">Lisbon</option>' in page
    assert "data-timezone-select" in page
    assert re.search(r'<script src="/static/js/timezone_select\.js" defer></script>', page)
    for name in ("street", "postcode", "city", "country"):
        assert f'name="{name}"' in page


def test_timezone_script_reads_the_browsers_zone_and_never_overrides_a_choice():
    script = (Path(settings.BASE_DIR) / "static/js/timezone_select.js").read_text()
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in script
    assert "select[data-timezone-select]" in script
    assert "if (select.value)" in script


def test_apply_refuses_an_alias_timezone_and_an_unknown_country():
    form = MerchantApplyForm(data={"name": "A", "city": "Lisbon", "timezone": "Portugal", "country": "PT"})
    assert "timezone" in form.errors
    form = MerchantApplyForm(data={"name": "A", "city": "Lisbon", "timezone": "Europe/Lisbon", "country": "XX"})
    assert "country" in form.errors


def test_apply_saves_the_venue_address():
    user = UserFactory()
    response = client_for(user).post(
        reverse("merchant:home"),
        {
            "name": "Riddle Rooms",
            "street": "Rua das Flores 7",
            "postcode": "4050-262",
            "city": "Porto",
            "country": "PT",
            "timezone": "Europe/Lisbon",
        },
    )
    assert response.status_code == 302
    merchant = Merchant.objects.get(owner=user)
    assert (merchant.street, merchant.postcode, merchant.city, merchant.country) == (
        "Rua das Flores 7",
        "4050-262",
        "Porto",
        "PT",
    )


# --- Capacity defaults to the theme's largest party -----------------------------------------------


def test_slot_and_schedule_forms_start_at_the_themes_max_party(merchant):
    theme = ThemeFactory(merchant=merchant, max_party=8, min_party=2)
    client = client_for(merchant.owner)
    page = client.get(reverse("merchant:slot-list", args=[theme.pk])).content.decode()
    assert re.search(r'<input type="number" name="capacity" value="8"', page)
    page = client.get(reverse("merchant:slot-schedule", args=[theme.pk])).content.decode()
    assert re.search(r'<input type="number" name="capacity" value="8"', page)
    assert SlotForm(merchant=merchant, theme=theme).initial["capacity"] == 8
    assert ScheduleForm(merchant=merchant, theme=theme).initial["capacity"] == 8


# --- Venue address ------------------------------------------------------------------------------


def test_theme_page_shows_the_merchants_address_or_the_themes_own_venue(merchant):
    theme = ThemeFactory(merchant=merchant)
    page = Client().get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()
    assert "Rua Augusta 12, 1100-048 Lisbon, PT" in page

    theme.venue_street, theme.venue_postcode, theme.venue_city = "Avenida da Liberdade 1", "1250-096", "Lisbon"
    theme.save()
    page = Client().get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()
    assert "Avenida da Liberdade 1, 1250-096 Lisbon, PT" in page
    assert "Rua Augusta" not in page


def test_booking_email_and_ics_carry_the_venue(merchant, mailoutbox):
    from bookings import tasks

    slot = SlotFactory(theme__merchant=merchant, starts_at=timezone.now() + timedelta(days=2))
    booking = ConfirmedBookingFactory(slot=slot)
    tasks.send_booking_confirmed.delay(booking.pk)

    (message,) = mailoutbox
    ((html, _),) = message.alternatives
    for body in (message.body, html):
        assert "Puzzle Works, Rua Augusta 12, 1100-048 Lisbon, PT" in body
    (event,) = check_calendar(booking_ics(booking)).children
    assert unescape_text(event.one("LOCATION")) == "Puzzle Works, Rua Augusta 12, 1100-048 Lisbon, PT"


def test_theme_form_saves_an_own_venue_and_refuses_a_bad_country(merchant):
    client = client_for(merchant.owner)
    data = {
        "title": "Outdoor Hunt",
        "duration_minutes": 90,
        "price": "20.00",
        "currency": "eur",
        "min_party": 1,
        "max_party": 6,
        "cancellation_cutoff_hours": 24,
        "venue_street": "Praça do Comércio",
        "venue_city": "Lisbon",
        "venue_country": "ZZ",
    }
    response = client.post(reverse("merchant:theme-create"), data)
    assert response.status_code == 400
    assert response.context["form"].errors["venue_country"]
    response = client.post(reverse("merchant:theme-create"), {**data, "venue_country": "PT"})
    assert response.status_code == 302
    theme = Theme.objects.get(title="Outdoor Hunt")
    assert (theme.venue_street, theme.venue_city, theme.venue_country) == ("Praça do Comércio", "Lisbon", "PT")
    assert ThemeForm.initial_from(theme)["venue_street"] == "Praça do Comércio"


def test_api_exposes_and_writes_address_fields(merchant):
    client = bearer_client(merchant.owner)
    body = client.get("/api/v1/merchants/me/").json()
    assert body["street"] == "Rua Augusta 12"
    assert body["country"] == "PT"
    assert body["booking_emails"] == merchant.booking_emails
    public = Client().get(f"/api/v1/merchants/{merchant.pk}/").json()
    assert public["postcode"] == "1100-048"
    assert "booking_emails" not in public

    response = client.patch(
        "/api/v1/merchants/me/",
        {"street": "Rua Nova 3", "country": "es", "booking_emails": "hourly", "daily_schedule_email": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    merchant.refresh_from_db()
    assert (merchant.street, merchant.country, merchant.booking_emails) == ("Rua Nova 3", "ES", "hourly")
    assert merchant.daily_schedule_email is True
    assert client.patch("/api/v1/merchants/me/", {"country": "QQ"}, format="json").status_code == 400
    assert client.patch("/api/v1/merchants/me/", {"booking_emails": "daily"}, format="json").status_code == 400
    # Status stays the admins': sent fields that are not settings are ignored.
    client.patch("/api/v1/merchants/me/", {"status": "approved"}, format="json")
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPROVED

    theme_response = client.post(
        "/api/v1/themes/",
        {"title": "Hunt", "duration_minutes": 60, "price": 0, "venue_street": "Largo 1", "venue_city": "Sintra"},
        format="json",
    )
    assert theme_response.status_code == 201, theme_response.content
    assert theme_response.json()["venue_city"] == "Sintra"
    theme_id = theme_response.json()["id"]
    bad = client.patch(f"/api/v1/themes/{theme_id}/", {"venue_country": "Portugal"}, format="json")
    assert bad.status_code == 400


def test_api_apply_takes_an_optional_address():
    user = UserFactory()
    response = bearer_client(user).post(
        "/api/v1/merchants/",
        {"name": "Rooms", "city": "Madrid", "timezone": "Europe/Madrid", "street": "Gran Vía 1", "country": "ES"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["street"] == "Gran Vía 1"
    assert response.json()["country"] == "ES"


# --- The settings page --------------------------------------------------------------------------


def test_settings_page_saves_booking_emails_schedule_and_address(merchant):
    client = client_for(merchant.owner)
    page = client.get(reverse("merchant:settings")).content.decode()
    assert 'value="each"' in page
    assert 'value="hourly"' in page
    assert 'value="off"' in page
    assert 'name="daily_schedule_email"' in page
    assert '<option value="Europe/Lisbon" selected>Lisbon</option>' in page

    response = client.post(
        reverse("merchant:settings"),
        {
            "name": "Puzzle Works",
            "street": "Rua Augusta 14",
            "postcode": "1100-048",
            "city": "Lisbon",
            "country": "PT",
            "timezone": "Europe/Lisbon",
            "booking_emails": "hourly",
        },
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.booking_emails == BookingEmails.HOURLY
    assert merchant.daily_schedule_email is False
    assert merchant.street == "Rua Augusta 14"


def test_settings_page_keeps_a_legacy_timezone_and_refuses_bad_input(merchant):
    merchant.timezone = "Europe/Belfast"  # a tz alias, not in the curated list
    merchant.save()
    client = client_for(merchant.owner)
    page = client.get(reverse("merchant:settings")).content.decode()
    assert '<option value="Europe/Belfast" selected>' in page
    response = client.post(
        reverse("merchant:settings"),
        {"name": "X", "city": "Lisbon", "timezone": "Mars/Base", "booking_emails": "weekly"},
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"timezone", "booking_emails"}


def test_settings_page_for_pending_suspended_and_anonymous():
    pending = PendingMerchantFactory()
    assert client_for(pending.owner).get(reverse("merchant:settings")).status_code == 200
    suspended = MerchantFactory(status=MerchantStatus.SUSPENDED)
    assert client_for(suspended.owner).get(reverse("merchant:settings")).status_code == 403
    assert client_for(UserFactory()).get(reverse("merchant:settings")).status_code == 302
    assert Client().get(reverse("merchant:settings")).status_code == 302


def test_admin_merchant_page_shows_the_new_fields(merchant, admin_client):
    page = admin_client.get(reverse("admin:merchants_merchant_change", args=[merchant.pk])).content.decode()
    for name in ("street", "postcode", "country", "booking_emails", "daily_schedule_email"):
        assert f'name="{name}"' in page


# --- The navigation label -----------------------------------------------------------------------


def test_navigation_says_sell_on_bookwise_to_customers_and_merchant_dashboard_to_merchants(merchant):
    catalog = reverse("portal:catalog")
    customer_page = client_for(UserFactory()).get(catalog).content.decode()
    assert ">Sell on BookWise</a>" in customer_page
    assert ">Merchant dashboard</a>" not in customer_page
    anonymous_page = Client().get(catalog).content.decode()
    assert ">Sell on BookWise</a>" in anonymous_page
    merchant_page = client_for(merchant.owner).get(catalog).content.decode()
    assert ">Merchant dashboard</a>" in merchant_page
    assert ">Sell on BookWise</a>" not in merchant_page
