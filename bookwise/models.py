from __future__ import annotations

from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class EmailKind(models.TextChoices):
    BOOKING_CONFIRMED = "booking_confirmed", "Booking confirmed"
    BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
    BOOKING_REMINDER = "booking_reminder", "Reminder before a booking"
    MERCHANT_APPROVED = "merchant_approved", "Merchant approved"
    MERCHANT_BOOKING = "merchant_booking", "Merchant: a booking confirmed or cancelled"
    MERCHANT_BOOKING_DIGEST = "merchant_booking_digest", "Merchant: hourly bookings digest"
    MERCHANT_SCHEDULE = "merchant_schedule", "Merchant: tomorrow's schedule"
    MERCHANT_SUSPENDED = "merchant_suspended", "Merchant suspended"
    PASSWORD_RESET = "password_reset", "Password reset"
    PAYOUTS_ENABLED = "payouts_enabled", "Merchant: payouts enabled"
    PAYOUTS_RESTRICTED = "payouts_restricted", "Merchant: payouts account restricted"
    PAYOUTS_TRANSFERS = "payouts_transfers", "Merchant: daily transfers summary"
    REVIEW_REQUEST = "review_request", "How was it? (review request)"
    SLOT_GUARANTEED = "slot_guaranteed", "Slot guaranteed: it will run"
    SLOT_MINIMUM_NOT_REACHED = "slot_minimum_not_reached", "Merchant: slot cancelled, minimum not reached"
    WAITLIST_OFFER = "waitlist_offer", "Waitlist: a place opened up"


class EmailLog(models.Model):
    """One row per email sent: a retried or duplicated task finds its row and sends nothing.

    `key` names the event the email is about (a booking id, a merchant approval,
    one password-reset request); see bookwise.emails.send_email_once.
    """

    kind = models.CharField(max_length=32, choices=EmailKind.choices)
    key = models.CharField(max_length=100)
    recipient = models.EmailField(max_length=254)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="emaillog_kind_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} -> {self.recipient}"


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent (the broker took it)"
    DONE = "done", "Done (the task ran)"


class OutboxMessage(models.Model):
    """A Celery task to send once the transaction that wrote this row commits (bookwise.outbox).

    Written in the same transaction as the business change it follows, so the
    two commit or roll back together. Published by an after-commit hook and,
    whenever that failed (broker down), by the periodic sweeper; `available_at`
    is when the next attempt may happen (backoff, or a claim's lease). A row is
    `sent` once the broker took it and `done` once its task ran to the end; a row
    still `sent` after OUTBOX_REDELIVER_SECONDS (the broker lost it) is published
    again. Done rows are kept for OUTBOX_RETENTION_HOURS, then deleted by the sweeper.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    state = models.CharField(max_length=8, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    available_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweeper's claim: due pending rows, oldest first.
            models.Index(
                fields=["available_at", "id"],
                name="outbox_pending_due_idx",
                condition=models.Q(state="pending"),
            ),
            # Redelivery: rows the broker took long ago whose task never reported done.
            models.Index(fields=["sent_at"], name="outbox_sent_at_idx", condition=models.Q(state="sent")),
            # Retention: done rows older than the cut-off.
            models.Index(fields=["done_at"], name="outbox_done_at_idx", condition=models.Q(state="done")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state="pending", sent_at__isnull=True, done_at__isnull=True)
                | models.Q(state="sent", sent_at__isnull=False, done_at__isnull=True)
                | models.Q(state="done", sent_at__isnull=False, done_at__isnull=False),
                name="outbox_state_times",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)!r} ({self.state})"
