"""Mass assignment: read-only fields sent by a client change nothing (API.md, last paragraph).

Every write endpoint gets a valid body plus hostile values for the fields a client
must never set (`status`, `amount`, `merchant`, `customer`, `role`, `seats_left`,
`rating_avg`, `review_count`, `id`, `owner`, `author`, `is_staff`, `is_superuser`,
`created_at`, ...). The request must still succeed (the fields are ignored), and
the stored row must show the server's values, not the client's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import Booking, BookingStatus
from catalog.models import Slot, SlotStatus, Theme
from merchants.models import Merchant, MerchantStatus
from payments.models import Payment
from reviews.models import Review
from tests.api.world import PASSWORD, World, build_world, unreachable_url

pytestmark = pytest.mark.django_db

HOSTILE_ID = 987_654_321
HOSTILE_CREATED = "2001-01-01T00:00:00Z"


@pytest.fixture
def world(settings) -> World:
    settings.STRIPE_API_HOST = unreachable_url()
    return build_world()


def hostile(w: World, **overrides) -> dict:
    """Every read-only field with a value an attacker would like stored."""
    return {
        "id": HOSTILE_ID,
        "status": "approved",
        "amount": 1,
        "merchant": w.other_merchant_profile.pk,
        "customer": w.other_customer.pk,
        "role": Role.ADMIN,
        "seats_left": 9999,
        "rating_avg": 5,
        "review_count": 999,
        "owner": w.other_customer.pk,
        "author": w.other_customer.pk,
        "is_staff": True,
        "is_superuser": True,
        "created_at": HOSTILE_CREATED,
        "updated_at": HOSTILE_CREATED,
        **overrides,
    }


def _assert_not_hostile_row(obj) -> None:
    assert obj.pk != HOSTILE_ID
    assert obj.created_at > datetime(2020, 1, 1, tzinfo=UTC)


def test_register_ignores_role_and_staff_flags(world: World):
    response = world.client("anonymous").post(
        "/api/v1/auth/register/",
        hostile(world, email="sneaky@example.com", password=PASSWORD, full_name="Sneaky"),
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["role"] == Role.CUSTOMER
    user = User.objects.get(email="sneaky@example.com")
    assert (user.role, user.is_staff, user.is_superuser) == (Role.CUSTOMER, False, False)
    assert user.pk != HOSTILE_ID
    assert user.date_joined > datetime(2020, 1, 1, tzinfo=UTC)


def test_users_me_patch_changes_only_full_name(world: World):
    customer = world.customer
    email = customer.email

    response = world.client("customer").patch(
        "/api/v1/users/me/", hostile(world, full_name="New Name", email="taken-over@example.com"), format="json"
    )

    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.full_name == "New Name"
    assert (customer.email, customer.role, customer.is_staff, customer.is_superuser) == (
        email,
        Role.CUSTOMER,
        False,
        False,
    )
    assert response.json()["role"] == Role.CUSTOMER


def test_merchant_apply_is_pending_and_owned_by_the_caller(world: World):
    response = world.client("other_customer").post(
        "/api/v1/merchants/",
        hostile(world, name="Riddles", city="Porto", timezone="Europe/Lisbon", approved_at=HOSTILE_CREATED),
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == MerchantStatus.PENDING
    merchant = Merchant.objects.get(pk=response.json()["id"])
    assert merchant.owner == world.other_customer
    assert (merchant.status, merchant.approved_at) == (MerchantStatus.PENDING, None)
    _assert_not_hostile_row(merchant)
    world.other_customer.refresh_from_db()
    assert world.other_customer.role == Role.CUSTOMER


def test_theme_create_belongs_to_the_callers_merchant_with_no_ratings(world: World):
    body = hostile(
        world,
        title="Vault",
        duration_minutes=60,
        price=3000,
        currency="eur",
        min_party=1,
        max_party=4,
        rating_avg=4.9,
        review_count=500,
    )

    response = world.client("owner").post("/api/v1/themes/", body, format="json")

    assert response.status_code == 201, response.content
    theme = Theme.objects.get(pk=response.json()["id"])
    assert theme.merchant == world.merchant
    assert (theme.rating_avg, theme.review_count) == (0, 0)
    _assert_not_hostile_row(theme)


def test_theme_patch_keeps_merchant_and_ratings(world: World):
    theme = world.theme
    before = (theme.merchant_id, theme.rating_avg, theme.review_count, theme.pk)

    response = world.client("owner").patch(
        f"/api/v1/themes/{theme.pk}/", hostile(world, title="Renamed", rating_avg=1, review_count=77), format="json"
    )

    assert response.status_code == 200, response.content
    theme.refresh_from_db()
    assert theme.title == "Renamed"
    assert (theme.merchant_id, theme.rating_avg, theme.review_count, theme.pk) == before


def test_slot_create_is_open_on_the_path_theme_with_all_seats(world: World):
    starts_at = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    body = hostile(world, starts_at=starts_at.isoformat(), capacity=6, status="cancelled", seats_left=0)
    body["theme"] = world.other_theme.pk

    response = world.client("owner").post(f"/api/v1/themes/{world.theme.pk}/slots/", body, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["seats_left"]) == (SlotStatus.OPEN, 6)
    slot = Slot.objects.get(pk=response.json()["id"])
    assert (slot.theme, slot.status, slot.capacity) == (world.theme, SlotStatus.OPEN, 6)
    _assert_not_hostile_row(slot)


def test_slot_bulk_creates_open_slots_of_the_path_theme(world: World):
    start = timezone.localdate() + timedelta(days=60)
    body = hostile(
        world,
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=6)).isoformat(),
        weekdays=[0, 1, 2, 3, 4, 5, 6],
        times=["10:00"],
        capacity=3,
        status="cancelled",
        seats_left=0,
        theme=world.other_theme.pk,
    )

    existing = set(Slot.objects.values_list("pk", flat=True))

    response = world.client("owner").post(f"/api/v1/themes/{world.theme.pk}/slots/bulk/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json() == {"created": 7, "skipped": 0}
    created = Slot.objects.exclude(pk__in=existing)
    assert created.count() == 7
    assert set(created.values_list("theme_id", "status", "capacity")) == {(world.theme.pk, SlotStatus.OPEN, 3)}


def test_slot_patch_changes_only_capacity(world: World):
    slot = world.slot
    before = (slot.theme_id, slot.status, slot.starts_at, slot.ends_at)
    body = hostile(
        world,
        capacity=9,
        status="cancelled",
        seats_left=0,
        theme=world.other_theme.pk,
        starts_at=(timezone.now() + timedelta(days=90)).isoformat(),
    )

    response = world.client("owner").patch(f"/api/v1/slots/{slot.pk}/", body, format="json")

    assert response.status_code == 200, response.content
    slot.refresh_from_db()
    assert slot.capacity == 9
    assert (slot.theme_id, slot.status, slot.starts_at, slot.ends_at) == before
    assert response.json()["seats_left"] == 9 - world.booking.party_size


def test_join_computes_status_and_amount_and_books_for_the_caller(world: World):
    body = hostile(
        world,
        party_size=2,
        status=BookingStatus.CONFIRMED,
        amount=1,
        currency="jpy",
        slot=world.slot.pk,
        expires_at=None,
        confirmed_at=HOSTILE_CREATED,
    )

    response = world.client("other_customer").post(f"/api/v1/slots/{world.join_slot.pk}/join/", body, format="json")

    assert response.status_code == 201, response.content
    booking = Booking.objects.get(pk=response.json()["id"])
    theme = world.theme
    assert (booking.customer, booking.slot, booking.status) == (
        world.other_customer,
        world.join_slot,
        BookingStatus.PENDING_PAYMENT,
    )
    assert (booking.amount, booking.currency) == (theme.price * 2, theme.currency)
    assert booking.expires_at is not None
    assert booking.confirmed_at is None
    _assert_not_hostile_row(booking)


def test_booking_cancel_body_cannot_pick_the_status(world: World):
    booking = world.booking
    body = hostile(world, status=BookingStatus.CONFIRMED, amount=0)

    response = world.client("customer").post(f"/api/v1/bookings/{booking.pk}/cancel/", body, format="json")

    assert response.status_code == 200, response.content
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.amount == world.theme.price * booking.party_size


def test_attendance_changes_only_the_status(world: World):
    booking = world.attendance_booking
    before = (booking.amount, booking.customer_id, booking.party_size, booking.slot_id)
    body = hostile(world, booking=booking.pk, status=BookingStatus.ATTENDED, party_size=6, slot=world.slot.pk)

    response = world.client("owner").post("/api/v1/attendance/", body, format="json")

    assert response.status_code == 200, response.content
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ATTENDED
    assert (booking.amount, booking.customer_id, booking.party_size, booking.slot_id) == before


def test_review_create_is_written_by_the_caller(world: World):
    body = hostile(world, theme=world.theme.pk, rating=4, comment="Good", is_hidden=True)

    response = world.client("customer").post("/api/v1/reviews/", body, format="json")

    assert response.status_code == 201, response.content
    review = Review.objects.get(pk=response.json()["id"])
    assert (review.author, review.theme, review.rating, review.is_hidden) == (world.customer, world.theme, 4, False)
    _assert_not_hostile_row(review)
    world.theme.refresh_from_db()
    assert (world.theme.rating_avg, world.theme.review_count) == (Decimal("4.00"), 1)


def test_review_patch_keeps_author_and_theme(world: World):
    review = world.review
    body = hostile(world, rating=1, comment="Changed my mind", theme=world.theme.pk, is_hidden=True)

    response = world.client("customer").patch(f"/api/v1/reviews/{review.pk}/", body, format="json")

    assert response.status_code == 200, response.content
    review.refresh_from_db()
    assert (review.author, review.theme, review.rating, review.is_hidden) == (
        world.customer,
        world.reviewed_theme,
        1,
        False,
    )


def test_payment_amount_comes_from_the_booking(world: World):
    """Stripe is unreachable here (503), but the payment row is written first: with the booking's amount."""
    booking = world.booking
    body = hostile(world, booking=booking.pk, amount=1, currency="jpy", status="succeeded")

    response = world.client("customer").post("/api/v1/payments/create/", body, format="json")

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "payment_provider_unavailable"
    payment = Payment.objects.get(booking=booking)
    assert (payment.amount, payment.currency) == (booking.amount, booking.currency)
    assert payment.status != "succeeded"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING_PAYMENT


