from datetime import timedelta

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from catalog.tests.factories import SlotFactory


class BookingFactory(factory.django.DjangoModelFactory):
    """A booking written directly (no service): a pending hold by default."""

    class Meta:
        model = Booking

    slot = factory.SubFactory(SlotFactory)
    customer = factory.SubFactory(UserFactory)
    party_size = 1
    status = BookingStatus.PENDING_PAYMENT
    amount = factory.LazyAttribute(lambda o: o.slot.theme.price * o.party_size)
    currency = factory.LazyAttribute(lambda o: o.slot.theme.currency)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))


class ConfirmedBookingFactory(BookingFactory):
    status = BookingStatus.CONFIRMED
    expires_at = None
    confirmed_at = factory.LazyFunction(timezone.now)
