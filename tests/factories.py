"""Factories for rows no app factory covers yet (payments), shared by the cross-app tests."""

import factory

from bookings.tests.factories import BookingFactory
from payments.models import Payment, Refund


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    booking = factory.SubFactory(BookingFactory)
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_test_{n}")
    client_secret = factory.LazyAttribute(lambda o: f"{o.stripe_payment_intent_id}_secret_x")
    amount = factory.LazyAttribute(lambda o: o.booking.amount)
    currency = factory.LazyAttribute(lambda o: o.booking.currency)
    idempotency_key = factory.Sequence(lambda n: f"intent-{n}")


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory)
    amount = factory.LazyAttribute(lambda o: o.payment.amount)
    reason = "requested_by_customer"
    idempotency_key = factory.Sequence(lambda n: f"refund-{n}")
