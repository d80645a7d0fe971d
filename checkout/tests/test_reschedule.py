"""Reschedule (API.md "Reschedule"): checkout.services.booking_reschedule and its booking half.

Moves keep the booking (id, status, payment), lock both slots in pk order and
then the booking, refund a cheaper difference under its own key and refuse a
dearer one. Races run with real threads (tests/concurrency.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import notifications
from bookings.merchant_notifications import send_booking_rescheduled_email
from bookings.models import Booking, BookingStatus, BookingStatusChange
from bookings.selectors import seats_taken
from bookings.services import booking_join
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookings.tests.ics_check import check_calendar
from bookwise.errors import DomainError
from bookwise.models import OutboxMessage
from catalog.models import BookingMode, SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout import services
from conftest import bearer_client
from merchants.models import BookingEmails
from payments.models import LedgerEntry, LedgerKind, PaymentStatus, Refund
from payments.tests.factories import PaymentFactory
from tests.concurrency import run_together


def paid_booking(slot, **kwargs) -> Booking:
    booking = ConfirmedBookingFactory(slot=slot, **kwargs)
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
    return booking


def queued() -> list[str]:
    return sorted(m.task_name for m in OutboxMessage.objects.all())


def refused(code: str, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        services.booking_reschedule(**kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


@pytest.mark.django_db
class TestMoves:
    def test_same_price_moves_the_same_booking_and_keeps_its_status_and_payment(self):
        theme = ThemeFactory()
        old, new = SlotFactory(theme=theme), SlotFactory(theme=theme)
        booking = paid_booking(old)
        OutboxMessage.objects.all().delete()

        result = services.booking_reschedule(booking_id=booking.pk, slot_id=new.pk, by=booking.customer)

        booking.refresh_from_db()
        assert (result.booking.pk, result.from_slot_id, result.refund_amount) == (booking.pk, old.pk, 0)
        assert (booking.slot_id, booking.status, booking.amount, booking.ics_sequence) == (
            new.pk,
            BookingStatus.CONFIRMED,
            2500,
            1,
        )
        assert booking.refunded_amount == 0
        assert not Refund.objects.exists()
        change = BookingStatusChange.objects.filter(booking=booking).last()
        assert (change.from_status, change.to_status, change.changed_by) == (
            BookingStatus.CONFIRMED,
            BookingStatus.CONFIRMED,
            booking.customer,
        )
        assert change.reason == f"rescheduled from slot {old.pk} to slot {new.pk}"
        assert queued() == ["bookings.tasks.send_booking_confirmed", "bookings.tasks.send_merchant_reschedule_notice"]
        assert (seats_taken(slot_id=old.pk), seats_taken(slot_id=new.pk)) == (0, 1)

    def test_a_cheaper_time_refunds_the_difference_under_its_own_key_with_its_ledger_entries(self):
        theme = ThemeFactory(price=2500)
        old, cheap = SlotFactory(theme=theme), SlotFactory(theme=theme, price=2000)
        booking = paid_booking(old, party_size=2, amount=5000)

        result = services.booking_reschedule(booking_id=booking.pk, slot_id=cheap.pk, by=booking.customer)

        booking.refresh_from_db()
        refund = Refund.objects.get()
        assert result.refund_amount == 1000
        assert (refund.amount, refund.idempotency_key, refund.reason) == (
            1000,
            f"booking-{booking.pk}-reschedule-1",
            "reschedule_difference",
        )
        assert (booking.amount, booking.refunded_amount, booking.ics_sequence) == (4000, 1000, 1)
        assert booking.payment.status == PaymentStatus.SUCCEEDED  # the rest is still paid
        entries = {e.key: (e.kind, e.amount) for e in LedgerEntry.objects.filter(booking=booking)}
        assert entries[f"refund:{refund.pk}"] == (LedgerKind.REFUND, -1000)
        assert entries[f"fee-back:{refund.pk}"] == (LedgerKind.FEE, 100)  # the 10 % fee's share of the 1000
        assert "payments.tasks.process_refund" in queued()

    def test_a_dearer_time_is_refused_with_price_differs_and_changes_nothing(self):
        theme = ThemeFactory(price=2500)
        old, peak = SlotFactory(theme=theme), SlotFactory(theme=theme, price=3500)
        booking = paid_booking(old)

        error = refused("price_differs", booking_id=booking.pk, slot_id=peak.pk, by=booking.customer)

        assert "costs more" in str(error)
        booking.refresh_from_db()
        assert (booking.slot_id, booking.ics_sequence, booking.amount) == (old.pk, 0, 2500)
        assert not Refund.objects.exists()

    def test_another_themes_slot_is_refused(self):
        booking = paid_booking(SlotFactory())
        refused("not_reschedulable", booking_id=booking.pk, slot_id=SlotFactory().pk, by=booking.customer)

    def test_a_started_or_cancelled_slot_is_closed(self):
        theme = ThemeFactory()
        booking = paid_booking(SlotFactory(theme=theme))
        start = timezone.now() - timedelta(minutes=5)
        started = SlotFactory(theme=theme, starts_at=start, ends_at=start + timedelta(hours=1))
        cancelled = SlotFactory(theme=theme, status=SlotStatus.CANCELLED)

        refused("slot_closed", booking_id=booking.pk, slot_id=started.pk, by=booking.customer)
        refused("slot_closed", booking_id=booking.pk, slot_id=cancelled.pk, by=booking.customer)

    def test_a_slot_without_seats_for_the_party_is_full(self):
        theme = ThemeFactory()
        booking = paid_booking(SlotFactory(theme=theme), party_size=2, amount=5000)
        nearly_full = SlotFactory(theme=theme, capacity=3)
        ConfirmedBookingFactory(slot=nearly_full, party_size=2)

        refused("slot_full", booking_id=booking.pk, slot_id=nearly_full.pk, by=booking.customer)

    def test_a_private_time_must_be_empty(self):
        theme = ThemeFactory(booking_mode=BookingMode.PRIVATE)
        booking = paid_booking(SlotFactory(theme=theme, capacity=6))
        taken = SlotFactory(theme=theme, capacity=6)
        ConfirmedBookingFactory(slot=taken, party_size=1)

        refused("slot_full", booking_id=booking.pk, slot_id=taken.pk, by=booking.customer)
        empty = SlotFactory(theme=theme, capacity=6)
        assert services.booking_reschedule(booking_id=booking.pk, slot_id=empty.pk, by=booking.customer).moved

    def test_a_tiered_booking_keeps_its_tickets_and_is_priced_by_them(self):
        tiers = [{"code": "adult", "label": "Adult", "price": 3000}, {"code": "child", "label": "Child", "price": 1000}]
        theme = ThemeFactory(price=3000, price_tiers=tiers)
        tickets = [{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}]
        booking = paid_booking(SlotFactory(theme=theme), party_size=3, amount=7000, tickets=tickets)
        peak = SlotFactory(theme=theme, price=9999)  # peak prices do not apply to tiers (bookings.pricing)

        result = services.booking_reschedule(booking_id=booking.pk, slot_id=peak.pk, by=booking.customer)

        booking.refresh_from_db()
        assert (result.refund_amount, booking.amount, booking.tickets, booking.party_size) == (0, 7000, tickets, 3)

    def test_inside_the_no_refund_window_the_booking_cannot_move(self):
        theme = ThemeFactory(cancellation_cutoff_hours=24)
        start = timezone.now() + timedelta(hours=10)
        booking = paid_booking(SlotFactory(theme=theme, starts_at=start, ends_at=start + timedelta(hours=1)))

        refused("not_reschedulable", booking_id=booking.pk, slot_id=SlotFactory(theme=theme).pk, by=booking.customer)

    def test_only_its_customer_may_move_it(self):
        theme = ThemeFactory()
        booking = paid_booking(SlotFactory(theme=theme))
        new = SlotFactory(theme=theme)

        refused("not_found", booking_id=booking.pk, slot_id=new.pk, by=UserFactory())
        refused("not_found", booking_id=booking.pk, slot_id=new.pk, by=theme.merchant.owner)

    def test_a_cancelled_booking_cannot_move(self):
        theme = ThemeFactory()
        booking = ConfirmedBookingFactory(slot=SlotFactory(theme=theme), status=BookingStatus.CANCELLED)
        refused("not_reschedulable", booking_id=booking.pk, slot_id=SlotFactory(theme=theme).pk, by=booking.customer)

    def test_a_customer_already_booked_at_that_time_gets_already_booked(self):
        theme = ThemeFactory()
        booking = paid_booking(SlotFactory(theme=theme))
        other = SlotFactory(theme=theme)
        ConfirmedBookingFactory(slot=other, customer=booking.customer)
        refused("already_booked", booking_id=booking.pk, slot_id=other.pk, by=booking.customer)

    def test_asking_again_for_the_slot_it_is_on_changes_nothing(self):
        theme = ThemeFactory()
        booking = paid_booking(SlotFactory(theme=theme))
        new = SlotFactory(theme=theme)
        services.booking_reschedule(booking_id=booking.pk, slot_id=new.pk, by=booking.customer)

        again = services.booking_reschedule(booking_id=booking.pk, slot_id=new.pk, by=booking.customer)

        booking.refresh_from_db()
        assert (again.moved, booking.ics_sequence) == (False, 1)

    def test_an_unpaid_hold_moves_and_keeps_its_expiry_cut_at_the_new_start(self):
        theme = ThemeFactory()
        hold = BookingFactory(slot=SlotFactory(theme=theme))
        expires = hold.expires_at
        new = SlotFactory(theme=theme)
        OutboxMessage.objects.all().delete()

        services.booking_reschedule(booking_id=hold.pk, slot_id=new.pk, by=hold.customer)

        hold.refresh_from_db()
        assert (hold.slot_id, hold.status, hold.expires_at) == (new.pk, BookingStatus.PENDING_PAYMENT, expires)
        assert queued() == []  # confirmed later, by its payment, with the new time

    def test_an_unpaid_hold_whose_payment_is_under_way_may_not_change_price(self):
        theme = ThemeFactory(price=2500)
        hold = BookingFactory(slot=SlotFactory(theme=theme))
        PaymentFactory(booking=hold)

        refused("price_differs", booking_id=hold.pk, slot_id=SlotFactory(theme=theme, price=2000).pk, by=hold.customer)
        assert services.booking_reschedule(booking_id=hold.pk, slot_id=SlotFactory(theme=theme).pk, by=hold.customer)

    def test_cancelling_after_a_cheaper_move_refunds_only_what_is_left(self):
        theme = ThemeFactory(price=2500)
        booking = paid_booking(SlotFactory(theme=theme))
        services.booking_reschedule(
            booking_id=booking.pk, slot_id=SlotFactory(theme=theme, price=2000).pk, by=booking.customer
        )

        result = services.booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

        booking.refresh_from_db()
        assert result.refund_amount == 2000
        assert sorted(Refund.objects.values_list("amount", flat=True)) == [500, 2000]
        assert booking.refunded_amount == 2500


@pytest.mark.django_db
class TestEmails:
    def test_the_new_ics_is_a_request_with_the_same_uid_and_the_next_sequence(self):
        theme = ThemeFactory()
        booking = paid_booking(SlotFactory(theme=theme))
        first = check_calendar(notifications.booking_ics(booking))
        new = SlotFactory(theme=theme)

        services.booking_reschedule(booking_id=booking.pk, slot_id=new.pk, by=booking.customer)

        booking.refresh_from_db()
        second = check_calendar(notifications.booking_ics(booking))
        assert (first.one("METHOD"), first.children[0].one("SEQUENCE")) == ("PUBLISH", "0")
        assert (second.one("METHOD"), second.children[0].one("SEQUENCE")) == ("REQUEST", "1")
        assert second.children[0].one("UID") == first.children[0].one("UID") == f"booking-{booking.pk}@bookwise"
        assert second.children[0].one("DTSTART") == new.starts_at.strftime("%Y%m%dT%H%M%SZ")

    def test_the_confirmation_is_sent_again_after_a_move_and_the_merchant_is_told(self):
        theme = ThemeFactory(merchant__booking_emails=BookingEmails.EACH)
        booking = paid_booking(SlotFactory(theme=theme))
        assert notifications.send_booking_confirmed_email(booking_id=booking.pk)
        new = SlotFactory(theme=theme, price=2000)

        result = services.booking_reschedule(booking_id=booking.pk, slot_id=new.pk, by=booking.customer)

        assert notifications.send_booking_confirmed_email(booking_id=booking.pk)
        assert not notifications.send_booking_confirmed_email(booking_id=booking.pk)  # once per move
        moved = mail.outbox[-1]
        assert moved.subject.startswith("Booking moved")
        (ics,) = [a for a in moved.attachments if a[0].endswith(".ics")]
        assert "SEQUENCE:1" in ics[1]
        assert "METHOD:REQUEST" in ics[1]
        assert send_booking_rescheduled_email(
            booking_id=booking.pk, sequence=1, from_slot_id=result.from_slot_id, refund=result.refund_amount
        )
        notice = mail.outbox[-1]
        assert notice.to == [theme.merchant.owner.email]
        assert "moved" in notice.subject
        assert "$5.00" in notice.body
        theme.merchant.booking_emails = BookingEmails.OFF
        theme.merchant.save(update_fields=["booking_emails"])
        mail.outbox.clear()
        assert not send_booking_rescheduled_email(booking_id=booking.pk, sequence=1, from_slot_id=result.from_slot_id)
        assert mail.outbox == []


@pytest.mark.django_db
def test_the_api_moves_the_booking_and_answers_the_same_id():
    theme = ThemeFactory()
    booking = paid_booking(SlotFactory(theme=theme))
    new, peak = SlotFactory(theme=theme), SlotFactory(theme=theme, price=9000)
    client = bearer_client(booking.customer)
    url = f"/api/v1/bookings/{booking.pk}/reschedule/"

    response = client.post(url, {"slot": new.pk}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["slot"], response.json()["status"]) == (
        booking.pk,
        new.pk,
        "confirmed",
    )
    dearer = client.post(url, {"slot": peak.pk}, format="json")
    assert (dearer.status_code, dearer.json()["code"]) == (409, "price_differs")
    assert client.post(url, {"slot": "x"}, format="json").status_code == 400
    assert client.post(url, {"slot": 10**9}, format="json").status_code == 404


# --- Races ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_reschedules_into_a_nearly_full_slot_together_with_joins_never_oversell():
    theme = ThemeFactory(price=2500)
    target = SlotFactory(theme=theme, capacity=5)
    ConfirmedBookingFactory(slot=target, party_size=2)  # 3 seats left
    movers = [paid_booking(SlotFactory(theme=theme)) for _ in range(4)]
    joiners = [UserFactory() for _ in range(4)]

    calls = [
        lambda b=b: services.booking_reschedule(booking_id=b.pk, slot_id=target.pk, by=b.customer) for b in movers
    ] + [lambda c=c: booking_join(slot_id=target.pk, customer=c) for c in joiners]
    results = run_together(calls)

    winners = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 3
    assert {getattr(e, "code", repr(e)) for e in errors} == {"slot_full"}
    assert seats_taken(slot_id=target.pk) == 5


@pytest.mark.django_db(transaction=True)
def test_two_reschedules_of_one_booking_to_different_times_have_one_winner():
    """The first to lock the booking moves it; the other answers 409 not_reschedulable ("moved meanwhile")."""
    theme = ThemeFactory(price=2500)
    booking = paid_booking(SlotFactory(theme=theme))
    original_slot_id = booking.slot_id
    a, b = SlotFactory(theme=theme, price=2000), SlotFactory(theme=theme, price=2000)

    results = run_together(
        [
            lambda s=s: services.booking_reschedule(booking_id=booking.pk, slot_id=s.pk, by=booking.customer)
            for s in (a, b)
        ]
    )

    winners = [r for r in results if isinstance(r, services.RescheduleResult)]
    booking.refresh_from_db()
    assert list(Refund.objects.values_list("amount", flat=True)) == [500]
    if len(winners) == 2:
        # On a loaded machine one thread may read the booking only after the other committed: then
        # they did not race but ran one after the other, two legal moves (the second at the same price).
        first, second = sorted(winners, key=lambda w: w.booking.ics_sequence)
        assert (first.from_slot_id, second.from_slot_id) == (original_slot_id, first.booking.slot_id)
        assert (booking.slot_id, booking.ics_sequence, booking.refunded_amount) == (second.booking.slot_id, 2, 500)
        return
    assert len(winners) == 1, results
    assert [r.code for r in results if isinstance(r, DomainError)] == ["not_reschedulable"]
    assert (booking.slot_id, booking.ics_sequence, booking.refunded_amount) == (winners[0].booking.slot_id, 1, 500)


@pytest.mark.django_db(transaction=True)
def test_the_same_reschedule_sent_twice_at_once_moves_and_refunds_once():
    """A double submit: both answer the booking on the new slot; one of them did the move."""
    theme = ThemeFactory(price=2500)
    booking = paid_booking(SlotFactory(theme=theme))
    cheap = SlotFactory(theme=theme, price=2000)

    results = run_together(
        [lambda: services.booking_reschedule(booking_id=booking.pk, slot_id=cheap.pk, by=booking.customer)] * 2
    )

    assert sorted(r.moved for r in results) == [False, True], results
    booking.refresh_from_db()
    assert (booking.slot_id, booking.ics_sequence) == (cheap.pk, 1)
    assert Refund.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_crossing_reschedules_lock_both_slots_in_order_and_do_not_deadlock():
    theme = ThemeFactory()
    a, b = SlotFactory(theme=theme), SlotFactory(theme=theme)
    on_a, on_b = paid_booking(a), paid_booking(b)

    results = run_together(
        [
            lambda: services.booking_reschedule(booking_id=on_a.pk, slot_id=b.pk, by=on_a.customer),
            lambda: services.booking_reschedule(booking_id=on_b.pk, slot_id=a.pk, by=on_b.customer),
        ]
    )

    assert all(isinstance(r, services.RescheduleResult) and r.moved for r in results), results
    on_a.refresh_from_db()
    on_b.refresh_from_db()
    assert (on_a.slot_id, on_b.slot_id) == (b.pk, a.pk)


@pytest.mark.django_db
def test_a_tier_below_a_full_refund_means_the_booking_cannot_move():
    policy = [{"hours_before": 48, "refund_percent": 100}, {"hours_before": 24, "refund_percent": 50}]
    theme = ThemeFactory(cancellation_policy=policy)
    start = timezone.now() + timedelta(hours=30)  # inside the 50 % tier
    booking = paid_booking(SlotFactory(theme=theme, starts_at=start, ends_at=start + timedelta(hours=1)))

    refused("not_reschedulable", booking_id=booking.pk, slot_id=SlotFactory(theme=theme).pk, by=booking.customer)


# --- The portal page ("Change time") -------------------------------------------------------------


@pytest.mark.django_db
def test_the_change_time_page_lists_the_times_and_moves_to_a_cheaper_one_with_its_refund(client):
    theme = ThemeFactory(price=2500)
    booking = paid_booking(SlotFactory(theme=theme))
    cheap = SlotFactory(theme=theme, price=2000)
    dear = SlotFactory(theme=theme, price=3000)
    SlotFactory(theme=ThemeFactory())  # another theme's time is not offered
    client.force_login(booking.customer)

    mine = client.get("/bookings/")
    assert f'href="/bookings/{booking.pk}/reschedule/"' in mine.content.decode()
    page = client.get(f"/bookings/{booking.pk}/reschedule/")
    html = page.content.decode()
    assert page.status_code == 200
    assert [o.slot.pk for o in page.context["options"]] == [cheap.pk, dear.pk]
    assert [o.state for o in page.context["options"]] == ["available", "dearer"]
    assert f'id="slot-{dear.pk}" value="{dear.pk}" disabled' in html
    assert "$5.00 cheaper" in html

    response = client.post(f"/bookings/{booking.pk}/reschedule/", {"slot": cheap.pk}, follow=True)

    booking.refresh_from_db()
    assert booking.slot_id == cheap.pk
    assert "The price difference, $5.00, is being refunded to your card." in response.content.decode()


@pytest.mark.django_db
def test_the_change_time_page_shows_a_refused_move_and_someone_elses_booking_is_a_404(client):
    theme = ThemeFactory(price=2500)
    booking = paid_booking(SlotFactory(theme=theme))
    dear = SlotFactory(theme=theme, price=3000)
    client.force_login(booking.customer)

    response = client.post(f"/bookings/{booking.pk}/reschedule/", {"slot": dear.pk})

    assert response.status_code == 200
    assert "costs more" in response.content.decode()
    client.force_login(UserFactory())
    assert client.get(f"/bookings/{booking.pk}/reschedule/").status_code == 404
