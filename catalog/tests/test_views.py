"""Customer catalog pages through Django's test client: the list, a theme's page, booking from it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory
from reviews.tests.factories import ReviewFactory, attend

pytestmark = pytest.mark.django_db

CATALOG_URL = reverse("portal:catalog")


def theme_url(theme) -> str:
    return reverse("portal:theme-detail", args=[theme.pk])


def book_url(theme) -> str:
    return reverse("portal:theme-book", args=[theme.pk])


@pytest.fixture
def customer_web(client, customer):
    client.force_login(customer)
    return client


def _slot_at(theme, starts_at, **kwargs):
    return SlotFactory(
        theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=theme.duration_minutes), **kwargs
    )


def open_slot(theme=None, *, hours_ahead=26, **kwargs):
    """A slot inside the theme page's three-week window (SlotFactory's own times drift past it in long runs)."""
    theme_fields = {key.removeprefix("theme__"): kwargs.pop(key) for key in list(kwargs) if key.startswith("theme__")}
    theme = theme or ThemeFactory(**theme_fields)
    return _slot_at(theme, timezone.now() + timedelta(hours=hours_ahead), **kwargs)


# --- The catalog -------------------------------------------------------------------------


def test_catalog_shows_theme_cards_with_price_duration_party_and_rating(client):
    ThemeFactory(title="The Vault", price=2500, duration_minutes=90, min_party=2, max_party=5)
    reviewed = ThemeFactory(title="Lab 13", rating_avg="4.50", review_count=2)

    response = client.get(CATALOG_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "The Vault" in html
    assert "$25.00 per person" in html
    assert "1 h 30 min" in html
    assert "2–5 people" in html
    assert "No reviews yet" in html
    assert "4.5 / 5 (2 reviews)" in html
    assert theme_url(reviewed) in html
    # Every filter has a visible label.
    for label in ("Search", "City", "Min price per person", "Max price per person", "Open seats on", "Sort by"):
        assert f">{label}</label>" in html


def test_catalog_hides_inactive_themes_and_pending_merchants(client):
    ThemeFactory(title="Visible room")
    ThemeFactory(title="Retired room", is_active=False)
    ThemeFactory(title="Unapproved room", merchant=PendingMerchantFactory())

    html = client.get(CATALOG_URL).content.decode()

    assert "Visible room" in html
    assert "Retired room" not in html
    assert "Unapproved room" not in html


def test_catalog_search_and_city_filter(client):
    ThemeFactory(title="Pirate ship escape", merchant=MerchantFactory(city="Porto"))
    ThemeFactory(title="Pirate cove", merchant=MerchantFactory(city="Lisbon"))
    ThemeFactory(title="Haunted library", merchant=MerchantFactory(city="Porto"))

    html = client.get(CATALOG_URL, {"q": "pirate", "city": "porto"}).content.decode()

    assert "Pirate ship escape" in html
    assert "Pirate cove" not in html
    assert "Haunted library" not in html


def test_catalog_prices_are_typed_in_dollars_and_compared_in_cents(client):
    ThemeFactory(title="Cheap", price=1000)
    ThemeFactory(title="Middle", price=2550)
    ThemeFactory(title="Dear", price=9000)

    html = client.get(CATALOG_URL, {"min_price": "25.50", "max_price": "80"}).content.decode()

    assert "Middle" in html
    assert "Cheap" not in html
    assert "Dear" not in html


def test_catalog_sorting_by_price_descending(client):
    ThemeFactory(title="Alpha cheap", price=1000)
    ThemeFactory(title="Beta dear", price=9000)

    html = client.get(CATALOG_URL, {"ordering": "-price"}).content.decode()

    assert html.index("Beta dear") < html.index("Alpha cheap")


def test_catalog_date_filter_keeps_themes_with_open_seats_that_utc_day(client):
    day = (timezone.now() + timedelta(days=5)).date()
    noon = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    open_theme = ThemeFactory(title="Has seats")
    _slot_at(open_theme, noon)
    full_theme = ThemeFactory(title="Sold out")
    full = _slot_at(full_theme, noon, capacity=2)
    ConfirmedBookingFactory(slot=full, party_size=2)
    other_day = ThemeFactory(title="Other day")
    _slot_at(other_day, noon + timedelta(days=1))
    cancelled = ThemeFactory(title="Cancelled slot")
    _slot_at(cancelled, noon, status=SlotStatus.CANCELLED)

    html = client.get(CATALOG_URL, {"date": day.isoformat()}).content.decode()

    assert "Has seats" in html
    assert "Sold out" not in html
    assert "Other day" not in html
    assert "Cancelled slot" not in html


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"min_price": "abc"}, "Enter a number."),
        ({"min_price": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"min_price": "50", "max_price": "10"}, "The maximum price must not be below the minimum price."),
        ({"date": "31/02/2030"}, "Enter a valid date."),
        ({"ordering": "DROP TABLE"}, "Select a valid choice."),
    ],
)
def test_catalog_bad_filters_rerender_the_form_with_the_error(client, params, error):
    ThemeFactory(title="Some room")

    response = client.get(CATALOG_URL, params)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert "Fix the filters above" in response.content.decode()


def test_catalog_paginates_without_counting(client):
    for n in range(13):
        ThemeFactory(title=f"Room {n:02d}")

    first = client.get(CATALOG_URL).content.decode()
    second = client.get(CATALOG_URL, {"page": 2}).content.decode()

    assert "Room 00" in first
    assert "Room 11" in first
    assert "Room 12" not in first
    assert "Next page" in first
    assert "?page=2" in first
    assert "Room 12" in second
    assert "Room 00" not in second
    assert "Previous page" in second
    assert "Next page" not in second


@pytest.mark.parametrize("page", ["abc", "0", "-3", "99999999999"])
def test_catalog_odd_page_numbers_never_fail(client, page):
    ThemeFactory()
    assert client.get(CATALOG_URL, {"page": page}).status_code == 200


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_catalog_query_count_does_not_grow_with_themes(client):
    for _ in range(5):
        ThemeFactory(merchant=MerchantFactory())
    cache.clear()  # the currency choices are cached: count their query both times
    few = _queries(client, CATALOG_URL, {"ordering": "price"})
    for _ in range(25):
        ThemeFactory(merchant=MerchantFactory())
    cache.clear()
    many = _queries(client, CATALOG_URL, {"ordering": "price"})

    assert few == many


# --- A theme's page -------------------------------------------------------------------------


def test_theme_page_shows_description_merchant_rating_and_visible_reviews(client):
    theme = ThemeFactory(
        description="Find the **key** before midnight.",
        merchant=MerchantFactory(name="Riddle Co", city="Porto"),
        rating_avg="4.00",
        review_count=1,
    )
    ReviewFactory(theme=theme, rating=4, comment="Loved the twist.", author=UserFactory(full_name="Ana Lima"))
    ReviewFactory(theme=theme, comment="Spam spam", is_hidden=True)

    response = client.get(theme_url(theme))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Find the **key** before midnight." in html
    assert "Riddle Co" in html
    assert "Porto" in html
    assert "4.0 / 5 from 1 review" in html
    assert "Loved the twist." in html
    assert "Ana Lima" in html
    assert "Spam spam" not in html


def test_theme_page_shows_slots_day_by_day_in_the_merchants_timezone(client):
    theme = ThemeFactory(merchant=MerchantFactory(timezone="America/New_York"), duration_minutes=60)
    day = (timezone.now() + timedelta(days=4)).date()
    # 02:30 UTC is still the previous evening in New York (UTC-4 or UTC-5).
    starts = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2, minutes=30)
    slot = _slot_at(theme, starts, capacity=6)
    BookingFactory(slot=slot, party_size=2)
    local = starts.astimezone(theme.merchant.tzinfo)

    html = client.get(theme_url(theme)).content.decode()

    assert "America/New_York" in html
    assert local.strftime("%A %-d %B") in html
    assert f"{local:%H:%M}–{local + timedelta(hours=1):%H:%M}" in html
    assert "4 seats left" in html
    assert f'id="slot-{slot.pk}"' in html
    assert '<label for="id_party_size">Party size' in html


def test_theme_page_lists_only_the_chosen_days_open_slots_and_marks_full_ones(client):
    theme = ThemeFactory()
    soon = timezone.now() + timedelta(days=1)
    full = _slot_at(theme, soon, capacity=2)
    ConfirmedBookingFactory(slot=full, party_size=2)
    cancelled = _slot_at(theme, soon + timedelta(minutes=1), status=SlotStatus.CANCELLED)
    later = _slot_at(theme, soon + timedelta(days=30))

    # The calendar opens on the first day with open times (later's); the full slot's day is a link away.
    day = timezone.localtime(full.starts_at, theme.merchant.tzinfo).date()
    html = client.get(theme_url(theme) + f"?day={day:%Y-%m-%d}&month={day:%Y-%m}").content.decode()

    assert f'id="slot-{full.pk}"' in html
    assert "Full" in html
    assert f'id="slot-{cancelled.pk}"' not in html
    assert f'id="slot-{later.pk}"' not in html


@pytest.mark.parametrize("hidden", ["inactive", "pending_merchant", "missing"])
def test_theme_page_is_404_for_themes_the_public_may_not_see(client, hidden):
    if hidden == "inactive":
        url = theme_url(ThemeFactory(is_active=False))
    elif hidden == "pending_merchant":
        url = theme_url(ThemeFactory(merchant=PendingMerchantFactory()))
    else:
        url = reverse("portal:theme-detail", args=[999_999])
    assert client.get(url).status_code == 404


def test_theme_page_offers_review_link_only_to_attendees(client, customer):
    theme = ThemeFactory()
    client.force_login(customer)
    assert reverse("portal:review", args=[theme.pk]) not in client.get(theme_url(theme)).content.decode()

    attend(customer, theme)

    assert reverse("portal:review", args=[theme.pk]) in client.get(theme_url(theme)).content.decode()


def test_theme_page_query_count_does_not_grow_with_slots_and_reviews(customer_web):
    theme = ThemeFactory()
    start = timezone.now() + timedelta(days=1)
    for n in range(5):
        slot = _slot_at(theme, start + timedelta(hours=2 * n))
        BookingFactory(slot=slot)
        ReviewFactory(theme=theme)
    few = _queries(customer_web, theme_url(theme))
    for n in range(5, 30):
        slot = _slot_at(theme, start + timedelta(hours=2 * n))
        BookingFactory(slot=slot)
        ReviewFactory(theme=theme)
    many = _queries(customer_web, theme_url(theme))

    assert few == many


# --- Booking from the theme page ----------------------------------------------------------------


def test_anonymous_booking_is_sent_to_log_in_and_back_to_the_theme(client):
    slot = open_slot()

    response = client.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 2})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={theme_url(slot.theme)}"
    assert not Booking.objects.exists()


def test_booking_from_the_theme_page_holds_seats_and_goes_to_checkout(customer_web, customer):
    slot = open_slot(theme__price=2500, capacity=5)

    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 3})

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:checkout", args=[booking.pk])
    assert booking.customer == customer
    assert booking.slot == slot
    assert booking.party_size == 3
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert booking.amount == 7500
    assert booking.status_changes.get().reason == "joined"  # written by booking_join


def test_booking_a_free_theme_skips_checkout(customer_web):
    slot = open_slot(theme__price=0)

    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 2}, follow=True)

    booking = Booking.objects.get()
    assert booking.status == BookingStatus.CONFIRMED
    assert response.redirect_chain[-1][0] == reverse("portal:my-bookings")
    assert "it is free, nothing to pay" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"party_size": "abc"}, "Enter a whole number of people."),
        ({"party_size": ""}, "Enter how many people are coming."),
        ({"party_size": "9"}, "Party size must be between 1 and 6."),
        ({"party_size": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"slot": "", "party_size": "2"}, "Choose a time."),
        ({"slot": "nope", "party_size": "2"}, "Enter a whole number."),
    ],
)
def test_bad_booking_input_rerenders_the_theme_page_with_the_error(customer_web, data, error):
    slot = open_slot()
    payload = {"slot": slot.pk, **data}

    response = customer_web.post(book_url(slot.theme), payload)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Booking.objects.exists()


def test_booking_a_full_slot_shows_the_services_message(customer_web):
    slot = open_slot(capacity=2)
    booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 1})

    assert response.status_code == 200
    assert "Only 0 seats are left at this time." in response.content.decode()
    assert Booking.objects.count() == 1


def test_booking_twice_shows_already_booked(customer_web, customer):
    slot = open_slot()
    booking_join(slot_id=slot.pk, customer=customer, party_size=1)

    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 1})

    assert response.status_code == 200
    assert "You already have a booking on this slot." in response.content.decode()


def test_booking_a_slot_of_another_theme_is_refused(customer_web):
    theme = ThemeFactory()
    open_slot(theme)
    foreign = open_slot()

    response = customer_web.post(book_url(theme), {"slot": foreign.pk, "party_size": 1})

    assert response.status_code == 200
    assert "This time is not available: choose another." in response.content.decode()
    assert not Booking.objects.exists()


def test_booking_a_cancelled_slot_shows_slot_closed(customer_web):
    slot = open_slot(status=SlotStatus.CANCELLED)
    open_slot(slot.theme, hours_ahead=30)  # so the page still has a schedule to show

    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 1})

    assert response.status_code == 200
    assert "This slot was cancelled." in response.content.decode()


def test_booking_error_stays_visible_when_no_time_is_left_to_show(customer_web):
    slot = open_slot(status=SlotStatus.CANCELLED)  # the theme's only slot: the schedule is empty

    response = customer_web.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 1})

    assert response.status_code == 200
    html = response.content.decode()
    assert "This slot was cancelled." in html
    # The calendar stays on the chosen time's day, which has no open time left.
    assert "No times on " in html
    assert 'id="book-form"' not in html


def test_pages_answer_head_requests(client):
    theme = ThemeFactory()
    assert client.head(CATALOG_URL).status_code == 200
    assert client.head(theme_url(theme)).status_code == 200


def test_book_url_only_accepts_post(customer_web):
    slot = open_slot()
    assert customer_web.get(book_url(slot.theme)).status_code == 405


def test_theme_page_forms_carry_csrf_tokens():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    customer = UserFactory()
    client.force_login(customer)
    slot = open_slot()

    refused = client.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 1})
    assert refused.status_code == 403

    page = client.get(theme_url(slot.theme))
    token = page.context["csrf_token"]
    accepted = client.post(book_url(slot.theme), {"slot": slot.pk, "party_size": 1, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()


# --- Seat hoarding from the portal: the join throttle and the free-bookings cap ---------------------------


def _join_rate(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "join": rate},
    }


def test_the_book_form_is_throttled_per_user_with_a_clear_message(customer_web, settings):
    _join_rate(settings, "2/minute")
    theme = ThemeFactory(price=0)
    slots = [open_slot(theme, hours_ahead=26 + 2 * i) for i in range(3)]

    first, second, third = (customer_web.post(book_url(theme), {"slot": slot.pk, "party_size": 1}) for slot in slots)

    assert (first.status_code, second.status_code) == (302, 302)
    assert third.status_code == 429
    assert "Too many booking attempts in a short time. Try again in" in third.content.decode()
    assert Booking.objects.count() == 2
    # Per user: someone else still books.
    other = type(customer_web)()
    other.force_login(UserFactory())
    assert other.post(book_url(theme), {"slot": slots[2].pk, "party_size": 1}).status_code == 302


def test_the_book_form_and_the_api_share_one_join_bucket(customer_web, customer, settings):
    from conftest import bearer_client

    _join_rate(settings, "2/minute")
    theme = ThemeFactory(price=0)
    slots = [open_slot(theme, hours_ahead=26 + 2 * i) for i in range(4)]
    api = bearer_client(customer)

    assert customer_web.post(book_url(theme), {"slot": slots[0].pk, "party_size": 1}).status_code == 302
    assert api.post(f"/api/v1/slots/{slots[1].pk}/join/", {}, format="json").status_code == 201
    assert api.post(f"/api/v1/slots/{slots[2].pk}/join/", {}, format="json").status_code == 429
    assert customer_web.post(book_url(theme), {"slot": slots[3].pk, "party_size": 1}).status_code == 429
    assert Booking.objects.filter(customer=customer).count() == 2


def test_the_book_form_shows_the_free_bookings_cap(customer_web, settings):
    settings.BOOKING_MAX_FREE_HOLDS = 1
    theme = ThemeFactory(price=0)
    first, second = open_slot(theme), open_slot(theme, hours_ahead=30)
    customer_web.post(book_url(theme), {"slot": first.pk, "party_size": 1})

    response = customer_web.post(book_url(theme), {"slot": second.pk, "party_size": 1})

    assert response.status_code == 200
    assert "You already hold 1 free booking on upcoming slots" in response.content.decode()
    assert Booking.objects.count() == 1
