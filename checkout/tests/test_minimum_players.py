"""Minimum players to run (Theme.min_players): the deadline sweep, the join rule, the guarantee and its emails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus, BookingStatusChange
from bookings.services import booking_confirm_payment, booking_join
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.errors import DomainError
from bookwise.models import OutboxMessage
from catalog.models import Slot, SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout import notifications, services
from payments.models import PaymentStatus, Refund
from payments.tests.factories import PaymentFactory
from tests.concurrency import run_together

GUARANTEED_TASK = "bookings.tasks.send_slot_guaranteed"
CANCELLED_TASK = "checkout.tasks.send_booking_cancelled"
MERCHANT_TASK = "checkout.tasks.send_slot_minimum_not_reached"


def class_slot(*, min_players=4, deadline_hours=24, starts_in=timedelta(hours=20), price=2500, capacity=10):
    """A slot of a class that needs `min_players`; by default already past its deadline."""
    theme = ThemeFactory(min_players=min_players, min_players_deadline_hours=deadline_hours, price=price)
    starts_at = timezone.now() + starts_in
    return SlotFactory(theme=theme, starts_at=starts_at, capacity=capacity)


def paid_booking(slot, party_size=1):
    booking = ConfirmedBookingFactory(slot=slot, party_size=party_size)
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
    return booking


def queued(task_name: str) -> list[int]:
    return sorted(m.args[0] for m in OutboxMessage.objects.filter(task_name=task_name))


@pytest.mark.django_db
class TestSweep:
    def test_cancels_a_slot_below_its_minimum_and_refunds_each_paid_booking_once_in_full(self):
        slot = class_slot(min_players=4)
        paid = [paid_booking(slot, party_size=2), paid_booking(slot)]

        assert services.slots_cancel_below_minimum() == 1

        slot.refresh_from_db()
        assert slot.status == SlotStatus.CANCELLED
        refunds = Refund.objects.order_by("payment__booking_id")
        assert [(r.payment.booking_id, r.amount) for r in refunds] == [(b.pk, b.amount) for b in paid]
        assert set(Booking.objects.filter(slot=slot).values_list("status", flat=True)) == {BookingStatus.CANCELLED}
        assert set(
            BookingStatusChange.objects.filter(to_status=BookingStatus.CANCELLED).values_list("reason", "changed_by")
        ) == {("minimum not reached", None)}
        assert queued(CANCELLED_TASK) == [b.pk for b in paid]
        assert queued(MERCHANT_TASK) == [slot.pk]
        # Again: nothing more to do, nothing refunded twice.
        assert services.slots_cancel_below_minimum() == 0
        assert Refund.objects.count() == 2

    def test_an_unpaid_hold_is_cancelled_too_and_counts_as_a_seat_until_it_runs_out(self):
        slot = class_slot(min_players=2)
        paid = paid_booking(slot)
        hold = BookingFactory(slot=slot)

        assert services.slots_cancel_below_minimum() == 0  # 2 seats taken while the hold runs

        now = hold.expires_at + timedelta(seconds=1)
        assert services.slots_cancel_below_minimum(now=now) == 1
        assert Booking.objects.get(pk=paid.pk).status == BookingStatus.CANCELLED
        assert Refund.objects.get().payment.booking_id == paid.pk

    def test_a_running_hold_on_a_slot_below_the_minimum_is_cancelled_without_a_refund(self):
        slot = class_slot(min_players=3)
        hold = BookingFactory(slot=slot)

        assert services.slots_cancel_below_minimum() == 1
        assert Booking.objects.get(pk=hold.pk).status == BookingStatus.CANCELLED
        assert not Refund.objects.exists()

    def test_leaves_guaranteed_full_enough_early_started_and_minimum_free_slots_alone(self):
        guaranteed = class_slot(min_players=4)
        Slot.objects.filter(pk=guaranteed.pk).update(guaranteed_at=timezone.now())
        enough = class_slot(min_players=2)
        paid_booking(enough, party_size=2)
        early = class_slot(min_players=4, starts_in=timedelta(hours=30))  # deadline still ahead
        started = class_slot(min_players=4, starts_in=timedelta(minutes=-5))
        old_theme = class_slot(min_players=1)  # the default: never touched, even empty

        assert services.slots_cancel_below_minimum() == 0

        statuses = Slot.objects.filter(pk__in=[s.pk for s in (guaranteed, enough, early, started, old_theme)])
        assert set(statuses.values_list("status", flat=True)) == {SlotStatus.OPEN}
        assert not OutboxMessage.objects.exists()

    def test_the_deadline_is_the_themes_hours_before_the_start(self):
        slot = class_slot(min_players=3, deadline_hours=48, starts_in=timedelta(hours=50))
        assert services.slots_cancel_below_minimum() == 0
        assert services.slots_cancel_below_minimum(now=timezone.now() + timedelta(hours=2, minutes=1)) == 1
        slot.refresh_from_db()
        assert slot.status == SlotStatus.CANCELLED

    def test_the_customer_is_told_the_minimum_and_the_merchant_gets_one_email(self, mailoutbox):
        slot = class_slot(min_players=5)
        booking = paid_booking(slot)
        services.slots_cancel_below_minimum()

        assert notifications.send_booking_cancelled_email(booking_id=booking.pk) is True
        assert notifications.send_slot_minimum_not_reached_email(slot_id=slot.pk) is True
        assert notifications.send_slot_minimum_not_reached_email(slot_id=slot.pk) is False

        to_customer, to_merchant = mailoutbox
        assert to_customer.to == [booking.customer.email]
        assert "did not reach its minimum of 5 players" in to_customer.body
        assert "refund of" in to_customer.body
        assert to_merchant.to == [slot.theme.merchant.owner.email]
        assert "did not reach its minimum of 5 players" in to_merchant.body
        assert "1 booking was cancelled and refunded in full" in to_merchant.body


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_cancel_the_slot_and_refund_each_booking_once():
    slots = [class_slot(min_players=6) for _ in range(3)]
    bookings = [paid_booking(slot, party_size=2) for slot in slots for _ in range(2)]

    results = run_together([services.slots_cancel_below_minimum, services.slots_cancel_below_minimum])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 3  # each slot cancelled by exactly one of them
    assert Refund.objects.count() == len(bookings)
    assert sorted(Refund.objects.values_list("payment__booking_id", flat=True)) == sorted(b.pk for b in bookings)
    assert BookingStatusChange.objects.filter(to_status=BookingStatus.CANCELLED).count() == len(bookings)
    assert queued(CANCELLED_TASK) == sorted(b.pk for b in bookings)
    assert queued(MERCHANT_TASK) == sorted(s.pk for s in slots)


@pytest.mark.django_db
class TestJoinAndGuarantee:
    def test_a_join_after_the_deadline_on_a_slot_not_guaranteed_is_refused(self):
        slot = class_slot(min_players=3)

        with pytest.raises(DomainError) as refused:
            booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)
        assert refused.value.code == "slot_closed"
        assert "minimum of 3 players" in str(refused.value.message)

    def test_a_guaranteed_slot_still_takes_joins_after_the_deadline_and_an_early_one_before(self):
        guaranteed = class_slot(min_players=2)
        Slot.objects.filter(pk=guaranteed.pk).update(guaranteed_at=timezone.now())
        early = class_slot(min_players=2, starts_in=timedelta(hours=30))

        assert booking_join(slot_id=guaranteed.pk, customer=UserFactory()).status == BookingStatus.PENDING_PAYMENT
        assert booking_join(slot_id=early.pk, customer=UserFactory()).status == BookingStatus.PENDING_PAYMENT

    def test_reaching_the_minimum_stamps_the_slot_once_and_queues_one_email_per_customer(self):
        slot = class_slot(min_players=3, price=0, starts_in=timedelta(days=3))
        first = booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)
        slot.refresh_from_db()
        assert slot.guaranteed_at is None
        assert queued(GUARANTEED_TASK) == []

        second = booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)
        slot.refresh_from_db()
        assert slot.guaranteed_at is not None
        assert queued(GUARANTEED_TASK) == [first.pk, second.pk]

        booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)
        assert queued(GUARANTEED_TASK) == [first.pk, second.pk]  # told once

    def test_a_payment_that_reaches_the_minimum_guarantees_the_slot_but_an_unpaid_hold_does_not(self):
        slot = class_slot(min_players=2, starts_in=timedelta(days=3))
        paid = paid_booking(slot)
        hold = booking_join(slot_id=slot.pk, customer=UserFactory())
        slot.refresh_from_db()
        assert slot.guaranteed_at is None  # a hold may still run out

        booking_confirm_payment(booking_id=hold.pk)

        slot.refresh_from_db()
        assert slot.guaranteed_at is not None
        assert queued(GUARANTEED_TASK) == [paid.pk, hold.pk]

    def test_old_themes_are_never_stamped_nor_emailed(self):
        slot = class_slot(min_players=1, price=0, starts_in=timedelta(days=3))
        booking_join(slot_id=slot.pk, customer=UserFactory())
        slot.refresh_from_db()
        assert slot.guaranteed_at is None
        assert queued(GUARANTEED_TASK) == []

    def test_the_guaranteed_email_says_the_slot_will_run(self, mailoutbox):
        from bookings.notifications import send_slot_guaranteed_email

        slot = class_slot(min_players=2, price=0, starts_in=timedelta(days=3))
        booking = booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

        assert send_slot_guaranteed_email(booking_id=booking.pk) is True
        assert send_slot_guaranteed_email(booking_id=booking.pk) is False
        (email,) = mailoutbox
        assert "reached its minimum of 2 players and will run" in email.body


@pytest.mark.django_db
class TestApi:
    def test_slots_say_whether_they_are_guaranteed(self, api_client):
        waiting = class_slot(min_players=3, starts_in=timedelta(days=3))
        reached = class_slot(min_players=3, starts_in=timedelta(days=4))
        Slot.objects.filter(pk=reached.pk).update(guaranteed_at=timezone.now())
        no_minimum = class_slot(min_players=1, starts_in=timedelta(days=5))

        got = {
            slot.pk: api_client.get(f"/api/v1/slots/{slot.pk}/").json()["guaranteed"]
            for slot in (waiting, reached, no_minimum)
        }
        assert got == {waiting.pk: False, reached.pk: True, no_minimum.pk: True}

        listed = api_client.get(f"/api/v1/themes/{waiting.theme_id}/slots/").json()["results"]
        assert [(row["id"], row["guaranteed"]) for row in listed] == [(waiting.pk, False)]


@pytest.mark.django_db
class TestPages:
    def test_the_theme_page_says_how_many_more_a_slot_needs_or_that_it_is_guaranteed(self, client):
        waiting = class_slot(min_players=3, starts_in=timedelta(days=3))
        ConfirmedBookingFactory(slot=waiting)
        reached = SlotFactory(theme=waiting.theme, starts_at=waiting.starts_at + timedelta(hours=3))
        Slot.objects.filter(pk=reached.pk).update(guaranteed_at=timezone.now())

        # The page lists one day's times: both days (the two slots may fall either side of a local midnight).
        tz = waiting.theme.merchant.tzinfo
        page = ""
        for slot in (waiting, reached):
            day = timezone.localtime(slot.starts_at, tz).date()
            url = reverse("portal:theme-detail", args=[waiting.theme_id]) + f"?day={day:%Y-%m-%d}"
            page += client.get(url).content.decode()

        assert "Needs 2 more to run" in page
        assert "Guaranteed" in page

    def test_a_theme_without_a_minimum_shows_neither(self, client):
        slot = class_slot(min_players=1, starts_in=timedelta(days=3))
        page = client.get(reverse("portal:theme-detail", args=[slot.theme_id])).content.decode()
        assert "more to run" not in page
        assert "Guaranteed" not in page

    def test_the_merchants_slot_list_shows_it_too(self, client):
        slot = class_slot(min_players=4, starts_in=timedelta(days=3))
        client.force_login(slot.theme.merchant.owner)
        page = client.get(reverse("merchant:slot-list", args=[slot.theme_id])).content.decode()
        assert "Needs 4 more to run" in page


@pytest.mark.django_db
def test_a_move_that_brings_a_slot_to_its_minimum_guarantees_it(django_capture_on_commit_callbacks):
    """A confirmed party rescheduled onto a class short of its minimum: the class will run, its customers are told."""
    theme = ThemeFactory(price=0, min_players=4, min_players_deadline_hours=12, cancellation_cutoff_hours=24)
    start = timezone.now() + timedelta(days=5)
    short = SlotFactory(theme=theme, starts_at=start, capacity=8)
    other = SlotFactory(theme=theme, starts_at=start + timedelta(days=1), capacity=8)
    booking_join(slot_id=short.pk, customer=UserFactory(), party_size=2)
    mover = booking_join(slot_id=other.pk, customer=UserFactory(), party_size=2)

    services.booking_reschedule(booking_id=mover.pk, slot_id=short.pk, by=mover.customer)

    short.refresh_from_db()
    assert short.guaranteed_at is not None
