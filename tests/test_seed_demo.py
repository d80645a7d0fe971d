import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role, User
from bookwise.demo import ADMIN_EMAIL, CUSTOMER_EMAIL, DEMO_PASSWORD, MERCHANT_EMAIL
from catalog.models import Slot, Theme
from merchants.models import Merchant, MerchantStatus

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


def test_seed_demo_slots_are_future_valid_and_at_local_opening_hours():
    call_command("seed_demo", "--not-production")

    now = timezone.now()
    for slot in Slot.objects.select_related("theme__merchant"):
        theme = slot.theme
        local = slot.starts_at.astimezone(zoneinfo.ZoneInfo(theme.merchant.timezone))
        assert slot.starts_at > now
        assert (slot.ends_at - slot.starts_at).total_seconds() == theme.duration_minutes * 60
        assert theme.min_party <= theme.max_party <= slot.capacity
        assert 10 <= local.hour <= 22
    assert Slot.objects.filter(theme__title="Subway Heist").count() == 30 * 3


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="public password"):
        call_command("seed_demo")
    assert not Merchant.objects.exists()
