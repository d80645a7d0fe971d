import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import Booking, BookingStatus
from catalog.models import Slot, Theme
from merchants.models import Merchant, MerchantStatus
from portal.demo import ADMIN_EMAIL, CUSTOMER_EMAIL, DEMO_PASSWORD, MERCHANT_EMAIL
from reviews.models import Review

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_demo_accounts_once():
    call_command("seed_demo", "--not-production")
    counts = (User.objects.count(), Merchant.objects.count(), Theme.objects.count(), Slot.objects.count())

    call_command("seed_demo", "--not-production")

    assert (User.objects.count(), Merchant.objects.count(), Theme.objects.count(), Slot.objects.count()) == counts
    assert User.objects.get(email=ADMIN_EMAIL).is_superuser
    assert User.objects.get(email=MERCHANT_EMAIL).role == Role.MERCHANT
    assert User.objects.get(email=CUSTOMER_EMAIL).role == Role.CUSTOMER
    assert User.objects.get(email=CUSTOMER_EMAIL).check_password(DEMO_PASSWORD)


def test_seed_demo_makes_approved_merchants_in_three_timezones_and_a_free_theme():
    call_command("seed_demo", "--not-production")

    merchants = Merchant.objects.all()
    assert {m.status for m in merchants} == {MerchantStatus.APPROVED}
    assert {m.timezone for m in merchants} == {"Europe/Lisbon", "America/New_York", "Asia/Tokyo"}
    assert Merchant.objects.get(owner__email=MERCHANT_EMAIL).city == "Lisbon"
    assert Theme.objects.count() == 8
    assert Theme.objects.filter(price=0).count() == 1


def test_seed_demo_slots_are_valid_and_at_local_opening_hours_and_only_the_history_is_past():
    call_command("seed_demo", "--not-production")

    now = timezone.now()
    past = Slot.objects.filter(starts_at__lte=now)
    assert set(past.values_list("theme__merchant__owner__email", flat=True)) == {MERCHANT_EMAIL}
    assert past.count() == 3
    for slot in Slot.objects.select_related("theme__merchant"):
        theme = slot.theme
        local = slot.starts_at.astimezone(zoneinfo.ZoneInfo(theme.merchant.timezone))
        assert (slot.ends_at - slot.starts_at).total_seconds() == theme.duration_minutes * 60
        assert theme.min_party <= theme.max_party <= slot.capacity
        assert 10 <= local.hour <= 22
    assert Slot.objects.filter(theme__title="Subway Heist").count() == 30 * 3


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="public password"):
        call_command("seed_demo")
    assert not Merchant.objects.exists()


def test_seed_demo_history_lets_attendance_and_reviews_be_tried_at_once():
    call_command("seed_demo", "--not-production")

    now = timezone.now()
    lisbon = Booking.objects.filter(slot__theme__merchant__owner__email=MERCHANT_EMAIL, slot__starts_at__lte=now)
    assert lisbon.filter(status=BookingStatus.ATTENDED).count() >= 3
    assert lisbon.filter(status=BookingStatus.NO_SHOW).count() >= 2
    # Confirmed bookings of a slot that has started: the merchant can mark them straight away.
    assert lisbon.filter(status=BookingStatus.CONFIRMED).count() >= 2
    assert not Booking.objects.filter(slot__starts_at__gt=now).exists()
    # Every booking went through the services: each has its audit trail, paid ones their confirmation.
    for booking in lisbon:
        assert booking.status_changes.exists()
        assert booking.confirmed_at is not None
        assert booking.confirmed_at < booking.slot.starts_at
    assert Review.objects.count() >= 3
    theme = Theme.objects.get(title="Alfama Night Walk")
    assert theme.review_count == 2

    # The demo customer has an attended theme she has not reviewed yet: she can write one now.
    customer = User.objects.get(email=CUSTOMER_EMAIL)
    attended = set(
        lisbon.filter(customer=customer, status=BookingStatus.ATTENDED).values_list("slot__theme", flat=True)
    )
    reviewed = set(Review.objects.filter(author=customer).values_list("theme", flat=True))
    assert attended - reviewed
