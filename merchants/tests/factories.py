import factory
from django.utils import timezone as dj_timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from merchants.models import BookingEmails, Merchant, MerchantStatus


class MerchantFactory(factory.django.DjangoModelFactory):
    """An approved merchant whose owner has the merchant role."""

    class Meta:
        model = Merchant

    owner = factory.SubFactory(UserFactory, role=Role.MERCHANT)
    name = factory.Sequence(lambda n: f"Merchant {n}")
    description = "Rooms and riddles."
    city = "Lisbon"
    timezone = "Europe/Lisbon"
    status = MerchantStatus.APPROVED
    approved_at = factory.LazyFunction(dj_timezone.now)
    # No emails to the merchant unless a test asks (bookings/tests/test_merchant_notifications.py):
    # the tests of customer emails count only those.
    booking_emails = BookingEmails.OFF
    daily_schedule_email = False


class PendingMerchantFactory(MerchantFactory):
    owner = factory.SubFactory(UserFactory)
    status = MerchantStatus.PENDING
    approved_at = None
