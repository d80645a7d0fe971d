"""Calendar feeds (issue 14): the merchant's secret, rotatable iCal URL of its slots and who is booked, and a
customer's personal feed of their confirmed bookings. Parsed with the `icalendar` package.
"""

from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client as bearer
from merchants.models import MerchantStatus
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def hour(days: float, at: int = 18):
    return (timezone.now() + timedelta(days=days)).replace(hour=at, minute=0, second=0, microsecond=0)


def slot_at(theme, starts_at, **kwargs):
    return SlotFactory(
        theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=theme.duration_minutes), **kwargs
    )


def feed_path(url: str) -> str:
    return urlsplit(url).path


def parse(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar) -> dict[str, object]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def feed_api(merchant) -> str:
    return f"/api/v1/merchants/{merchant.pk}/calendar-feed/"


@pytest.fixture
def shop():
    merchant = MerchantFactory(name="Harbour Games", timezone="America/New_York", street="1 Pier St", city="Boston")
    theme = ThemeFactory(merchant=merchant, title="The Vault", duration_minutes=90)
    return merchant, theme


# --- The merchant's feed ---------------------------------------------------------------------------------


def test_the_owner_gets_a_secret_feed_url_that_serves_upcoming_slots_with_who_is_booked(client, shop):
    merchant, theme = shop
    slot = slot_at(theme, hour(3), capacity=6)
    ConfirmedBookingFactory(slot=slot, party_size=2, customer=UserFactory(full_name="Ada Lovelace"))
    BookingFactory(slot=slot, party_size=1, customer=UserFactory(full_name="Pending Person"))  # not paid yet
    attended_slot = slot_at(theme, hour(-2))
    ConfirmedBookingFactory(
        slot=attended_slot, party_size=3, status=BookingStatus.ATTENDED, customer=UserFactory(full_name="Grace Hopper")
    )
    old = slot_at(theme, hour(-9))  # more than a week ago: left out
    cancelled = slot_at(theme, hour(4), status=SlotStatus.CANCELLED)
    other = slot_at(ThemeFactory(), hour(3))  # another merchant's

    response = bearer(merchant.owner).get(feed_api(merchant))

    assert response.status_code == 200
    url = response.json()["url"]
    assert url.startswith("http")
    assert url.endswith(".ics")
    assert "/api/" not in url
    assert bearer(merchant.owner).get(feed_api(merchant)).json()["url"] == url  # stable until rotated

    feed = client.get(feed_path(url))
    assert feed["Cache-Control"] == "private, no-store, max-age=0"
    found = events(parse(feed))
    assert set(found) == {
        f"slot-{slot.pk}@bookwise",
        f"slot-{attended_slot.pk}@bookwise",
        f"slot-{cancelled.pk}@bookwise",
    }
    assert f"slot-{old.pk}@bookwise" not in found
    assert f"slot-{other.pk}@bookwise" not in found
    event = found[f"slot-{slot.pk}@bookwise"]
    assert str(event["SUMMARY"]) == "The Vault (2 booked)"
    # UTC times, exactly the slot's.
    assert event.decoded("DTSTART") == slot.starts_at.astimezone(UTC)
    assert event.decoded("DTSTART").tzinfo is not None
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == slot.ends_at.astimezone(UTC)
    assert b"DTSTART:" + slot.starts_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ").encode() in feed.content
    description = str(event["DESCRIPTION"])
    assert "Ada Lovelace, 2 people, confirmed" in description
    assert "Pending Person" not in description
    assert str(event["LOCATION"]) == "Harbour Games, 1 Pier St, Boston"
    assert "Grace Hopper, 3 people, attended" in str(found[f"slot-{attended_slot.pk}@bookwise"]["DESCRIPTION"])
    assert str(found[f"slot-{cancelled.pk}@bookwise"]["STATUS"]) == "CANCELLED"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_rotating_gives_a_new_url_and_the_old_one_answers_404(client, shop):
    merchant, theme = shop
    slot_at(theme, hour(2))
    owner = bearer(merchant.owner)
    old = owner.get(feed_api(merchant)).json()["url"]
    assert client.get(feed_path(old)).status_code == 200

    response = owner.post(feed_api(merchant))

    assert response.status_code == 200
    new = response.json()["url"]
    assert new != old
    assert client.get(feed_path(old)).status_code == 404
    parse(client.get(feed_path(new)))
    assert owner.get(feed_api(merchant)).json()["url"] == new


def test_another_merchant_can_neither_read_nor_rotate_the_feed_url(shop):
    merchant, _ = shop
    token = bearer(merchant.owner).get(feed_api(merchant)).json()["url"]
    stranger = bearer(MerchantFactory().owner)

    assert stranger.get(feed_api(merchant)).status_code == 404
    assert stranger.post(feed_api(merchant)).status_code == 404
    assert bearer(UserFactory()).get(feed_api(merchant)).status_code == 403
    assert bearer(merchant.owner).get(feed_api(merchant)).json()["url"] == token  # not rotated


@pytest.mark.parametrize("token", ["x" * 43, "short", "../../etc", "a" * 65])
def test_unknown_or_malformed_tokens_answer_404(client, token):
    assert client.get(f"/feeds/merchants/{token}.ics").status_code == 404
    assert client.get(f"/feeds/customers/{token}.ics").status_code == 404


