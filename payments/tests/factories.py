import factory
from django.utils import timezone

from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from merchants.tests.factories import MerchantFactory
from payments.models import (
    ConnectedAccount,
    ConnectedAccountStatus,
    Dispute,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    Transfer,
    TransferStatus,
)


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


class SucceededPaymentFactory(PaymentFactory):
    """A paid, confirmed booking (written directly: no Stripe, no ledger; record the charge with payments.ledger)."""

    booking = factory.SubFactory(ConfirmedBookingFactory)
    status = PaymentStatus.SUCCEEDED
    succeeded_at = factory.LazyFunction(timezone.now)
    stripe_charge_id = factory.Sequence(lambda n: f"ch_factory_{n:08d}")


class ConnectedAccountFactory(factory.django.DjangoModelFactory):
    """A merchant's connected account, enabled (payouts on) by default."""

    class Meta:
        model = ConnectedAccount

    merchant = factory.SubFactory(MerchantFactory)
    stripe_account_id = factory.Sequence(lambda n: f"acct_factory{n:08d}")
    status = ConnectedAccountStatus.ENABLED
    charges_enabled = True
    payouts_enabled = True
    details_submitted = True
    payouts_enabled_at = factory.LazyFunction(timezone.now)


class PendingConnectedAccountFactory(ConnectedAccountFactory):
    status = ConnectedAccountStatus.PENDING
    charges_enabled = False
    payouts_enabled = False
    details_submitted = False
    payouts_enabled_at = None
    requirements_due = factory.LazyFunction(lambda: ["external_account"])


class TransferFactory(factory.django.DjangoModelFactory):
    """A pending transfer of a paid booking to its merchant's account (no ledger entry)."""

    class Meta:
        model = Transfer

    booking = factory.SubFactory(ConfirmedBookingFactory)
    merchant = factory.LazyAttribute(lambda o: o.booking.slot.theme.merchant)
    account = factory.LazyAttribute(
        lambda o: (
            ConnectedAccount.objects.filter(merchant=o.merchant).first() or ConnectedAccountFactory(merchant=o.merchant)
        )
    )
    amount = factory.LazyAttribute(lambda o: o.booking.amount)
    currency = factory.LazyAttribute(lambda o: o.booking.currency)
    status = TransferStatus.PENDING
    idempotency_key = factory.LazyAttribute(lambda o: f"transfer-booking-{o.booking.pk}")


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    payment = factory.SubFactory(SucceededPaymentFactory)
    stripe_dispute_id = factory.Sequence(lambda n: f"dp_factory_{n:08d}")
    amount = factory.LazyAttribute(lambda o: o.payment.amount)
    currency = factory.LazyAttribute(lambda o: o.payment.currency)
    reason = "fraudulent"
    status = "needs_response"
