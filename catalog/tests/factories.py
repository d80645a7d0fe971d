from datetime import timedelta

import factory
from django.utils import timezone

from catalog.models import Slot, SlotStatus, Theme
from merchants.tests.factories import MerchantFactory


class ThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Theme

    merchant = factory.SubFactory(MerchantFactory)
    title = factory.Sequence(lambda n: f"Escape room {n}")
    description = "Find the key before the hour is over."
    duration_minutes = 60
    price = 2500
    currency = "usd"
    min_party = 1
    max_party = 6


class SlotFactory(factory.django.DjangoModelFactory):
    """An open slot starting in the future; consecutive slots never overlap."""

    class Meta:
        model = Slot

    theme = factory.SubFactory(ThemeFactory)
    starts_at = factory.Sequence(
        lambda n: (timezone.now() + timedelta(days=2, hours=2 * n)).replace(minute=0, second=0, microsecond=0)
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=o.theme.duration_minutes))
    capacity = 5
    status = SlotStatus.OPEN