def test_a_suspended_merchant_keeps_its_feed_only_while_its_bookings_are_kept(client, shop):
    merchant, theme = shop
    slot_at(theme, hour(2))
    path = feed_path(bearer(merchant.owner).get(feed_api(merchant)).json()["url"])
    merchant.refresh_from_db()  # the token the API stored
    merchant.status = MerchantStatus.SUSPENDED
    merchant.suspension_keeps_bookings = True
    merchant.save()
    assert client.get(path).status_code == 200
    merchant.suspension_keeps_bookings = False
    merchant.save()
    assert client.get(path).status_code == 404


def test_the_feed_escapes_and_folds_long_text(client, shop):
    merchant, theme = shop
    theme.title = "Crypt; of the, Long Names \\ " + "é" * 60
    theme.save()
    slot = slot_at(theme, hour(2))
    ConfirmedBookingFactory(slot=slot, customer=UserFactory(full_name="Zoë, van der Berg; Jr."))
    path = feed_path(bearer(merchant.owner).get(feed_api(merchant)).json()["url"])

    content = client.get(path).content
    assert all(len(line) <= 75 for line in content.split(b"\r\n"))
    event = next(iter(events(parse(client.get(path))).values()))
    assert str(event["SUMMARY"]) == f"{theme.title} (1 booked)"
    assert "Zoë, van der Berg; Jr., 1 person, confirmed" in str(event["DESCRIPTION"])


def test_the_settings_page_creates_shows_and_rotates_the_feed_link(client, shop):
    merchant, theme = shop
    client.force_login(merchant.owner)
    settings_url = reverse("merchant:settings")
    assert "Create calendar link" in client.get(settings_url).content.decode()

    client.post(reverse("merchant:calendar-feed-rotate"))
    merchant.refresh_from_db()
    first = merchant.calendar_feed_token
    assert first
    page = client.get(settings_url).content.decode()
    assert f"/feeds/merchants/{first}.ics" in page
    assert 'id="calendar-feed-url"' in page
    assert "readonly" in page
    assert "Create new link" in page

    client.post(reverse("merchant:calendar-feed-rotate"))
    merchant.refresh_from_db()
    assert merchant.calendar_feed_token != first
    assert client.get(f"/feeds/merchants/{first}.ics").status_code == 404


# --- The customer's feed ---------------------------------------------------------------------------------


def test_a_customers_feed_lists_only_their_own_confirmed_and_attended_bookings(client, shop):
    _, theme = shop
    customer = UserFactory()
    mine = ConfirmedBookingFactory(customer=customer, slot=slot_at(theme, hour(3)), party_size=2)
    attended = ConfirmedBookingFactory(customer=customer, slot=slot_at(theme, hour(-1)), status=BookingStatus.ATTENDED)
    pending = BookingFactory(customer=customer, slot=slot_at(theme, hour(5)))
    cancelled = ConfirmedBookingFactory(customer=customer, slot=slot_at(theme, hour(6)), status=BookingStatus.CANCELLED)
    someone_elses = ConfirmedBookingFactory(slot=slot_at(theme, hour(7)))
    client.force_login(customer)
    assert "Create calendar link" in client.get(reverse("portal:my-bookings")).content.decode()

    client.post(reverse("portal:calendar-feed-rotate"))

    customer.refresh_from_db()
    page = client.get(reverse("portal:my-bookings")).content.decode()
    path = f"/feeds/customers/{customer.calendar_feed_token}.ics"
    assert path in page
    client.logout()  # the token alone opens the feed
    found = events(parse(client.get(path)))
    assert set(found) == {f"booking-{mine.pk}@bookwise", f"booking-{attended.pk}@bookwise"}
    for other in (pending, cancelled, someone_elses):
        assert f"booking-{other.pk}@bookwise" not in found
    event = found[f"booking-{mine.pk}@bookwise"]
    assert event.decoded("DTSTART") == mine.slot.starts_at.astimezone(UTC)
    assert str(event["SUMMARY"]) == "The Vault"
    assert "for 2 people with Harbour Games" in str(event["DESCRIPTION"])
    assert str(event["URL"]).endswith(f"/bookings/#booking-{mine.pk}")
    assert str(event["LOCATION"]) == "Harbour Games, 1 Pier St, Boston"


def test_rotating_the_customer_feed_makes_the_old_link_404(client):
    customer = UserFactory()
    client.force_login(customer)
    client.post(reverse("portal:calendar-feed-rotate"))
    customer.refresh_from_db()
    old = customer.calendar_feed_token
    assert client.get(f"/feeds/customers/{old}.ics").status_code == 200

    response = client.post(reverse("portal:calendar-feed-rotate"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.calendar_feed_token != old
    assert client.get(f"/feeds/customers/{old}.ics").status_code == 404
    assert client.get(f"/feeds/customers/{customer.calendar_feed_token}.ics").status_code == 200


def test_the_customer_rotate_button_needs_a_signed_in_post(client):
    assert client.post(reverse("portal:calendar-feed-rotate")).status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert client.get(reverse("portal:calendar-feed-rotate")).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_first_requests_at_once_agree_on_one_feed_token():
    from merchants.feeds import merchant_feed_token
    from merchants.models import Merchant
    from tests.concurrency import run_together

    merchant = MerchantFactory()

    results = run_together([lambda: merchant_feed_token(merchant=Merchant.objects.get(pk=merchant.pk))] * 4)

    assert len(set(results)) == 1
    merchant.refresh_from_db()
    assert merchant.calendar_feed_token == results[0]
