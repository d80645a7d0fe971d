"""The booking widget's allowed origins: what a merchant may list (merchants.widget), in the service, form and API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookwise.errors import InvalidInput
from catalog.tests.factories import ThemeFactory
from merchants.services import merchant_update_settings
from merchants.tests.factories import MerchantFactory
from merchants.widget import MAX_WIDGET_ORIGINS, widget_origin_normalize, widget_origins_normalize


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://rooms.example", "https://rooms.example"),
        ("  HTTPS://Rooms.Example:443/ ", "https://rooms.example"),
        ("https://www.rooms.example:8443", "https://www.rooms.example:8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("http://localhost:8001", "http://localhost:8001"),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("http://[::1]:8001", "http://[::1]:8001"),
        ("https://localhost", "https://localhost"),
    ],
)
def test_an_origin_is_stored_normalised(given, stored):
    assert widget_origin_normalize(given) == stored


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("http://rooms.example", "use https://"),
        ("rooms.example", "start it with https://"),
        ("ftp://rooms.example", "start it with https://"),
        ("https://rooms.example/book", "without a path"),
        ("https://rooms.example/?a=1", "without a path"),
        ("https://rooms.example#x", "without a path"),
        ("https://*.rooms.example", "wildcards are not allowed"),
        ("*", "wildcards are not allowed"),
        ("'self'", "no spaces, quotes"),
        ("https://rooms.example; script-src x", "no spaces, quotes"),
        ("https://a.example,https://b.example", "no spaces, quotes"),
        ("https://user:pw@rooms.example", "no user name"),
        ("https://rooms.example:99999", "port"),
        ("https://intranet", "full host name"),
        ("https://1.2.3.4", "full host name"),
        ("https://-bad-.example", "full host name"),
        ("", "empty"),
    ],
)
def test_anything_but_a_plain_origin_is_refused_in_words(given, words):
    with pytest.raises(InvalidInput) as refused:
        widget_origin_normalize(given)
    assert refused.value.code == "invalid_widget_origin"
    assert words in refused.value.message
    assert refused.value.field == "widget_origins"


def test_duplicates_are_dropped_and_the_list_is_bounded():
    assert widget_origins_normalize(["https://a.example", "HTTPS://A.example/"]) == ["https://a.example"]
    with pytest.raises(InvalidInput) as refused:
        widget_origins_normalize([f"https://s{n}.example" for n in range(MAX_WIDGET_ORIGINS + 1)])
    assert refused.value.code == "too_many_widget_origins"


@pytest.mark.django_db
def test_the_service_stores_the_normalised_list():
    merchant = MerchantFactory()
    merchant_update_settings(merchant=merchant, widget_origins=["https://Rooms.example/", "http://localhost:8001"])
    merchant.refresh_from_db()
    assert merchant.widget_origins == ["https://rooms.example", "http://localhost:8001"]


@pytest.mark.django_db
def test_the_api_sets_and_shows_the_origins_and_refuses_a_bad_one_with_a_400(api_client):
    merchant = MerchantFactory()
    api_client.force_authenticate(merchant.owner)
    url = "/api/v1/merchants/me/"

    ok = api_client.patch(url, {"widget_origins": ["https://rooms.example/"]}, format="json")
    assert ok.status_code == 200
    assert ok.json()["widget_origins"] == ["https://rooms.example"]

    bad = api_client.patch(url, {"widget_origins": ["https://*.example"]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_widget_origin"
    assert "wildcards are not allowed" in bad.json()["widget_origins"][0]
    merchant.refresh_from_db()
    assert merchant.widget_origins == ["https://rooms.example"]


def _settings_post(merchant, **changes):
    data = {
        "name": merchant.name,
        "description": merchant.description,
        "street": merchant.street,
        "postcode": merchant.postcode,
        "city": merchant.city,
        "country": merchant.country,
        "timezone": merchant.timezone,
        "booking_emails": merchant.booking_emails,
        "widget_origins": "",
    }
    if merchant.daily_schedule_email:
        data["daily_schedule_email"] = "on"
    data.update(changes)
    return data


@pytest.mark.django_db
def test_the_settings_page_edits_the_origins_and_shows_each_themes_snippet(client, settings):
    settings.SITE_URL = "https://book.example"
    merchant = MerchantFactory()
    theme = ThemeFactory(merchant=merchant, title="Harbour Lights")
    client.force_login(merchant.owner)
    url = reverse("merchant:settings")

    refused = client.post(url, _settings_post(merchant, widget_origins="https://rooms.example\nhttp://rooms.example"))
    assert refused.status_code == 400
    assert "use https://" in refused.content.decode()
    merchant.refresh_from_db()
    assert merchant.widget_origins == []

    saved = client.post(url, _settings_post(merchant, widget_origins="https://Rooms.example/\n\nhttp://localhost:8001"))
    assert saved.status_code == 302
    merchant.refresh_from_db()
    assert merchant.widget_origins == ["https://rooms.example", "http://localhost:8001"]

    page = client.get(url).content.decode()
    assert "https://rooms.example\nhttp://localhost:8001</textarea>" in page
    snippet = (
        "&lt;script src=&quot;https://book.example/static/js/widget.js&quot; "
        f"data-theme=&quot;{theme.pk}&quot; async&gt;&lt;/script&gt;"
    )
    assert snippet in page
    assert "Harbour Lights" in page
