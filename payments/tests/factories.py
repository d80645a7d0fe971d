import factory

from bookings.tests.factories import BookingFactory
from payments.models import Payment, PaymentStatus, Refund, RefundStatus


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment row written directly (no Stripe): an intent waiting for the card by default."""

    class Meta:
        model = Payment

    booking = factory.SubFactory(BookingFactory)
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_factory_{n:08d}")
    client_secret = factory.LazyAttribute(lambda o: f"{o.stripe_payment_intent_id}_secret_factory")
    amount = factory.LazyAttribute(lambda o: o.booking.amount)
    currency = factory.LazyAttribute(lambda o: o.booking.currency)
    status = PaymentStatus.REQUIRES_PAYMENT
    idempotency_key = factory.LazyAttribute(lambda o: f"booking-{o.booking.pk}-intent")


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory, status=PaymentStatus.SUCCEEDED)
    amount = factory.LazyAttribute(lambda o: o.payment.amount)
    reason = "customer_cancel"
    status = RefundStatus.PENDING
    idempotency_key = factory.LazyAttribute(lambda o: f"booking-{o.payment.booking_id}-refund")
