"""The merchant portal's forms for the ways a theme is sold (issue 12): private, minimum players, ticket tiers,
refund tiers, peak prices per slot and per weekly schedule, and the tickets on the participants page."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.services import booking_join
from catalog.models import BookingMode, Slot, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
THEME_INPUT = {
    "title": "Pirate Cove",
    "description": "Arr.",
    "duration_minutes": "60",
    "price": "25.00",
    "currency": "EUR",
    "min_party": "2",
    "max_party": "6",
    "cancellation_cutoff_hours": "24",
}


@pytest.fixture
def merchant():
    return MerchantFactory(timezone="Europe/Berlin")


@pytest.fixture
def client(merchant) -> Client:
    client = Client()
    client.force_login(merchant.owner)
    return client


def test_theme_form_saves_private_mode_tiers_minimum_and_refund_tiers(merchant, client):
    response = client.post(
        reverse("merchant:theme-create"),
        {
            **THEME_INPUT,
            "booking_mode": "private",
            "private_price": "90.00",
            "min_players": "4",
            "min_players_deadline_hours": "12",
            "tier_1_code": "adult",
            "tier_1_label": "Adult",
            "tier_1_price": "25.00",
            "tier_2_code": "child",
            "tier_2_label": "",  # blank label: the code, capitalised
            "tier_2_price": "15.50",
            "policy_1_hours": "24",
            "policy_1_percent": "50",
            "policy_2_hours": "48",
            "policy_2_percent": "100",
        },
    )

    theme = Theme.objects.get(merchant=merchant, title="Pirate Cove")
    assert response.status_code == 302
    assert (theme.booking_mode, theme.private_price) == (BookingMode.PRIVATE, 9000)
    assert (theme.min_players, theme.min_players_deadline_hours) == (4, 12)
    assert theme.price_tiers == [
        {"code": "adult", "label": "Adult", "price": 2500},
        {"code": "child", "label": "Child", "price": 1550},
    ]
    assert theme.cancellation_policy == [
        {"hours_before": 48, "refund_percent": 100},
        {"hours_before": 24, "refund_percent": 50},
    ]

    # The edit form shows it all back, and saving it unchanged keeps it.
    edit = client.get(reverse("merchant:theme-edit", args=[theme.pk]))
    form = edit.context["form"]
    assert (form.initial["private_price"], form.initial["tier_2_price"]) == (Decimal("90.00"), Decimal("15.50"))
    assert form.initial["policy_1_hours"] == 48
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["is_active"] = "on"
    client.post(reverse("merchant:theme-edit", args=[theme.pk]), data)
    theme.refresh_from_db()
    assert len(theme.price_tiers) == 2
    assert len(theme.cancellation_policy) == 2


def test_theme_form_without_the_new_fields_makes_a_theme_like_before(merchant, client):
    client.post(reverse("merchant:theme-create"), THEME_INPUT)

    theme = Theme.objects.get(merchant=merchant, title="Pirate Cove")
    assert (theme.booking_mode, theme.private_price, theme.price_tiers) == (BookingMode.SHARED, None, [])
    assert (theme.min_players, theme.min_players_deadline_hours, theme.cancellation_policy) == (1, 24, [])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tier_1_code": "adult", "tier_1_label": "Adult"}, "Tier 1: give a code and a price"),
        ({"tier_1_code": "Adult!", "tier_1_price": "10"}, "Use lowercase letters"),
        (
            {"tier_1_code": "adult", "tier_1_price": "10", "tier_2_code": "adult", "tier_2_price": "5"},
            "used twice",
        ),
        ({"policy_1_hours": "24"}, "Refund tier 1: give the hours and the percent"),
        ({"policy_1_hours": "24", "policy_1_percent": "101"}, "less than or equal to 100"),
        ({"private_price": "90"}, "only for private themes"),
    ],
)
def test_theme_form_refuses_bad_tiers_with_a_message(merchant, client, changes, message):
    response = client.post(reverse("merchant:theme-create"), {**THEME_INPUT, **changes})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Theme.objects.filter(merchant=merchant).exists()


def test_slot_add_with_a_peak_price(merchant, client):
    theme = ThemeFactory(merchant=merchant, price=2500, currency="eur")
    day = timezone.localdate(timezone=BERLIN) + timedelta(days=3)

    response = client.post(
        reverse("merchant:slot-add", args=[theme.pk]),
        {"date": day.isoformat(), "time": "19:00", "capacity": "6", "price": "35.00"},
    )

    assert response.status_code == 302
    assert Slot.objects.get(theme=theme).price == 3500
    listing = client.get(reverse("merchant:slot-list", args=[theme.pk])).content.decode()
    assert '<strong class="slot-peak-price">€35.00</strong>' in listing


def test_slot_add_peak_price_on_a_tiered_theme_shows_the_services_refusal(merchant, client):
    theme = ThemeFactory(merchant=merchant, price_tiers=[{"code": "adult", "label": "Adult", "price": 2500}])
    day = timezone.localdate(timezone=BERLIN) + timedelta(days=3)

    response = client.post(
        reverse("merchant:slot-add", args=[theme.pk]),
        {"date": day.isoformat(), "time": "19:00", "capacity": "6", "price": "35.00"},
    )

    assert response.status_code == 400
    assert "priced by ticket tiers" in response.content.decode()
    assert not Slot.objects.filter(theme=theme).exists()


def test_weekly_schedule_with_a_price_previews_it_and_creates_peak_slots(merchant, client):
    theme = ThemeFactory(merchant=merchant, price=2500, currency="eur")
    first = timezone.localdate(timezone=BERLIN) + timedelta(days=1)
    data = {
        "start_date": first.isoformat(),
        "end_date": (first + timedelta(days=6)).isoformat(),
        "weekdays": ["4", "5"],
        "times": "18:00",
        "capacity": "6",
        "price": "35.00",
    }

    preview = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**data, "action": "preview"})
    assert preview.status_code == 200, preview.context["form"].errors
    assert '<strong>2</strong> slots will be created at <strong id="plan-price">€35.00</strong>' in (
        preview.content.decode()
    )

    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**data, "action": "create"})

    assert response.status_code == 302
    slots = list(Slot.objects.filter(theme=theme))
    assert len(slots) == 2
    assert {s.price for s in slots} == {3500}
    assert {timezone.localtime(s.starts_at, BERLIN).weekday() for s in slots} == {4, 5}


def test_participants_page_shows_each_bookings_tickets_and_the_slot_price(merchant, client, customer):
    tiers = [{"code": "adult", "label": "Adult", "price": 2500}, {"code": "child", "label": "Child", "price": 1500}]
    theme = ThemeFactory(merchant=merchant, price_tiers=tiers, currency="eur")
    slot = SlotFactory(theme=theme, capacity=6)
    booking_join(
        slot_id=slot.pk,
        customer=customer,
        tickets=[{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}],
    )

    body = client.get(reverse("merchant:slot-participants", args=[slot.pk])).content.decode()

    assert "2 adults, 1 child" in body
    assert "€65.00" in body
    assert "Ticket tiers" in body
