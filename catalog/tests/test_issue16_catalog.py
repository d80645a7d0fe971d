"""Issue 16 in the catalog: the no-refund warning on the booking form, unsellable leftovers shown as
full, prices compared within one currency, and "open seats on" a day in the merchant's own timezone.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from bookings.catalog_selectors import theme_currency_most_common, theme_list_filtered
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.selectors import ThemeFilters
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

CATALOG_URL = reverse("portal:catalog")
THEMES_API = "/api/v1/themes/"


@pytest.fixture(autouse=True)
def _fresh_currency_choices():
    cache.clear()


def slot_at(theme, starts_at, **kwargs):
    return SlotFactory(
        theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=theme.duration_minutes), **kwargs
    )


def theme_page(client, theme, *, on=None, **kwargs):
    """The theme page; `on`: a slot whose local day the calendar shows (the page lists one day's times)."""
    url = reverse("portal:theme-detail", args=[theme.pk])
    if on is not None:
        day = timezone.localtime(on.starts_at, theme.merchant.tzinfo).date()
        url += f"?day={day:%Y-%m-%d}&month={day:%Y-%m}"
    return client.get(url, **kwargs).content.decode()


def slot_item(html, slot):
    item = html[html.index(f'id="slot-{slot.pk}"') :]
    return item[: item.index("</li>")]


# --- The booking form says "no refund" before the card is charged --------------------------------

WARNING_3H = "Starts in 3 hours: this booking cannot be cancelled for a refund."


def test_theme_page_marks_times_inside_the_no_refund_window(client):
    theme = ThemeFactory(price=2500, cancellation_cutoff_hours=24)
    soon = slot_at(theme, timezone.now() + timedelta(hours=3, minutes=20))
    later = slot_at(theme, timezone.now() + timedelta(days=3))

    html = theme_page(client, theme, on=soon)

    assert f'data-refund-warning="{WARNING_3H}"' in html
    soon_item = slot_item(html, soon)
    assert "No refund if cancelled" in soon_item
    later_item = slot_item(theme_page(client, theme, on=later), later)
    assert "data-refund-warning" not in later_item
    assert "No refund if cancelled" not in later_item
    # The warning box near the button waits for a choice (book.js fills it in).
    assert 'id="book-refund-warning"' in html


def test_a_free_theme_has_no_refund_warning(client):
    theme = ThemeFactory(price=0, cancellation_cutoff_hours=24)
    slot_at(theme, timezone.now() + timedelta(hours=3))

    html = theme_page(client, theme)

    assert "data-refund-warning" not in html
    assert "No refund if cancelled" not in html


def test_the_re_rendered_book_form_shows_the_chosen_times_warning(client, customer):
    client.force_login(customer)
    theme = ThemeFactory(price=2500, cancellation_cutoff_hours=24, min_party=2, max_party=4)
    slot = slot_at(theme, timezone.now() + timedelta(hours=3, minutes=20))

    response = client.post(reverse("portal:theme-book", args=[theme.pk]), {"slot": slot.pk, "party_size": 9})

    html = response.content.decode()
    assert f'<p class="message message-warning" id="book-refund-warning" role="status">{WARNING_3H}</p>' in html


# --- Unsellable leftovers ----------------------------------------------------------------------------


def test_theme_page_shows_a_slot_with_fewer_seats_than_the_smallest_party_as_full(client):
    theme = ThemeFactory(min_party=2, max_party=4)
    leftover = slot_at(theme, timezone.now() + timedelta(days=1), capacity=3)
    ConfirmedBookingFactory(slot=leftover, party_size=2)  # 1 seat left, the smallest party is 2
    roomy = slot_at(theme, timezone.now() + timedelta(days=2), capacity=3)

    item = slot_item(theme_page(client, theme, on=leftover), leftover)
    assert "disabled" in item
    assert "Full" in item
    assert "1 seat left" not in item
    assert "3 seats left" in slot_item(theme_page(client, theme, on=roomy), roomy)


def test_api_slot_keeps_the_true_seats_left_of_a_leftover(api_client):
    theme = ThemeFactory(min_party=2, max_party=4)
    leftover = slot_at(theme, timezone.now() + timedelta(days=1), capacity=3)
    ConfirmedBookingFactory(slot=leftover, party_size=2)

    response = api_client.get(f"/api/v1/slots/{leftover.pk}/")

    assert response.status_code == 200
    assert response.json()["seats_left"] == 1


def leftover_only_theme(starts_at, *, title):
    """A theme whose one open slot has a single seat left while its smallest party is 2."""
    theme = ThemeFactory(title=title, min_party=2, max_party=4)
    slot = slot_at(theme, starts_at, capacity=3)
    ConfirmedBookingFactory(slot=slot, party_size=2)
    return theme


def test_availability_filters_skip_themes_whose_only_open_slot_is_a_leftover(client, api_client):
    day = (timezone.now() + timedelta(days=5)).date()
    noon = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    leftover_only_theme(noon, title="Leftover room")
    sellable = ThemeFactory(title="Sellable room", min_party=2, max_party=4)
    slot_at(sellable, noon, capacity=3)

    html = client.get(CATALOG_URL, {"date": day.isoformat()}).content.decode()
    api = api_client.get(
        THEMES_API,
        {"available_from": noon.isoformat(), "available_to": (noon + timedelta(hours=1)).isoformat()},
    ).json()

    assert "Sellable room" in html
    assert "Leftover room" not in html
    assert [row["title"] for row in api["results"]] == ["Sellable room"]
    assert listed(available_from=noon, available_to=noon + timedelta(hours=1)) == [sellable]


# --- Prices compared within one currency ----------------------------------------------------------


def listed(**filters) -> list:
    return list(theme_list_filtered(filters=ThemeFilters(**filters)))


@pytest.fixture
def eur_and_usd():
    eur = ThemeFactory(title="Euro room", price=2950, currency="eur")
    usd = ThemeFactory(title="Dollar room", price=3000, currency="usd")
    return eur, usd


def test_min_30_in_eur_shows_neither_the_eur_29_50_nor_the_usd_30_theme(client, eur_and_usd):
    html = client.get(CATALOG_URL, {"min_price": "30", "currency": "eur"}).content.decode()

    assert "Euro room" not in html
    assert "Dollar room" not in html
    assert "Showing prices in EUR" in html


def test_min_29_in_eur_shows_only_the_eur_theme(client, eur_and_usd):
    html = client.get(CATALOG_URL, {"min_price": "29", "currency": "eur"}).content.decode()

    assert "Euro room" in html
    assert "Dollar room" not in html


def test_price_filter_without_a_choice_uses_the_results_most_common_currency(client, eur_and_usd):
    ThemeFactory(title="Another euro room", price=4000, currency="eur")

    html = client.get(CATALOG_URL, {"min_price": "30"}).content.decode()

    assert "Another euro room" in html
    assert "Dollar room" not in html
    assert "Euro room</a>" not in html
    assert "Showing prices in EUR" in html
    assert '<option value="eur" selected>EUR</option>' in html


def test_price_ordering_lists_only_the_chosen_currency_in_order(client, eur_and_usd):
    ThemeFactory(title="Dear dollar room", price=9000, currency="usd")

    html = client.get(CATALOG_URL, {"ordering": "-price", "currency": "usd"}).content.decode()

    assert "Euro room" not in html
    assert html.index("Dear dollar room") < html.index("Dollar room</a>")
    assert "Showing prices in USD" in html


def test_without_price_filter_or_ordering_every_currency_is_listed(client, eur_and_usd):
    html = client.get(CATALOG_URL, {"currency": "eur"}).content.decode()

    assert "Euro room" in html
    assert "Dollar room" in html
    assert "Showing prices in" not in html


def test_currency_choices_are_those_of_active_themes(client, eur_and_usd):
    ThemeFactory(title="Yen room", price=5000, currency="jpy", is_active=False)

    html = client.get(CATALOG_URL).content.decode()

    assert '<option value="eur">EUR</option>' in html
    assert '<option value="usd">USD</option>' in html
    assert 'value="jpy"' not in html


def test_an_unknown_currency_is_a_form_error_not_a_500(client, eur_and_usd):
    response = client.get(CATALOG_URL, {"currency": "xyz", "min_price": "10"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_page_links_keep_the_currency_picked_for_the_viewer(client):
    for n in range(13):
        ThemeFactory(title=f"Room {n:02d}", price=1000 + n, currency="eur")

    html = client.get(CATALOG_URL, {"ordering": "price"}).content.decode()

    assert "currency=eur" in html[html.index('rel="next"') - 200 :]


def test_most_common_currency_ignores_price_bounds_and_breaks_ties_alphabetically(eur_and_usd):
    assert theme_currency_most_common(filters=ThemeFilters(min_price_major=1000)) == "eur"
    ThemeFactory(price=100, currency="usd")
    assert theme_currency_most_common(filters=ThemeFilters()) == "usd"
    assert theme_currency_most_common(filters=ThemeFilters(search="zeppelin")) is None


def test_api_currency_restricts_price_filters_to_that_currency(api_client, eur_and_usd):
    def titles(params):
        response = api_client.get(THEMES_API, params)
        assert response.status_code == 200, response.content
        return [row["title"] for row in response.json()["results"]]

    assert titles({"min_price": 2950, "currency": "EUR"}) == ["Euro room"]
    assert titles({"min_price": 3000, "currency": "eur"}) == []
    assert titles({"ordering": "price", "currency": "usd"}) == ["Dollar room"]
    # Without it, the API compares the minor-unit numbers as before.
    assert titles({"min_price": 2950, "ordering": "price"}) == ["Euro room", "Dollar room"]
    # A currency alone does not filter.
    assert sorted(titles({"currency": "eur"})) == ["Dollar room", "Euro room"]


@pytest.mark.parametrize("currency", ["xyz", "huf", "eu"])
def test_api_unsupported_currency_is_400(api_client, currency):
    response = api_client.get(THEMES_API, {"min_price": 100, "currency": currency})

    assert response.status_code == 400
    assert "currency" in response.json()


# --- "Open seats on" is the merchant's local day -------------------------------------------------


def test_a_tokyo_slot_at_8_local_on_d_is_found_for_d_not_the_day_before(client):
    day = (timezone.now() + timedelta(days=10)).date()
    tokyo = ThemeFactory(title="Tokyo room", merchant=MerchantFactory(city="Tokyo", timezone="Asia/Tokyo"))
    # 08:00 in Tokyo (UTC+9) on D is 23:00 UTC on D-1.
    slot_at(tokyo, datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=23))

    on_day = client.get(CATALOG_URL, {"date": day.isoformat()}).content.decode()
    day_before = client.get(CATALOG_URL, {"date": (day - timedelta(days=1)).isoformat()}).content.decode()

    assert "Tokyo room" in on_day
    assert "Tokyo room" not in day_before


def test_a_new_york_evening_slot_belongs_to_its_local_day(client):
    day = (timezone.now() + timedelta(days=10)).date()
    new_york = ThemeFactory(title="NYC room", merchant=MerchantFactory(city="New York", timezone="America/New_York"))
    # 21:00 in New York (UTC-5 or -4) on D is 01:00 or 02:00 UTC on D+1.
    slot_at(new_york, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=2))

    assert "NYC room" in client.get(CATALOG_URL, {"date": day.isoformat()}).content.decode()
    assert "NYC room" not in client.get(CATALOG_URL, {"date": (day + timedelta(days=1)).isoformat()}).content.decode()


def test_local_day_filter_at_the_edges_of_the_day_in_kiritimati_and_baker_island_zones():
    day = date.today() + timedelta(days=10)
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    plus14 = ThemeFactory(merchant=MerchantFactory(timezone="Pacific/Kiritimati"))  # UTC+14
    slot_at(plus14, midnight - timedelta(hours=14))  # 00:00 local on D
    minus12 = ThemeFactory(merchant=MerchantFactory(timezone="Etc/GMT+12"))  # UTC-12
    slot_at(minus12, midnight + timedelta(hours=35, minutes=59))  # 23:59 local on D

    assert set(listed(available_on_local_day=day)) == {plus14, minus12}
    assert listed(available_on_local_day=day - timedelta(days=1)) == []
    assert listed(available_on_local_day=day + timedelta(days=1)) == []
