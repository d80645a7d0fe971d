from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import Booking, BookingStatus, BookingStatusChange
from bookings.selectors import seats_taken
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.errors import DomainError, InvalidInput
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import booking_cancel_and_refund
from merchants.models import MerchantStatus

pytestmark = pytest.mark.django_db


def join(slot, customer=None, party_size=1, **kw):
    return services.booking_join(slot_id=slot.pk, customer=customer or UserFactory(), party_size=party_size, **kw)


def test_join_holds_seats_until_expiry_with_amount_from_theme(settings):
    slot = SlotFactory(capacity=5, theme__price=1500)
    booking = join(slot, party_size=3)
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert booking.amount == 4500
    assert booking.currency == "usd"
    assert booking.expires_at > timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES - 1)
    assert seats_taken(slot_id=slot.pk) == 3
    assert list(booking.status_changes.values_list("from_status", "to_status")) == [("", "pending_payment")]


def test_join_free_theme_confirms_at_once():
    slot = SlotFactory(theme__price=0)
    booking = join(slot, party_size=2)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.expires_at is None
    assert booking.amount == 0


def test_join_refuses_party_larger_than_seats_left():
    slot = SlotFactory(capacity=5)
    join(slot, party_size=3)
    with pytest.raises(DomainError) as exc:
        join(slot, party_size=3)
    assert exc.value.code == "slot_full"
    assert seats_taken(slot_id=slot.pk) == 3


@pytest.mark.parametrize("party_size", [0, 1, 5])
def test_join_refuses_party_outside_theme_range(party_size):
    slot = SlotFactory(capacity=10, theme__min_party=2, theme__max_party=4)
    with pytest.raises(InvalidInput) as exc:
        join(slot, party_size=party_size)
    assert exc.value.field == "party_size"
    assert not Booking.objects.exists()


def test_join_refuses_second_active_booking_on_same_slot():
    slot = SlotFactory(capacity=10)
    customer = UserFactory()
    join(slot, customer)
    with pytest.raises(DomainError) as exc:
        join(slot, customer)
    assert exc.value.code == "already_booked"


def test_join_after_own_hold_expired_replaces_it():
    slot = SlotFactory(capacity=2)
    customer = UserFactory()
    old = BookingFactory(slot=slot, customer=customer, party_size=2, expires_at=timezone.now() - timedelta(seconds=1))
    booking = join(slot, customer, party_size=2)
    old.refresh_from_db()
    assert old.status == BookingStatus.EXPIRED
    assert booking.status == BookingStatus.PENDING_PAYMENT


def test_expired_holds_stop_counting_before_the_sweep():
    slot = SlotFactory(capacity=3)
    BookingFactory(slot=slot, party_size=3, expires_at=timezone.now() - timedelta(seconds=1))
    assert seats_taken(slot_id=slot.pk) == 0
    booking = join(slot, party_size=3)
    assert booking.status == BookingStatus.PENDING_PAYMENT


@pytest.mark.parametrize(
    ("change", "expected_message"),
    [
        ({"status": SlotStatus.CANCELLED}, "cancelled"),
        ({"starts_at_offset": timedelta(minutes=-1)}, "started"),
    ],
)
def test_join_refuses_closed_slot(change, expected_message):
    slot = SlotFactory()
    if "status" in change:
        slot.status = change["status"]
        slot.save()
    else:
        slot.starts_at = timezone.now() + change["starts_at_offset"]
        slot.ends_at = slot.starts_at + timedelta(hours=1)
        slot.save()
    with pytest.raises(DomainError) as exc:
        join(slot)
    assert exc.value.code == "slot_closed"
    assert expected_message in exc.value.message


def test_join_refuses_theme_of_suspended_merchant():
    slot = SlotFactory()
    slot.theme.merchant.status = MerchantStatus.SUSPENDED
    slot.theme.merchant.save()
    with pytest.raises(DomainError) as exc:
        join(slot)
    assert exc.value.code == "slot_closed"


def test_join_limits_unpaid_holds_per_customer(settings):
    settings.BOOKING_MAX_UNPAID_HOLDS = 2
    theme = ThemeFactory()
    customer = UserFactory()
    join(SlotFactory(theme=theme), customer)
    join(SlotFactory(theme=theme), customer)
    with pytest.raises(DomainError) as exc:
        join(SlotFactory(theme=theme), customer)
    assert exc.value.code == "too_many_holds"
    # Free themes do not count against the limit.
    assert join(SlotFactory(theme__price=0), customer).status == BookingStatus.CONFIRMED


def test_cancel_pending_frees_seats_and_audits():
    slot = SlotFactory(capacity=2)
    customer = UserFactory()
    booking = join(slot, customer, party_size=2)
    booking_cancel_and_refund(booking_id=booking.pk, by=customer)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert seats_taken(slot_id=slot.pk) == 0
    change = BookingStatusChange.objects.filter(booking=booking).last()
    assert (change.from_status, change.to_status, change.changed_by) == ("pending_payment", "cancelled", customer)


