"""A suspended merchant keeps no merchant powers: one rule (merchants.permissions) for API, portal and services.

Each power is checked twice on the same objects: it works while the merchant is
approved, and is refused (without effect) once an admin suspends them. The one
exception: a suspension that keeps the bookings leaves the owner the participants
list and attendance (`user_serves_kept_bookings`), and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings import catalog_selectors
from bookings import selectors as booking_selectors
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.errors import DomainError
from catalog.models import Slot, SlotStatus, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import booking_cancel_and_refund, merchant_suspend
from conftest import bearer_client
from merchants.models import Merchant, MerchantStatus
from merchants.permissions import user_approved_merchant, user_manages
from merchants.services import merchant_approve
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@dataclass
class Shop:
    merchant: Merchant
    theme: Theme
    slot: Slot
    started_slot: Slot
    booking: Booking  # a customer's pending hold on `slot`
    attended: Booking  # a confirmed booking on `started_slot`


@pytest.fixture
def shop() -> Shop:
    merchant = MerchantFactory()
    theme = ThemeFactory(merchant=merchant, duration_minutes=60)
    slot = SlotFactory(theme=theme)
    started = timezone.now() - timedelta(minutes=30)
    started_slot = SlotFactory(theme=theme, starts_at=started, ends_at=started + timedelta(hours=1))
    return Shop(
        merchant=merchant,
        theme=theme,
        slot=slot,
        started_slot=started_slot,
        booking=BookingFactory(slot=slot),
        attended=ConfirmedBookingFactory(slot=started_slot),
    )


def suspend(shop: Shop, *, keep_bookings: bool = True) -> None:
    merchant_suspend(merchant=shop.merchant, by=AdminFactory(), reason="Test suspension", keep_bookings=keep_bookings)
    shop.merchant.owner.refresh_from_db()
    shop.merchant.refresh_from_db()


def _future(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0).isoformat()


# (name, method, path, body): every owner power of the API.
API_POWERS = [
    ("participants", "get", lambda s: f"/api/v1/slots/{s.slot.pk}/participants/", None),
    ("patch theme", "patch", lambda s: f"/api/v1/themes/{s.theme.pk}/", {"title": "Renamed"}),
    ("new slot", "post", lambda s: f"/api/v1/themes/{s.theme.pk}/slots/", {"starts_at": _future(40), "capacity": 4}),
    (
        "bulk slots",
        "post",
        lambda s: f"/api/v1/themes/{s.theme.pk}/slots/bulk/",
        {
            "start_date": (timezone.localdate() + timedelta(days=50)).isoformat(),
            "end_date": (timezone.localdate() + timedelta(days=56)).isoformat(),
            "weekdays": [0, 3],
            "times": ["10:00"],
            "capacity": 4,
        },
    ),
    ("slot capacity", "patch", lambda s: f"/api/v1/slots/{s.slot.pk}/", {"capacity": 9}),
    ("attendance", "post", lambda s: "/api/v1/attendance/", lambda s: {"booking": s.attended.pk, "status": "attended"}),
    ("cancel slot", "post", lambda s: f"/api/v1/slots/{s.slot.pk}/cancel/", None),
    ("cancel booking", "post", lambda s: f"/api/v1/bookings/{s.booking.pk}/cancel/", None),
    ("open booking", "get", lambda s: f"/api/v1/bookings/{s.booking.pk}/", None),
    ("deactivate theme", "delete", lambda s: f"/api/v1/themes/{s.theme.pk}/", None),
]


def _call(shop: Shop, method: str, path, body):
    client = bearer_client(shop.merchant.owner)
    data = body(shop) if callable(body) else body
    return getattr(client, method)(path(shop), data, format="json")


def _state(shop: Shop) -> tuple:
    shop.theme.refresh_from_db()
    shop.slot.refresh_from_db()
    return (
        shop.theme.title,
        shop.theme.is_active,
        shop.slot.capacity,
        shop.slot.status,
        Slot.objects.filter(theme=shop.theme).count(),
        Booking.objects.get(pk=shop.booking.pk).status,
        Booking.objects.get(pk=shop.attended.pk).status,
    )


@pytest.mark.parametrize(("name", "method", "path", "body"), API_POWERS, ids=[p[0] for p in API_POWERS])
def test_an_approved_owner_has_the_power(shop, name, method, path, body):
    response = _call(shop, method, path, body)
    assert response.status_code in (200, 201, 204), (name, response.content[:300])


# What a suspended owner whose bookings were kept may still do: serve those bookings.
KEPT_POWERS = {"participants", "attendance"}
LOST_POWERS = [p for p in API_POWERS if p[0] not in KEPT_POWERS]
SERVING_POWERS = [p for p in API_POWERS if p[0] in KEPT_POWERS]


@pytest.mark.parametrize(("name", "method", "path", "body"), LOST_POWERS, ids=[p[0] for p in LOST_POWERS])
@pytest.mark.parametrize("keep_bookings", [True, False], ids=["kept", "cancelled"])
def test_a_suspended_owner_loses_the_power_and_changes_nothing(shop, name, method, path, body, keep_bookings):
    suspend(shop, keep_bookings=keep_bookings)
    before = _state(shop)

    response = _call(shop, method, path, body)

    # Scope first: a suspended merchant's themes, slots and bookings are out of the owner's sight.
    assert response.status_code == 404, (name, response.status_code, response.content[:300])
    assert _state(shop) == before


@pytest.mark.parametrize(("name", "method", "path", "body"), SERVING_POWERS, ids=[p[0] for p in SERVING_POWERS])
def test_a_suspended_owner_whose_bookings_were_kept_still_serves_them(shop, name, method, path, body):
    suspend(shop, keep_bookings=True)

    response = _call(shop, method, path, body)

    assert response.status_code == 200, (name, response.status_code, response.content[:300])


@pytest.mark.parametrize(("name", "method", "path", "body"), SERVING_POWERS, ids=[p[0] for p in SERVING_POWERS])
def test_a_suspended_owner_whose_bookings_were_cancelled_serves_nothing(shop, name, method, path, body):
    suspend(shop, keep_bookings=False)

    response = _call(shop, method, path, body)

    assert response.status_code == 404, (name, response.status_code, response.content[:300])
    assert Booking.objects.get(pk=shop.attended.pk).status == BookingStatus.CONFIRMED


def test_nothing_new_can_be_booked_on_a_suspended_merchant_with_kept_bookings(shop):
    """The customer holding a booking still sees the theme, yet a join on its slots is refused."""
    customer = shop.booking.customer
    suspend(shop, keep_bookings=True)
    client = bearer_client(customer)
    other_slot = SlotFactory(theme=shop.theme)

    assert client.get(f"/api/v1/themes/{shop.theme.pk}/").status_code == 200
    response = client.post(f"/api/v1/slots/{other_slot.pk}/join/", {"party_size": 1}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_closed"
    assert bearer_client(UserFactory()).get(f"/api/v1/themes/{shop.theme.pk}/").status_code == 404


def test_a_customer_with_a_booking_sees_the_theme_page_of_a_suspended_merchant(shop):
    customer = shop.attended.customer
    suspend(shop)
    web = Client()
    web.force_login(customer)

    assert web.get(reverse("portal:theme-detail", args=[shop.theme.pk])).status_code == 200
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(reverse("portal:theme-detail", args=[shop.theme.pk])).status_code == 404


def test_the_portal_participants_page_and_attendance_stay_for_kept_bookings(shop):
    suspend(shop, keep_bookings=True)
    client = Client()
    client.force_login(shop.merchant.owner)

    home = client.get(reverse("merchant:home"))
    assert reverse("merchant:slot-participants", args=[shop.started_slot.pk]) in home.content.decode()
    page = client.get(reverse("merchant:slot-participants", args=[shop.started_slot.pk]))
    assert page.status_code == 200
    assert shop.attended.customer.email in page.content.decode() or shop.attended.customer.full_name in (
        page.content.decode()
    )
    client.post(reverse("merchant:booking-attendance", args=[shop.attended.pk]), {"status": "attended"})
    assert Booking.objects.get(pk=shop.attended.pk).status == BookingStatus.ATTENDED
    # Every other page still shows the suspended notice.
    assert client.get(reverse("merchant:slot-capacity", args=[shop.slot.pk])).status_code == 403


def test_re_approval_gives_the_powers_back(shop):
    suspend(shop)
    merchant_approve(merchant=shop.merchant, by=AdminFactory())

    response = bearer_client(shop.merchant.owner).get(f"/api/v1/slots/{shop.slot.pk}/participants/")

    assert response.status_code == 200


def test_a_suspended_owner_still_sees_their_own_profile_and_their_own_bookings_as_a_customer(shop):
    own_booking = BookingFactory(customer=shop.merchant.owner, slot=SlotFactory())
    suspend(shop)
    client = bearer_client(shop.merchant.owner)

    assert client.get("/api/v1/merchants/me/").json()["status"] == "suspended"
    assert client.get(f"/api/v1/bookings/{own_booking.pk}/").status_code == 200
    assert client.post("/api/v1/themes/", {"title": "X", "duration_minutes": 60, "price": 0}).status_code == 403


# --- The rule itself, and the services that apply it ---------------------------------------------------


@pytest.mark.parametrize("status", [MerchantStatus.PENDING, MerchantStatus.SUSPENDED])
def test_the_one_rule_requires_an_approved_profile(status):
    merchant = MerchantFactory(status=status)
    admin = AdminFactory()

    assert not user_manages(merchant.owner, merchant)
    assert user_approved_merchant(merchant.owner) is None
    assert user_manages(admin, merchant)
    theme = ThemeFactory(merchant=merchant, is_active=False)
    assert not catalog_selectors.theme_visible_to(user=merchant.owner).filter(pk=theme.pk).exists()
    booking = BookingFactory(slot=SlotFactory(theme=theme))
    assert not booking_selectors.booking_visible_to(user=merchant.owner).filter(pk=booking.pk).exists()


def test_a_suspended_owner_never_cancels_with_merchant_rules(shop):
    """A merchant may cancel a paid booking until the slot ends; a suspended one is held to the customer's terms."""
    paid = ConfirmedBookingFactory(slot=shop.slot, amount=2500)
    shop.slot.starts_at = timezone.now() + timedelta(hours=1)  # inside the 24 h customer cutoff
    shop.slot.ends_at = shop.slot.starts_at + timedelta(hours=1)
    shop.slot.save()
    suspend(shop)

    with pytest.raises(DomainError) as exc:
        booking_cancel_and_refund(booking_id=paid.pk, by=shop.merchant.owner)

    assert exc.value.code == "not_cancellable"
    assert Booking.objects.get(pk=paid.pk).status == BookingStatus.CONFIRMED


