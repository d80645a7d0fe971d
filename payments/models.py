from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking
from bookwise.models import TimeStampedModel
from merchants.models import Merchant


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
    stripe_charge_id = models.CharField(
        max_length=255, blank=True, help_text="The intent's charge once it succeeded: the source of the transfer."
    )
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
        indexes = [
            # The refund re-read (payments.selectors.refund_ids_to_reconcile): the few still pending, oldest first.
            models.Index(fields=["updated_at", "id"], condition=Q(status="pending"), name="refund_pending_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} of {self.payment_id} ({self.status})"


# --- Payouts: Stripe Connect (Express), the ledger, transfers, disputes -------------------------


class ConnectedAccountStatus(models.TextChoices):
    # No row at all is "none": the merchant has not started payouts.
    PENDING = "pending", "Pending: onboarding not finished"
    ENABLED = "enabled", "Enabled: payouts are sent"
    RESTRICTED = "restricted", "Restricted: Stripe needs more information"


class ConnectedAccount(TimeStampedModel):
    """A merchant's Stripe Express account, created once by onboarding and kept current by `account.updated`."""

    merchant = models.OneToOneField(Merchant, on_delete=models.PROTECT, related_name="connected_account")
    stripe_account_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(
        max_length=20, choices=ConnectedAccountStatus.choices, default=ConnectedAccountStatus.PENDING
    )
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    requirements_due = ArrayField(
        models.CharField(max_length=255),
        default=list,
        blank=True,
        help_text="Stripe's requirements currently or past due (e.g. external_account).",
    )
    disabled_reason = models.CharField(max_length=255, blank=True)
    payouts_enabled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.stripe_account_id} ({self.status})"


class LedgerKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    FEE = "fee", "Platform fee"
    REFUND = "refund", "Refund"
    TRANSFER = "transfer", "Transfer"
    TRANSFER_REVERSAL = "transfer_reversal", "Transfer reversal"


class LedgerEntry(models.Model):
    """One movement of a merchant's money. Append-only: a database trigger refuses UPDATE and DELETE.

    `amount` is signed, in minor units of `currency`, seen from the merchant:
    a charge adds what the customer paid (+), the fee and a refund take away
    (-; a refund gives back its share of the fee as a positive fee entry), a
    transfer moves money out of "owed" (-) and its reversal back (+). What the
    platform owes a merchant in a currency is the sum of its entries; every
    balance is such a sum, never a stored counter. `key` makes each write
    idempotent (e.g. "charge:payment:12", "refund:34", "transfer:56").
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="ledger_entries")
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    key = models.CharField(max_length=255, unique=True)
    stripe_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["merchant", "currency", "kind"], name="ledger_merchant_currency_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} (booking {self.booking_id})"


class TransferStatus(models.TextChoices):
    PENDING = "pending", "Pending: recorded, not yet at Stripe"
    PAID = "paid", "Paid: the Stripe Transfer exists"
    FAILED = "failed", "Failed: Stripe refused it (retry from admin)"
    REVERSED = "reversed", "Reversed"


class Transfer(TimeStampedModel):
    """The one transfer of a booking's net to its merchant's connected account (`transfer_group` = the booking)."""

    booking = models.OneToOneField(Booking, on_delete=models.PROTECT, related_name="transfer")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="transfers")
    account = models.ForeignKey(ConnectedAccount, on_delete=models.PROTECT, related_name="transfers")
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    stripe_transfer_id = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    transferred_at = models.DateTimeField(null=True, blank=True)
    stripe_reversal_id = models.CharField(max_length=255, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_transfer_id"], condition=~Q(stripe_transfer_id=""), name="transfer_stripe_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="transfer_status_updated_idx")]

    def __str__(self) -> str:
        return self.stripe_transfer_id or f"Transfer {self.pk} ({self.status})"


class Dispute(TimeStampedModel):
    """A chargeback on a payment (`charge.dispute.*`); `status` is Stripe's (needs_response ... won, lost)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=40)
    closed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.stripe_dispute_id} ({self.status})"
