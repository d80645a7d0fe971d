from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class EmailKind(models.TextChoices):
    BOOKING_CONFIRMED = "booking_confirmed", "Booking confirmed"
    BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
    MERCHANT_APPROVED = "merchant_approved", "Merchant approved"
    PASSWORD_RESET = "password_reset", "Password reset"


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