# --- The merchant portal --------------------------------------------------------------------------------


def _portal_urls(shop: Shop) -> list[str]:
    return [
        reverse("merchant:theme-list"),
        reverse("merchant:theme-create"),
        reverse("merchant:theme-edit", args=[shop.theme.pk]),
        reverse("merchant:theme-deactivate", args=[shop.theme.pk]),
        reverse("merchant:slot-list", args=[shop.theme.pk]),
        reverse("merchant:slot-schedule", args=[shop.theme.pk]),
        reverse("merchant:slot-capacity", args=[shop.slot.pk]),
        reverse("merchant:slot-cancel", args=[shop.slot.pk]),
        reverse("merchant:slot-participants", args=[shop.slot.pk]),
    ]


def test_every_merchant_page_shows_a_suspended_merchant_the_suspended_notice(shop):
    suspend(shop, keep_bookings=False)
    client = Client()
    client.force_login(shop.merchant.owner)
    before = _state(shop)

    for url in _portal_urls(shop):
        page = client.get(url)
        assert page.status_code == 403, url
        assert "Your merchant account is suspended" in page.content.decode(), url
    for url in [
        *_portal_urls(shop),
        reverse("merchant:slot-add", args=[shop.theme.pk]),
        reverse("merchant:booking-attendance", args=[shop.attended.pk]),
    ]:
        posted = client.post(url, {"capacity": "9", "status": "attended", "title": "Renamed"})
        assert posted.status_code == 403, url
        assert "Your merchant account is suspended" in posted.content.decode(), url
    assert _state(shop) == before
    assert Slot.objects.get(pk=shop.slot.pk).status == SlotStatus.OPEN
    home = client.get(reverse("merchant:home"))
    assert home.status_code == 200
    assert "Your merchant account is suspended" in home.content.decode()
