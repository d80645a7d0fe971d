"""Private themes: the first seat-holding booking takes the whole slot (API.md "Theme and slot fields")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.catalog_selectors import seats_left_of
from bookings.models import Booking, BookingStatus
from bookings.selectors import seats_taken
from bookings.tests.factories import BookingFactory
from bookwise.errors import DomainError
from catalog.models import BookingMode
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client
from tests.concurrency import run_together


def _private_slot(**theme_fields):
    theme = ThemeFactory(
        booking_mode=BookingMode.PRIVATE, private_price=12000, min_party=2, max_party=6, **theme_fields
    )
    return SlotFactory(theme=theme, capacity=6)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_joins_on_a_private_slot_give_exactly_one_booking():
    slot = _private_slot()
    clients = [bearer_client(UserFactory()) for _ in range(50)]
    url = f"/api/v1/slots/{slot.pk}/join/"

    responses = run_together([lambda c=c: c.post(url, {"party_size": 2}, format="json") for c in clients])

    codes = [r.status_code for r in responses]
    assert codes.count(201) == 1
    assert codes.count(409) == 49
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"slot_full"}
    booking = Booking.objects.get(slot=slot)
    assert (booking.party_size, booking.amount) == (2, 12000)
    assert seats_taken(slot_id=slot.pk) == 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_service_joins_of_different_sizes_on_a_private_slot_have_one_winner():
    slot = _private_slot()
    customers = [UserFactory() for _ in range(8)]

    results = run_together(
        [
            lambda c=c, n=n: services.booking_join(slot_id=slot.pk, customer=c, party_size=2 + n % 5)
            for n, c in enumerate(customers)
        ]
    )

    assert sum(isinstance(r, Booking) for r in results) == 1
    assert {r.code for r in results if isinstance(r, DomainError)} == {"slot_full"}


@pytest.mark.django_db
def test_a_second_group_is_refused_even_with_seats_to_spare():
    slot = _private_slot()
    services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    with pytest.raises(DomainError) as exc:
        services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    assert exc.value.code == "slot_full"
    assert Booking.objects.filter(slot=slot).count() == 1


@pytest.mark.django_db
def test_a_booked_private_slot_shows_no_seats_left_in_the_api_and_catalog():
    slot = _private_slot()
    BookingFactory(slot=slot, party_size=2)
    client = bearer_client(UserFactory())

    assert seats_left_of(slot=slot) == 0
    assert client.get(f"/api/v1/slots/{slot.pk}/").json()["seats_left"] == 0
    listed = client.get(f"/api/v1/themes/{slot.theme_id}/slots/").json()["results"]
    assert [row["seats_left"] for row in listed] == [0]
    window = {
        "available_from": (timezone.now()).isoformat(),
        "available_to": (timezone.now() + timedelta(days=30)).isoformat(),
    }
    assert slot.theme_id not in [row["id"] for row in client.get("/api/v1/themes/", window).json()["results"]]


@pytest.mark.django_db
def test_a_private_slot_frees_up_when_its_hold_runs_out():
    slot = _private_slot()
    BookingFactory(slot=slot, party_size=2, expires_at=timezone.now() - timedelta(seconds=1))

    assert seats_left_of(slot=slot) == 6
    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=3)

    assert (booking.status, booking.amount) == (BookingStatus.PENDING_PAYMENT, 12000)


@pytest.mark.django_db
def test_a_private_slot_with_a_peak_price_charges_it_flat_for_tiered_families():
    tiers = [{"code": "adult", "label": "Adult", "price": 3000}, {"code": "child", "label": "Child", "price": 1500}]
    slot = _private_slot(price_tiers=tiers)
    slot.price = 15000  # the peak flat price for the whole slot
    slot.save(update_fields=["price"])
    tickets = [{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}]

    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), tickets=tickets)

    assert (booking.amount, booking.party_size, booking.tickets) == (15000, 3, tickets)


@pytest.mark.django_db
def test_a_private_party_below_the_minimum_is_400():
    slot = _private_slot()

    response = bearer_client(UserFactory()).post(f"/api/v1/slots/{slot.pk}/join/", {"party_size": 1}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_party_size"


@pytest.mark.django_db
def test_a_late_payment_for_a_private_slot_taken_meanwhile_must_be_refunded():
    slot = _private_slot()
    late = BookingFactory(slot=slot, party_size=2, expires_at=timezone.now() - timedelta(seconds=1))
    services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    assert services.booking_confirm_payment(booking_id=late.pk) == services.ConfirmOutcome.MUST_REFUND


@pytest.mark.django_db
def test_shared_slots_still_count_seats_per_person():
    slot = SlotFactory(capacity=5)
    BookingFactory(slot=slot, party_size=2)

    assert seats_taken(slot_id=slot.pk) == 2
    assert seats_left_of(slot=slot) == 3
