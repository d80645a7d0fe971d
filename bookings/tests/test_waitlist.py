"""The waitlist (API.md "Waitlist", bookings.waitlist): queue order, offers from every flow that frees seats, races."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import Booking, BookingStatus, WaitlistEntry, WaitlistStatus
from bookings.selectors import seats_taken
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookings.waitlist import waitlist_join, waitlist_leave, waitlist_offer_due
from bookings.waitlist_notifications import WAITLIST_OFFER_EMAIL_KIND
from bookings.waitlist_selectors import waitlist_entries_for, waitlist_position
from bookwise.errors import DomainError
from bookwise.models import EmailLog
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import booking_cancel_and_refund, booking_reschedule, slot_cancel_and_refund
from conftest import bearer_client
from tests.concurrency import run_together


def _full_slot(*, capacity: int = 5, price: int = 2500, **theme_fields) -> tuple:
    """A slot whose seats are all taken by one confirmed booking; (slot, that booking)."""
    # Two days ahead (a new theme each time, so never an overlap): inside the theme page's first month shown.
    starts_at = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    slot = SlotFactory(capacity=capacity, theme=ThemeFactory(price=price, **theme_fields), starts_at=starts_at)
    booking = ConfirmedBookingFactory(slot=slot, party_size=capacity)
    return slot, booking


def _queue(slot, *sizes: int) -> list[WaitlistEntry]:
    return [waitlist_join(slot_id=slot.pk, customer=UserFactory(), party_size=size) for size in sizes]


def _statuses(entries: list[WaitlistEntry]) -> list[str]:
    return [WaitlistEntry.objects.get(pk=e.pk).status for e in entries]


@pytest.mark.django_db
class TestJoin:
    def test_join_a_full_slot_gives_a_waiting_entry_at_the_end_of_the_queue(self):
        slot, _ = _full_slot()
        first, second = _queue(slot, 2, 1)
        assert (first.status, second.status) == (WaitlistStatus.WAITING, WaitlistStatus.WAITING)
        assert [waitlist_position(first), waitlist_position(second)] == [1, 2]

    def test_join_refuses_a_party_that_fits_now_with_seats_available(self):
        slot = SlotFactory(capacity=5)
        ConfirmedBookingFactory(slot=slot, party_size=3)
        with pytest.raises(DomainError) as exc:
            waitlist_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)
        assert exc.value.code == "seats_available"
        # A party larger than the seats left may wait.
        assert waitlist_join(slot_id=slot.pk, customer=UserFactory(), party_size=3).status == WaitlistStatus.WAITING

    def test_join_twice_is_already_waiting(self):
        slot, _ = _full_slot()
        customer = UserFactory()
        waitlist_join(slot_id=slot.pk, customer=customer, party_size=1)
        with pytest.raises(DomainError) as exc:
            waitlist_join(slot_id=slot.pk, customer=customer, party_size=2)
        assert exc.value.code == "already_waiting"

    def test_join_by_a_customer_holding_a_booking_is_already_booked(self):
        slot, booking = _full_slot()
        with pytest.raises(DomainError) as exc:
            waitlist_join(slot_id=slot.pk, customer=booking.customer, party_size=1)
        assert exc.value.code == "already_booked"

    def test_join_refuses_party_outside_the_theme_limits_and_closed_slots(self):
        slot, _ = _full_slot(min_party=2, max_party=4)
        for size in (1, 5):
            with pytest.raises(DomainError) as exc:
                waitlist_join(slot_id=slot.pk, customer=UserFactory(), party_size=size)
            assert exc.value.code == "invalid_party_size"
        slot.status = SlotStatus.CANCELLED
        slot.save()
        with pytest.raises(DomainError) as exc:
            waitlist_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)
        assert exc.value.code == "slot_closed"

    def test_leave_keeps_an_offered_booking(self):
        slot, booking = _full_slot(capacity=2)
        (entry,) = _queue(slot, 2)
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.OFFERED
        waitlist_leave(entry_id=entry.pk, customer=entry.customer)
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.LEFT
        assert entry.booking.status == BookingStatus.PENDING_PAYMENT

    def test_leave_another_customers_entry_is_not_found(self):
        slot, _ = _full_slot()
        (entry,) = _queue(slot, 1)
        with pytest.raises(DomainError) as exc:
            waitlist_leave(entry_id=entry.pk, customer=UserFactory())
        assert exc.value.http_status == 404


@pytest.mark.django_db
class TestOffers:
    def test_a_cancel_freeing_three_seats_offers_the_two_and_the_one_while_the_four_keeps_waiting(
        self, django_capture_on_commit_callbacks, mailoutbox
    ):
        slot = SlotFactory(capacity=5)
        ConfirmedBookingFactory(slot=slot, party_size=2)
        leaving = ConfirmedBookingFactory(slot=slot, party_size=3, amount=0)
        four, two, one = _queue(slot, 4, 2, 1)

        with django_capture_on_commit_callbacks(execute=True):
            booking_cancel_and_refund(booking_id=leaving.pk, by=leaving.customer)

        assert _statuses([four, two, one]) == [WaitlistStatus.WAITING, WaitlistStatus.OFFERED, WaitlistStatus.OFFERED]
        for entry, size in ((two, 2), (one, 1)):
            entry.refresh_from_db()
            offer = entry.booking
            assert (offer.status, offer.party_size, offer.customer_id, offer.amount) == (
                BookingStatus.PENDING_PAYMENT,
                size,
                entry.customer_id,
                2500 * size,
            )
            assert offer.expires_at == entry.offered_at + timedelta(minutes=30)
        assert seats_taken(slot_id=slot.pk) == 5
        assert waitlist_position(WaitlistEntry.objects.get(pk=four.pk)) == 1
        # One "a place opened up" email to each, with a link to the offer's checkout.
        offers = [m for m in mailoutbox if m.subject.startswith("A place opened up")]
        assert sorted(m.to[0] for m in offers) == sorted([two.customer.email, one.customer.email])
        two.refresh_from_db()
        assert f"/bookings/{two.booking_id}/checkout/" in next(m for m in offers if m.to == [two.customer.email]).body
        assert EmailLog.objects.filter(kind=WAITLIST_OFFER_EMAIL_KIND).count() == 2

    def test_an_offer_paid_books_the_entry(self):
        slot, booking = _full_slot(capacity=2)
        (entry,) = _queue(slot, 2)
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
        entry.refresh_from_db()
        assert services.booking_confirm_payment(booking_id=entry.booking_id) == services.ConfirmOutcome.CONFIRMED
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.BOOKED

    def test_an_expired_offer_passes_to_the_next_entry(self, settings):
        slot, booking = _full_slot(capacity=2)
        first, second = _queue(slot, 2, 2)
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
        first.refresh_from_db()
        assert first.status == WaitlistStatus.OFFERED
        later = timezone.now() + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES + 1)

        services.bookings_expire_due(now=later)

        first.refresh_from_db()
        second.refresh_from_db()
        assert first.booking.status == BookingStatus.EXPIRED
        assert (first.status, second.status) == (WaitlistStatus.EXPIRED, WaitlistStatus.OFFERED)
        assert second.booking.expires_at == later + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES)

    def test_an_offer_cancelled_unpaid_passes_on_at_once(self):
        slot, booking = _full_slot(capacity=1)
        first, second = _queue(slot, 1, 1)
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
        first.refresh_from_db()
        booking_cancel_and_refund(booking_id=first.booking_id, by=first.customer)
        assert _statuses([first, second]) == [WaitlistStatus.EXPIRED, WaitlistStatus.OFFERED]

    def test_a_newcomer_never_jumps_the_queue_for_a_hold_that_ran_out_before_the_sweep(self):
        slot = SlotFactory(capacity=2)
        hold = BookingFactory(slot=slot, party_size=2)
        (entry,) = _queue(slot, 2)
        Booking.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

        with pytest.raises(DomainError) as exc:
            services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)

        assert exc.value.code == "slot_full"
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.OFFERED

    def test_a_join_on_a_slot_without_waitlist_costs_one_indexed_exists(self):
        slot = SlotFactory(capacity=5)
        customer = UserFactory()
        with CaptureQueriesContext(connection) as queries:
            services.booking_join(slot_id=slot.pk, customer=customer, party_size=1)
        assert sum("bookings_waitlistentry" in q["sql"] for q in queries.captured_queries) == 1

    def test_raising_the_capacity_offers_the_new_seats(self):
        slot, _ = _full_slot(capacity=3)
        (entry,) = _queue(slot, 2)
        services.slot_update_capacity(slot=slot, capacity=5)
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.OFFERED
        assert seats_taken(slot_id=slot.pk) == 5

    def test_a_reschedule_away_offers_the_seats_left_behind(self):
        theme = ThemeFactory(price=0)
        slot, other = SlotFactory(theme=theme, capacity=2), SlotFactory(theme=theme, capacity=2)
        booking = ConfirmedBookingFactory(slot=slot, party_size=2, amount=0)
        (entry,) = _queue(slot, 1)
        booking_reschedule(booking_id=booking.pk, slot_id=other.pk, by=booking.customer)
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.BOOKED  # a free theme: confirmed at once

    def test_a_free_theme_confirms_the_offer_at_once(self, django_capture_on_commit_callbacks, mailoutbox):
        slot, booking = _full_slot(capacity=2, price=0)
        (entry,) = _queue(slot, 2)
        with django_capture_on_commit_callbacks(execute=True):
            booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.BOOKED
        assert entry.booking.status == BookingStatus.CONFIRMED
        subjects = sorted(m.subject for m in mailoutbox if m.to == [entry.customer.email])
        assert any(s.startswith("You're in") for s in subjects)
        assert any(s.startswith("Booking confirmed") for s in subjects)

    def test_a_cancelled_slot_closes_its_queue(self):
        slot, booking = _full_slot(capacity=2)
        entries = _queue(slot, 1, 2)
        slot_cancel_and_refund(slot=slot, by=slot.theme.merchant.owner)
        assert _statuses(entries) == [WaitlistStatus.CLOSED, WaitlistStatus.CLOSED]
        assert not Booking.objects.filter(slot=slot, status=BookingStatus.PENDING_PAYMENT).exists()

    def test_the_sweep_offers_seats_freed_by_an_expired_hold(self):
        slot = SlotFactory(capacity=2)
        hold = BookingFactory(slot=slot, party_size=2)
        (entry,) = _queue(slot, 2)
        Booking.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert services.bookings_expire_due() == 1
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.OFFERED
        assert waitlist_offer_due() == 0  # nothing left to do: a second run changes nothing

    def test_entries_for_a_customer_carry_their_position(self):
        slot, _ = _full_slot()
        first, second = _queue(slot, 1, 1)
        assert [e.position for e in waitlist_entries_for(customer=second.customer)] == [2]


@pytest.mark.django_db(transaction=True)
class TestRaces:
    def test_concurrent_cancels_and_joins_never_offer_a_seat_twice_nor_oversell(self):
        slot = SlotFactory(capacity=6)
        leaving = [ConfirmedBookingFactory(slot=slot, party_size=2, amount=0) for _ in range(3)]
        queue = _queue(slot, 2, 2, 1, 1, 3)
        newcomers = [UserFactory() for _ in range(6)]

        calls = [lambda b=b: booking_cancel_and_refund(booking_id=b.pk, by=b.customer) for b in leaving]
        calls += [lambda c=c: services.booking_join(slot_id=slot.pk, customer=c, party_size=1) for c in newcomers]
        results = run_together(calls)

        unexpected = [r for r in results if isinstance(r, Exception) and getattr(r, "code", "") != "slot_full"]
        assert unexpected == []
        assert seats_taken(slot_id=slot.pk) <= 6
        offered = WaitlistEntry.objects.filter(slot=slot, booking__isnull=False)
        assert offered.count() == len({e.booking_id for e in offered})
        # The queue came first: 6 seats freed, the parties of 2, 2, 1, 1 got 6 of them; no newcomer got in.
        assert sorted(e.party_size for e in offered) == [1, 1, 2, 2]
        assert not Booking.objects.filter(slot=slot, customer__in=newcomers).exists()
        assert WaitlistEntry.objects.get(pk=queue[4].pk).status == WaitlistStatus.WAITING

    def test_concurrent_waitlist_joins_of_one_customer_give_one_entry(self):
        slot, _ = _full_slot()
        customer = UserFactory()
        results = run_together([lambda: waitlist_join(slot_id=slot.pk, customer=customer, party_size=1)] * 4)
        assert sum(isinstance(r, WaitlistEntry) for r in results) == 1
        assert {e.code for e in results if isinstance(e, DomainError)} == {"already_waiting"}


@pytest.mark.django_db
class TestApi:
    def test_join_list_and_leave(self):
        slot, _ = _full_slot()
        customer = UserFactory()
        client = bearer_client(customer)

        response = client.post(f"/api/v1/slots/{slot.pk}/waitlist/", {"party_size": 2}, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body == {
            "id": body["id"],
            "slot": slot.pk,
            "party_size": 2,
            "status": "waiting",
            "position": 1,
            "booking": None,
            "theme": slot.theme_id,
            "theme_title": slot.theme.title,
            "starts_at": body["starts_at"],
            "offered_at": None,
            "created_at": body["created_at"],
        }

        again = client.post(f"/api/v1/slots/{slot.pk}/waitlist/", {"party_size": 2}, format="json")
        assert (again.status_code, again.json()["code"]) == (409, "already_waiting")

        listed = client.get("/api/v1/waitlist/").json()
        assert [e["id"] for e in listed["results"]] == [body["id"]]
        assert {"next", "previous", "results"} <= set(listed)

        assert bearer_client(UserFactory()).delete(f"/api/v1/waitlist/{body['id']}/").status_code == 404
        assert client.delete(f"/api/v1/waitlist/{body['id']}/").status_code == 204
        assert WaitlistEntry.objects.get(pk=body["id"]).status == WaitlistStatus.LEFT

    def test_join_with_seats_free_is_409_seats_available_and_bad_party_is_400(self):
        slot = SlotFactory(capacity=5)
        client = bearer_client(UserFactory())
        response = client.post(f"/api/v1/slots/{slot.pk}/waitlist/", {"party_size": 2}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "seats_available")
        assert client.post(f"/api/v1/slots/{slot.pk}/waitlist/", {"party_size": 0}, format="json").status_code == 400
        assert client.post(f"/api/v1/slots/{slot.pk}/waitlist/", {}, format="json").status_code == 400


@pytest.mark.django_db
class TestPages:
    def test_the_theme_page_offers_the_waitlist_on_a_full_time_and_joining_lists_it_on_my_bookings(self, client):
        slot, _ = _full_slot()
        customer = UserFactory()
        client.force_login(customer)

        page = client.get(f"/themes/{slot.theme_id}/").content.decode()
        assert f'id="waitlist-slot-{slot.pk}"' in page
        assert "Join the waitlist" in page

        response = client.post(f"/themes/{slot.theme_id}/waitlist/", {"slot": slot.pk, "party_size": 2}, follow=True)
        entry = WaitlistEntry.objects.get(customer=customer)
        body = response.content.decode()
        assert "You are on the waitlist" in body
        assert f'id="waitlist-entry-{entry.pk}"' in body
        assert "#1 in line" in body

        assert "You are on its waitlist" in client.get(f"/themes/{slot.theme_id}/").content.decode()

        client.post(f"/waitlist/{entry.pk}/leave/")
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.LEFT

    def test_joining_with_seats_free_says_so_in_words(self, client):
        slot = SlotFactory(capacity=5)
        client.force_login(UserFactory())
        response = client.post(f"/themes/{slot.theme_id}/waitlist/", {"slot": slot.pk, "party_size": 2}, follow=True)
        assert "seats are free: book it" in response.content.decode()
        assert not WaitlistEntry.objects.exists()

    def test_the_join_form_shares_the_join_throttle(self, client, settings):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "join": "1/minute"},
        }
        slots = [_full_slot()[0] for _ in range(2)]
        client.force_login(UserFactory())
        client.post(f"/themes/{slots[0].theme_id}/waitlist/", {"slot": slots[0].pk, "party_size": 1})
        response = client.post(
            f"/themes/{slots[1].theme_id}/waitlist/", {"slot": slots[1].pk, "party_size": 1}, follow=True
        )
        assert "Too many booking attempts in a short time" in response.content.decode()
        assert WaitlistEntry.objects.count() == 1

    def test_leaving_someone_elses_entry_is_404(self, client):
        slot, _ = _full_slot()
        (entry,) = _queue(slot, 1)
        client.force_login(UserFactory())
        assert client.post(f"/waitlist/{entry.pk}/leave/").status_code == 404

    def test_the_merchant_sees_the_waitlist_on_the_participants_page(self, client):
        slot, _ = _full_slot()
        first, second = _queue(slot, 3, 1)
        client.force_login(slot.theme.merchant.owner)
        page = client.get(f"/merchant/slots/{slot.pk}/participants/").content.decode()
        assert f'id="waitlist-entry-{first.pk}"' in page
        assert second.customer.email in page

    def test_the_admin_lists_entries_and_shows_them_on_the_slot(self, admin_client):
        slot, _ = _full_slot()
        (entry,) = _queue(slot, 2)
        assert admin_client.get("/admin/bookings/waitlistentry/").status_code == 200
        assert admin_client.get(f"/admin/bookings/waitlistentry/?q=slot:{slot.pk}").status_code == 200
        assert admin_client.get(f"/admin/bookings/waitlistentry/{entry.pk}/change/").status_code == 200
        page = admin_client.get(f"/admin/catalog/slot/{slot.pk}/change/").content.decode()
        assert "Waitlist (offered in this order" in page


@pytest.mark.django_db
def test_seed_demo_has_a_full_slot_with_two_waiting_and_a_cancel_offers_the_demo_customer_a_place():
    from django.core.management import call_command

    from portal.demo import CUSTOMER_EMAIL

    call_command("seed_demo", "--not-production")
    waiting = list(WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING).select_related("slot", "customer"))
    assert len(waiting) == 2
    slot = waiting[0].slot
    assert seats_taken(slot_id=slot.pk) == slot.capacity
    sofia = Booking.objects.get(slot=slot, customer__email="sofia.guest@bookwise.local")
    booking_cancel_and_refund(booking_id=sofia.pk, by=sofia.customer)
    offered = WaitlistEntry.objects.get(status=WaitlistStatus.OFFERED)
    assert offered.customer.email == CUSTOMER_EMAIL