def test_merchant_me_patch_ignores_the_platform_fee(world: World):
    """The fee is the admins' (PATCH /merchants/{id}/ answers the owner 403): sent to /me/, it is ignored."""
    merchant = world.merchant

    response = world.client("owner").patch(
        "/api/v1/merchants/me/", hostile(world, fee_bps=0, description="Updated"), format="json"
    )

    assert response.status_code == 200, response.content
    merchant.refresh_from_db()
    assert (merchant.fee_bps, merchant.description, merchant.status) == (None, "Updated", MerchantStatus.APPROVED)
    assert (
        world.client("owner").patch(f"/api/v1/merchants/{merchant.pk}/", {"fee_bps": 0}, format="json").status_code
        == 403
    )


def test_admin_merchant_patch_changes_only_the_fee(world: World):
    merchant = world.pending_merchant
    before = (merchant.name, merchant.status, merchant.owner_id, merchant.pk)

    response = world.client("admin").patch(
        f"/api/v1/merchants/{merchant.pk}/", hostile(world, fee_bps=250, name="Renamed"), format="json"
    )

    assert response.status_code == 200, response.content
    merchant.refresh_from_db()
    assert merchant.fee_bps == 250
    assert (merchant.name, merchant.status, merchant.owner_id, merchant.pk) == before
