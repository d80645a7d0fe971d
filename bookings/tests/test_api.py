from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

BOOKING_FIELDS = {"id", "slot", "theme", "party_size", "status", "amount", "currency", "expires_at", "created_at"}


def join_url(slot):
    return f"/api/v1/slots/{slot.pk}/join/"


def test_join_returns_booking_with_contract_fields(customer_client):
    slot = SlotFactory(capacity=5, theme__price=2000)
    response = customer_client.post(join_url(slot), {"party_size": 2}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body.keys() >= BOOKING_FIELDS
    assert body["status"] == "pending_payment"
    assert body["amount"] == 4000
    assert body["theme"] == slot.theme_id
    assert body["expires_at"].endswith(("Z", "+00:00"))


def test_join_defaults_to_party_of_one_and_ignores_read_only_fields(customer_client):
    slot = SlotFactory(theme__price=1000)
    response = customer_client.post(
        join_url(slot), {"status": "confirmed", "amount": 0, "customer": 999}, format="json"
    )
    assert response.status_code == 201
    booking = Booking.objects.get()
    assert (booking.party_size, booking.status, booking.amount) == (1, "pending_payment", 1000)


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"party_size": 0}, "party_size"), ({"party_size": "two"}, "party_size"), ({"party_size": 10**20}, "party_size")],
)
def test_join_bad_party_size_is_400(customer_client, payload, field):
    slot = SlotFactory()
    response = customer_client.post(join_url(slot), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Booking.objects.exists()


def test_join_party_outside_theme_range_is_400(customer_client):
    slot = SlotFactory(theme__min_party=2, theme__max_party=4)
    response = customer_client.post(join_url(slot), {"party_size": 5}, format="json")
    assert response.status_code == 400
    assert "party_size" in response.json()


def test_join_error_codes(customer_client, customer):
    slot = SlotFactory(capacity=2)
    assert customer_client.post(join_url(slot), {"party_size": 1}, format="json").status_code == 201
    again = customer_client.post(join_url(slot), {"party_size": 1}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_booked")
    full = bearer_client(UserFactory()).post(join_url(slot), {"party_size": 2}, format="json")
    assert (full.status_code, full.json()["code"]) == (409, "slot_full")
    slot.status = "cancelled"
    slot.save()
    closed = bearer_client(UserFactory()).post(join_url(slot), {}, format="json")
    assert (closed.status_code, closed.json()["code"]) == (409, "slot_closed")


def test_join_needs_authentication_and_existing_slot(api_client, customer_client):
    slot = SlotFactory()
    assert api_client.post(join_url(slot), {}, format="json").status_code == 401
    assert customer_client.post("/api/v1/slots/999999/join/", {}, format="json").status_code == 404


def test_join_malformed_json_is_400(customer_client):
    slot = SlotFactory()
    response = customer_client.post(join_url(slot), data="{bad", content_type="application/json")
    assert response.status_code == 400


def test_my_bookings_lists_only_mine_newest_first_without_count(customer, customer_client):
    mine = [BookingFactory(customer=customer) for _ in range(3)]
    BookingFactory()
    response = customer_client.get("/api/v1/bookings/")
    assert response.status_code == 200
    body = response.json()
    assert "count" not in body
    assert [b["id"] for b in body["results"]] == [b.pk for b in reversed(mine)]


def test_my_bookings_paginates_with_cursor(customer, customer_client):
    for _ in range(5):
        BookingFactory(customer=customer)
    first = customer_client.get("/api/v1/bookings/?page_size=2").json()
    assert len(first["results"]) == 2
    second = customer_client.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert not {b["id"] for b in first["results"]} & {b["id"] for b in second["results"]}


def test_my_bookings_query_count_does_not_grow_with_page_size(customer, customer_client):
    for _ in range(30):
        BookingFactory(customer=customer)
    customer_client.get("/api/v1/bookings/?page_size=1")  # the same state for both: any per-token user cache warm
    counts = []
    for size in (3, 30):
        with CaptureQueriesContext(connection) as ctx:
            assert customer_client.get(f"/api/v1/bookings/?page_size={size}").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1] <= 2  # at most the token's user, then one page (bookings/api_rows.py)


def test_page_size_is_capped_at_100(customer, customer_client):
    Booking.objects.bulk_create(
        [
            Booking(
                slot=SlotFactory(),
                customer=customer,
                party_size=1,
                amount=0,
                currency="usd",
                status="cancelled",
            )
            for _ in range(101)
        ]
    )
    assert len(customer_client.get("/api/v1/bookings/?page_size=500").json()["results"]) == 100


def test_other_customers_booking_is_404(customer_client):
    other = BookingFactory()
    assert customer_client.get(f"/api/v1/bookings/{other.pk}/").status_code == 404
    assert customer_client.post(f"/api/v1/bookings/{other.pk}/cancel/").status_code == 404
    other.refresh_from_db()
    assert other.status == BookingStatus.PENDING_PAYMENT


def test_slot_merchant_and_admin_see_the_booking(admin_client_api):
    booking = BookingFactory()
    owner_client = bearer_client(booking.slot.theme.merchant.owner)
    assert owner_client.get(f"/api/v1/bookings/{booking.pk}/").status_code == 200
    assert admin_client_api.get(f"/api/v1/bookings/{booking.pk}/").status_code == 200
    assert bearer_client(MerchantFactory().owner).get(f"/api/v1/bookings/{booking.pk}/").status_code == 404


def test_cancel_via_api_frees_seats(customer, customer_client):
    slot = SlotFactory(capacity=2)
    booking = BookingFactory(slot=slot, customer=customer, party_size=2)
    response = customer_client.post(f"/api/v1/bookings/{booking.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    seats = bearer_client(UserFactory()).get(f"/api/v1/slots/{slot.pk}/").json()["seats_left"]
    assert seats == 2
    again = customer_client.post(f"/api/v1/bookings/{booking.pk}/cancel/")
    assert (again.status_code, again.json()["code"]) == (409, "not_cancellable")


def test_participants_for_owner_and_admin_only(admin_client_api, customer_client):
    slot = SlotFactory(capacity=10)
    confirmed = ConfirmedBookingFactory(slot=slot, party_size=3)
    BookingFactory(slot=slot, status="cancelled", expires_at=None)
    BookingFactory(slot=slot, expires_at=timezone.now() - timedelta(minutes=1))  # expired hold
    url = f"/api/v1/slots/{slot.pk}/participants/"
    response = bearer_client(slot.theme.merchant.owner).get(url)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows == [
        {
            "booking": confirmed.pk,
            "customer": {
                "id": confirmed.customer.pk,
                "full_name": confirmed.customer.full_name,
                "email": confirmed.customer.email,
            },
            "party_size": 3,
            "status": "confirmed",
            "created_at": rows[0]["created_at"],
        }
    ]
    assert admin_client_api.get(url).status_code == 200
    assert customer_client.get(url).status_code == 403
    assert bearer_client(MerchantFactory().owner).get(url).status_code == 403


def test_attendance_flow_via_api():
    booking = ConfirmedBookingFactory(slot__starts_at=timezone.now() + timedelta(days=1))
    owner_client = bearer_client(booking.slot.theme.merchant.owner)
    early = owner_client.post("/api/v1/attendance/", {"booking": booking.pk, "status": "attended"}, format="json")
    assert (early.status_code, early.json()["code"]) == (409, "slot_not_started")

    started = ConfirmedBookingFactory(slot__starts_at=timezone.now() - timedelta(minutes=10))
    owner_client = bearer_client(started.slot.theme.merchant.owner)
    ok = owner_client.post("/api/v1/attendance/", {"booking": started.pk, "status": "attended"}, format="json")
    assert (ok.status_code, ok.json()["status"]) == (200, "attended")
    changed = owner_client.post("/api/v1/attendance/", {"booking": started.pk, "status": "no_show"}, format="json")
    assert changed.json()["status"] == "no_show"

    pending = BookingFactory(slot=started.slot)
    refused = owner_client.post("/api/v1/attendance/", {"booking": pending.pk, "status": "attended"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "not_confirmed")


def test_attendance_by_other_merchant_is_404_and_bad_status_400():
    booking = ConfirmedBookingFactory(slot__starts_at=timezone.now() - timedelta(minutes=10))
    other = bearer_client(MerchantFactory().owner)
    assert (
        other.post("/api/v1/attendance/", {"booking": booking.pk, "status": "attended"}, format="json").status_code
        == 404
    )
    owner = bearer_client(booking.slot.theme.merchant.owner)
    bad = owner.post("/api/v1/attendance/", {"booking": booking.pk, "status": "confirmed"}, format="json")
    assert bad.status_code == 400
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
