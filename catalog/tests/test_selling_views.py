"""The theme page and its booking form for the ways a theme is sold (issue 12): private, tiers, peak prices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from catalog.models import BookingMode
from catalog.tests.factories import SlotFactory, ThemeFactory

pytestmark = pytest.mark.django_db

TIERS = [{"code": "adult", "label": "Adult", "price": 2500}, {"code": "child", "label": "Child", "price": 1500}]


@pytest.fixture
def customer_web(client, customer):
    client.force_login(customer)
    return client


def open_slot(theme, *, hours_ahead=26, **kwargs):
    starts_at = timezone.now() + timedelta(hours=hours_ahead)
    return SlotFactory(
        theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=theme.duration_minutes), **kwargs
    )


def test_private_theme_page_says_your_group_only_and_the_group_price(client):
    theme = ThemeFactory(booking_mode=BookingMode.PRIVATE, private_price=9000, max_party=6, currency="eur")
    open_slot(theme)

    body = client.get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()

    assert "Private: your group only" in body
    assert "€90.00 for the group (up to 6 people)" in body


def test_theme_page_shows_a_slot_price_only_where_it_differs(client):
    theme = ThemeFactory(price=3000, currency="usd")
    peak = open_slot(theme, hours_ahead=30, price=4000)
    same = open_slot(theme, hours_ahead=50, price=3000)
    plain = open_slot(theme, hours_ahead=70)

    def label(slot):
        # The page lists one day's times: open the calendar on the slot's local day.
        day = timezone.localtime(slot.starts_at, theme.merchant.tzinfo).date()
        url = reverse("portal:theme-detail", args=[theme.pk]) + f"?day={day:%Y-%m-%d}&month={day:%Y-%m}"
        body = client.get(url).content.decode()
        start = body.index(f'<label for="slot-{slot.pk}">')
        return body[start : body.index("</label>", start)]

    assert "$40.00 per person" in label(peak)
    assert "$" not in label(same)
    assert "$" not in label(plain)
    assert 'data-unit-price="4000"' in client.get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()


def test_tiered_theme_books_with_tickets_and_the_server_prices_it(customer_web, customer):
    theme = ThemeFactory(price_tiers=TIERS, min_party=1, max_party=6, currency="usd")
    slot = open_slot(theme, capacity=6)
    page = customer_web.get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()
    assert 'name="ticket_adult"' in page
    assert 'name="ticket_child"' in page
    assert 'data-ticket-price="1500"' in page

    # What a browser without JavaScript posts: the quantities only (party_size is computed by the server).
    response = customer_web.post(
        reverse("portal:theme-book", args=[theme.pk]), {"slot": slot.pk, "ticket_adult": "2", "ticket_child": "1"}
    )

    booking = Booking.objects.get(customer=customer)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:checkout", args=[booking.pk])
    assert (booking.party_size, booking.amount) == (3, 6500)
    assert booking.tickets == [{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}]
    checkout = customer_web.get(response["Location"]).content.decode()
    assert "3 people" in checkout
    assert "(2 adults, 1 child)" in checkout
    assert "$65.00" in checkout


def test_tiered_theme_with_no_tickets_chosen_shows_the_services_message(customer_web):
    theme = ThemeFactory(price_tiers=TIERS)
    slot = open_slot(theme)

    response = customer_web.post(
        reverse("portal:theme-book", args=[theme.pk]), {"slot": slot.pk, "ticket_adult": "0", "ticket_child": ""}
    )

    assert response.status_code == 200
    assert "Choose at least one ticket." in response.content.decode()
    assert not Booking.objects.exists()


def test_private_room_taken_by_one_group_is_full_for_the_next(customer_web, customer):
    theme = ThemeFactory(booking_mode=BookingMode.PRIVATE, private_price=9000, min_party=2, max_party=6)
    slot = open_slot(theme, capacity=6)
    customer_web.post(reverse("portal:theme-book", args=[theme.pk]), {"slot": slot.pk, "party_size": "2"})
    assert Booking.objects.get(customer=customer).amount == 9000

    page = customer_web.get(reverse("portal:theme-detail", args=[theme.pk])).content.decode()

    start = page.index(f'<label for="slot-{slot.pk}">')
    assert "Full" in page[start : page.index("</label>", start)]


@pytest.mark.parametrize(
    ("tickets", "words"),
    [
        ([{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}], "2 adults, 1 child"),
        ([{"tier": "adult", "quantity": 1}, {"tier": "child", "quantity": 0}], "1 adult"),
        ([{"tier": "senior", "quantity": 3}], "3 seniors"),  # a tier since removed: its code
        ([], ""),
    ],
)
def test_tickets_words_reads_like_a_person_would_say_it(tickets, words):
    rendered = Template("{% load portal %}{{ tickets|tickets_words:tiers }}").render(
        Context({"tickets": tickets, "tiers": TIERS})
    )
    assert rendered == words


def test_tickets_words_keeps_a_label_of_several_words_as_written():
    tiers = [{"code": "student", "label": "Student (under 26)", "price": 1000}]
    rendered = Template("{% load portal %}{{ tickets|tickets_words:tiers }}").render(
        Context({"tickets": [{"tier": "student", "quantity": 2}], "tiers": tiers})
    )
    assert rendered == "2 × Student (under 26)"
