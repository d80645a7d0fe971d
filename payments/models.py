from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from bookings.models import Booking
from bookwise.models import TimeStampedModel


class PaymentStatus(models.TextChoices):
    # The row exists (it is the arbiter of "one intent per booking") but the
    # PaymentIntent has not been created at Stripe yet, or that call failed.
    CREATING = "creating", "Creating"
    REQUIRES_PAYMENT = "requires_payment", "Requires payment"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    REFUNDED = "refunded", "Refunded"


class Payment(TimeStampedModel):
    """The one Stripe PaymentIntent of a booking."""

    booking = models.OneToOneField(Booking, on_delete=models.PROTECT, related_name="payment")
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, help_text="Empty while creating.")
    client_secret = models.CharField(max_length=255, blank=True)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.REQUIRES_PAYMENT)
    idempotency_key = models.CharField(max_length=255, unique=True, help_text="Sent to Stripe on every write.")
    client_idempotency_key = models.CharField(max_length=255, blank=True, help_text="The API client's header.")
    last_error = models.TextField(blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    # Card testing: failed card attempts on this intent, each counted once
    # however many times it is reported (the confirm answer and the webhook).
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    failure_keys = ArrayField(
        models.CharField(max_length=255),
        default=list,
        blank=True,
        help_text="Stripe ids of the counted failures (charge:<id>, or pm:<id>:<code> when no charge was made).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_payment_intent_id"],
                condition=~Q(stripe_payment_intent_id=""),
                name="payment_stripe_intent_id_unique",
            ),
            models.UniqueConstraint(
                fields=["client_idempotency_key"],
                condition=~Q(client_idempotency_key=""),
                name="payment_client_idempotency_key_unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="payment_status_updated_idx")]

    def __str__(self) -> str:
        return self.stripe_payment_intent_id or f"Payment {self.pk} (creating)"


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Refund(TimeStampedModel):
    """A refund of a payment, requested by a cancel or by a late payment."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    amount = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    idempotency_key = models.CharField(max_length=255, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_refund_id"], condition=~Q(stripe_refund_id=""), name="refund_stripe_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} of {self.payment_id} ({self.status})"
