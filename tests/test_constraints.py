"""Every database invariant refuses a bad row written straight through the ORM.

Services validate first to give clear messages; these constraints are the
backstop when a service is bypassed (admin, shell, a bug, a race).
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import Slot, SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.tests.factories import PaymentFactory, RefundFactory
from reviews.tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db


def refused(constraint: str, write) -> None:
    """`write()` raises IntegrityError from the constraint whose name contains `constraint`."""
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        write()
    name = exc.value.__cause__.diag.constraint_name
    assert constraint in name, f"refused by {name!r}, expected {constraint!r}"


def at(hour: int, minute: int = 0):
    base = (timezone.now() + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    return base + timedelta(hours=hour, minutes=minute)


# --- accounts -------------------------------------------------------------------------


def test_user_email_is_unique_case_insensitively():
    UserFactory(email="Ada@Example.com")
    refused("user_email_ci_unique", lambda: UserFactory(email="ada@example.COM"))


# --- merchants ------------------------------------------------------------------------


def test_one_merchant_profile_per_owner():
    merchant = MerchantFactory()
    refused("owner", lambda: MerchantFactory(owner=merchant.owner))


# --- catalog: themes --------------------------------------------------------------------


def test_theme_min_party_may_not_exceed_max_party():
    refused("theme_party_range", lambda: ThemeFactory(min_party=5, max_party=4))


def test_theme_min_party_equal_to_max_party_is_accepted():
    assert ThemeFactory(min_party=4, max_party=4).pk


def test_theme_duration_must_be_at_least_one_minute():
    refused("theme_duration_positive", lambda: ThemeFactory(duration_minutes=0))


def test_theme_min_party_must_be_positive():
    refused("theme_min_party_positive", lambda: ThemeFactory(min_party=0, max_party=3))


def test_theme_rating_stays_within_0_and_5():
    refused("theme_rating_range", lambda: ThemeFactory(rating_avg=5.5))


# --- catalog: slots ---------------------------------------------------------------------


def test_slot_must_start_before_it_ends():
    theme = ThemeFactory()
    refused("slot_starts_before_ends", lambda: SlotFactory(theme=theme, starts_at=at(10), ends_at=at(10)))
    refused("slot_starts_before_ends", lambda: SlotFactory(theme=theme, starts_at=at(11), ends_at=at(10)))


def test_slot_capacity_may_not_be_negative():
    slot = SlotFactory()

    def write_negative_capacity():
        # PositiveIntegerField refuses -1 in Python, so go around it: the DB must still say no.
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Slot._meta.db_table} SET capacity = -1 WHERE id = %s", [slot.pk])

    # Django's own PositiveIntegerField check and slot_capacity_non_negative both
    # guard this; PostgreSQL names whichever it evaluates first.
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        write_negative_capacity()
    assert exc.value.__cause__.diag.constraint_name in {"slot_capacity_non_negative", "catalog_slot_capacity_check"}


def test_slot_capacity_non_negative_constraint_exists_on_its_own():
    """The explicit constraint does not rely on Django's implicit PositiveIntegerField check."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'slot_capacity_non_negative'"
        )
        (definition,) = cursor.fetchone()
    assert "capacity >= 0" in definition


def test_overlapping_open_slots_of_one_theme_are_refused():
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=at(10), ends_at=at(11))

    refused("slot_no_overlap_per_theme", lambda: SlotFactory(theme=theme, starts_at=at(10, 30), ends_at=at(11, 30)))
    refused("slot_no_overlap_per_theme", lambda: SlotFactory(theme=theme, starts_at=at(9), ends_at=at(12)))
    refused("slot_no_overlap_per_theme", lambda: SlotFactory(theme=theme, starts_at=at(10), ends_at=at(11)))


def test_a_cancelled_slot_does_not_block_an_overlapping_one():
    theme = ThemeFactory()
    cancelled = SlotFactory(theme=theme, starts_at=at(10), ends_at=at(11), status=SlotStatus.CANCELLED)

    assert SlotFactory(theme=theme, starts_at=at(10), ends_at=at(11)).pk
    # ...but it cannot be reopened on top of the slot that replaced it.
    refused(
        "slot_no_overlap_per_theme",
        lambda: Slot.objects.filter(pk=cancelled.pk).update(status=SlotStatus.OPEN),
    )


