import factory

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from reviews.models import Review


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    author = factory.SubFactory(UserFactory)
    theme = factory.SubFactory(ThemeFactory)
    rating = 4
    comment = "Great fun."


class AttendedBookingFactory(ConfirmedBookingFactory):
    """A booking the merchant marked attended: what earns the right to review."""

    status = BookingStatus.ATTENDED


def attend(user, theme, *, slot=None):
    """Give `user` an attended booking of `theme` (on `slot` if given, else a new slot)."""
    return AttendedBookingFactory(customer=user, slot=slot or SlotFactory(theme=theme))