def test_customer_cannot_cancel_paid_booking_after_cutoff():
    slot = SlotFactory(starts_at=timezone.now() + timedelta(hours=5), theme__cancellation_cutoff_hours=24)
    booking = ConfirmedBookingFactory(slot=slot)
    with pytest.raises(DomainError) as exc:
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    assert exc.value.code == "not_cancellable"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_merchant_can_cancel_paid_booking_after_cutoff():
    slot = SlotFactory(starts_at=timezone.now() + timedelta(hours=5))
    booking = ConfirmedBookingFactory(slot=slot)
    booking_cancel_and_refund(booking_id=booking.pk, by=slot.theme.merchant.owner)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.EXPIRED, BookingStatus.ATTENDED])
def test_cancel_refuses_ended_booking(status):
    booking = ConfirmedBookingFactory(status=status)
    with pytest.raises(DomainError) as exc:
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    assert exc.value.code == "not_cancellable"


def test_expire_sweep_marks_only_due_holds_and_is_idempotent():
    due = BookingFactory(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = BookingFactory()
    confirmed = ConfirmedBookingFactory()
    assert services.bookings_expire_due() == 1
    assert services.bookings_expire_due() == 0
    due.refresh_from_db()
    fresh.refresh_from_db()
    confirmed.refresh_from_db()
    assert (due.status, fresh.status, confirmed.status) == ("expired", "pending_payment", "confirmed")
    assert BookingStatusChange.objects.filter(booking=due, to_status="expired").count() == 1


def test_confirm_payment_confirms_live_hold_once():
    booking = BookingFactory()
    assert services.booking_confirm_payment(booking_id=booking.pk) == services.ConfirmOutcome.CONFIRMED
    assert services.booking_confirm_payment(booking_id=booking.pk) == services.ConfirmOutcome.ALREADY_CONFIRMED
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.status_changes.filter(to_status="confirmed").count() == 1


def test_late_payment_confirms_when_seats_still_free():
    booking = BookingFactory(slot__capacity=2, party_size=2, expires_at=timezone.now() - timedelta(minutes=1))
    services.bookings_expire_due()
    assert services.booking_confirm_payment(booking_id=booking.pk) == services.ConfirmOutcome.CONFIRMED
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_late_payment_must_refund_when_seats_taken():
    booking = BookingFactory(slot__capacity=2, party_size=2, expires_at=timezone.now() - timedelta(minutes=1))
    join(booking.slot, party_size=2)
    assert services.booking_confirm_payment(booking_id=booking.pk) == services.ConfirmOutcome.MUST_REFUND
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED


def test_payment_for_cancelled_booking_must_refund():
    booking = BookingFactory()
    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    assert services.booking_confirm_payment(booking_id=booking.pk) == services.ConfirmOutcome.MUST_REFUND


def test_attendance_requires_started_slot_and_confirmed_booking():
    booking = ConfirmedBookingFactory()
    owner = booking.slot.theme.merchant.owner
    with pytest.raises(DomainError) as exc:
        services.booking_mark_attendance(booking_id=booking.pk, status="attended", by=owner)
    assert exc.value.code == "slot_not_started"
    later = booking.slot.starts_at + timedelta(minutes=5)
    services.booking_mark_attendance(booking_id=booking.pk, status="attended", by=owner, now=later)
    services.booking_mark_attendance(booking_id=booking.pk, status="no_show", by=owner, now=later)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NO_SHOW
    pending = BookingFactory()
    with pytest.raises(DomainError) as exc:
        services.booking_mark_attendance(booking_id=pending.pk, status="attended", by=owner, now=later)
    assert exc.value.code == "not_confirmed"


# --- Free bookings are capped too (BOOKING_MAX_FREE_HOLDS) -----------------------------------------


def test_join_limits_free_bookings_on_upcoming_slots(settings):
    settings.BOOKING_MAX_FREE_HOLDS = 2
    free = ThemeFactory(price=0)
    customer = UserFactory()
    join(SlotFactory(theme=free), customer)
    join(SlotFactory(theme=free), customer)

    with pytest.raises(DomainError) as exc:
        join(SlotFactory(theme=free), customer)

    assert exc.value.code == "too_many_holds"
    assert "2 free bookings on upcoming slots" in exc.value.message
    assert Booking.objects.filter(customer=customer).count() == 2
    # Paid themes have their own limit (unpaid holds), and other customers theirs.
    assert join(SlotFactory(theme__price=1500), customer).status == BookingStatus.PENDING_PAYMENT
    assert join(SlotFactory(theme=free)).status == BookingStatus.CONFIRMED


def test_free_cap_counts_only_live_free_bookings_on_slots_still_to_come(settings):
    settings.BOOKING_MAX_FREE_HOLDS = 1
    free = ThemeFactory(price=0)
    customer = UserFactory()
    started = SlotFactory(theme=free, starts_at=timezone.now() - timedelta(hours=1))
    ConfirmedBookingFactory(slot=started, customer=customer)  # already under way: no seat hoarded
    cancelled = join(SlotFactory(theme=free), customer)
    booking_cancel_and_refund(booking_id=cancelled.pk, by=customer)

    assert join(SlotFactory(theme=free), customer).status == BookingStatus.CONFIRMED
    with pytest.raises(DomainError) as exc:
        join(SlotFactory(theme=free), customer)
    assert exc.value.code == "too_many_holds"