def test_overlapping_slots_of_different_themes_are_accepted():
    SlotFactory(starts_at=at(10), ends_at=at(11))
    assert SlotFactory(starts_at=at(10), ends_at=at(11)).pk


def test_back_to_back_slots_of_one_theme_are_accepted():
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=at(10), ends_at=at(11))
    assert SlotFactory(theme=theme, starts_at=at(11), ends_at=at(12)).pk
    assert SlotFactory(theme=theme, starts_at=at(9), ends_at=at(10)).pk


# --- bookings ---------------------------------------------------------------------------


def test_booking_party_size_must_be_positive():
    refused("booking_party_size_positive", lambda: BookingFactory(party_size=0))


def test_a_second_seat_holding_booking_of_one_customer_on_one_slot_is_refused():
    first = BookingFactory()

    refused(
        "booking_one_active_per_customer_slot",
        lambda: BookingFactory(slot=first.slot, customer=first.customer),
    )
    refused(
        "booking_one_active_per_customer_slot",
        lambda: ConfirmedBookingFactory(slot=first.slot, customer=first.customer),
    )


@pytest.mark.parametrize("ended", [BookingStatus.CANCELLED, BookingStatus.EXPIRED])
def test_an_ended_booking_does_not_block_a_new_one(ended):
    first = BookingFactory(status=ended)
    assert BookingFactory(slot=first.slot, customer=first.customer).pk


def test_other_customers_may_book_the_same_slot():
    first = BookingFactory()
    assert BookingFactory(slot=first.slot).pk


def test_a_pending_booking_must_have_an_expiry():
    refused("booking_pending_has_expiry", lambda: BookingFactory(expires_at=None))


def test_a_confirmed_booking_needs_no_expiry():
    assert ConfirmedBookingFactory(expires_at=None).pk


# --- reviews ----------------------------------------------------------------------------


@pytest.mark.parametrize("rating", [0, 6, 100])
def test_review_rating_is_between_1_and_5(rating):
    refused("review_rating_1_to_5", lambda: ReviewFactory(rating=rating))


def test_one_review_per_author_and_theme():
    review = ReviewFactory()

    refused("review_one_per_author_theme", lambda: ReviewFactory(author=review.author, theme=review.theme))
    assert ReviewFactory(author=review.author).pk
    assert ReviewFactory(theme=review.theme).pk


# --- payments ---------------------------------------------------------------------------


def test_payment_intent_id_is_unique_once_known():
    PaymentFactory(stripe_payment_intent_id="pi_dup")
    refused("payment_stripe_intent_id_unique", lambda: PaymentFactory(stripe_payment_intent_id="pi_dup"))
    # A payment row is written before Stripe answers: no intent id yet, never a collision.
    assert PaymentFactory(stripe_payment_intent_id="").pk
    assert PaymentFactory(stripe_payment_intent_id="").pk


def test_one_payment_per_booking():
    payment = PaymentFactory()
    refused("booking_id", lambda: PaymentFactory(booking=payment.booking, idempotency_key="another-key"))


def test_client_idempotency_key_is_unique_when_given():
    PaymentFactory(client_idempotency_key="client-key-1")
    refused("payment_client_idempotency_key_unique", lambda: PaymentFactory(client_idempotency_key="client-key-1"))
    # No key at all is the common case and never collides.
    assert PaymentFactory(client_idempotency_key="").pk
    assert PaymentFactory(client_idempotency_key="").pk


def test_stripe_refund_id_is_unique_once_known():
    RefundFactory(stripe_refund_id="re_dup")
    refused("refund_stripe_id_unique", lambda: RefundFactory(stripe_refund_id="re_dup"))
    # Refunds not yet sent to Stripe have no id yet.
    assert RefundFactory(stripe_refund_id="").pk
    assert RefundFactory(stripe_refund_id="").pk
