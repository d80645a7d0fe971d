from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from bookwise.models import TimeStampedModel
from catalog.models import Slot


class BookingStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Pending payment"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    ATTENDED = "attended", "Attended"
    NO_SHOW = "no_show", "No-show"


# Statuses whose party occupies seats. A pending_payment booking counts only
# while its hold has not run out (read-time rule, see bookings.selectors).
SEAT_HOLDING_STATUSES = (
    BookingStatus.PENDING_PAYMENT,
    BookingStatus.CONFIRMED,
    BookingStatus.ATTENDED,
    BookingStatus.NO_SHOW,
)
SETTLED_HOLDING_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW)

# The audit reason of the cancels made by checkout.services.slot_cancel_and_refund; the
# cancellation email reads it to tell the customer the merchant cancelled the slot.
CANCEL_REASON_SLOT_CANCELLED = "slot cancelled by the merchant"
# The audit reason of the cancels made when an admin suspends a merchant and cancels its bookings.
CANCEL_REASON_MERCHANT_SUSPENDED = "the merchant was suspended"
# The audit reason of the cancels made when a slot did not reach its theme's minimum players by the deadline
# (checkout.services.slots_cancel_below_minimum); the cancellation email reads it.
CANCEL_REASON_MINIMUM_NOT_REACHED = "minimum not reached"


class Booking(TimeStampedModel):
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings")
    party_size = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=BookingStatus.choices, default=BookingStatus.PENDING_PAYMENT)
    amount = models.PositiveBigIntegerField(
        help_text="What the customer pays, in minor units, after any discount (bookings/pricing.py)."
    )
    tickets = models.JSONField(default=list, blank=True, help_text='As joined: [{"tier": "adult", "quantity": 2}].')
    discount = models.PositiveBigIntegerField(default=0, help_text="Minor units taken off the price (promo codes).")
    refunded_amount = models.PositiveBigIntegerField(default=0, help_text="Minor units refunded so far.")
    ics_sequence = models.PositiveSmallIntegerField(
        default=0, help_text="The calendar invitation's SEQUENCE: one more at each reschedule."
    )
    currency = models.CharField(max_length=3)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When an unpaid hold releases its seats.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    promo_code = models.ForeignKey(
        "PromoCode",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bookings",
        help_text="The code that gave the discount; its redemption is given back if the hold ends unpaid.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(party_size__gt=0), name="booking_party_size_positive"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="booking_amount_non_negative"),
            models.CheckConstraint(
                condition=~Q(status=BookingStatus.PENDING_PAYMENT) | Q(expires_at__isnull=False),
                name="booking_pending_has_expiry",
            ),
            models.UniqueConstraint(
                fields=["customer", "slot"],
                condition=Q(status__in=SEAT_HOLDING_STATUSES),
                name="booking_one_active_per_customer_slot",
                violation_error_code="already_booked",
            ),
        ]
        indexes = [
            # A customer's bookings, newest first (cursor pagination).
            models.Index(fields=["customer", "-created_at", "-id"], name="booking_customer_recent_idx"),
            # Seats taken on a slot: an index-only sum over the holding bookings.
            models.Index(
                fields=["slot"],
                include=["party_size", "status", "expires_at"],
                condition=Q(status__in=SEAT_HOLDING_STATUSES),
                name="booking_slot_holding_idx",
            ),
            # A slot's bookings by status (participants, cancel a slot).
            models.Index(fields=["slot", "status"], name="booking_slot_status_idx"),
            # The expiry sweep and the unpaid-holds limit.
            models.Index(
                fields=["expires_at"], condition=Q(status="pending_payment"), name="booking_pending_expiry_idx"
            ),
            models.Index(
                fields=["customer"], condition=Q(status="pending_payment"), name="booking_customer_pending_idx"
            ),
            # The admin index's "created today" and "confirmed today" counts (bookwise.admin_dashboard).
            models.Index(fields=["created_at"], name="booking_created_idx"),
            models.Index(
                fields=["confirmed_at"], condition=Q(confirmed_at__isnull=False), name="booking_confirmed_at_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Booking {self.pk} ({self.status})"


class BookingStatusChange(models.Model):
    """Audit trail: every status move of a booking, who made it and why."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=BookingStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=BookingStatus.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["booking", "created_at"], name="booking_change_booking_idx")]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.booking_id}: {self.from_status or '-'} -> {self.to_status}"


class MerchantBookingEvent(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"


class MerchantBookingNotice(models.Model):
    """A booking event the merchant is to be told about (bookings.merchant_notifications).

    Written in the transaction that confirms or cancels the booking, so the event
    and the promise to report it commit together. `digest` rows wait for the
    hourly digest; the others are sent one by one. `sent_at` is set in the
    transaction that sends the email: each event is reported once.
    """

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="merchant_notices")
    event = models.CharField(max_length=16, choices=MerchantBookingEvent.choices)
    digest = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["booking", "event"], name="merchant_notice_one_per_booking_event"),
        ]
        indexes = [
            models.Index(
                fields=["merchant", "id"],
                condition=Q(sent_at__isnull=True, digest=True),
                name="merchant_notice_digest_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booking_id} {self.event} -> merchant {self.merchant_id}"


class PromoCode(TimeStampedModel):
    """A merchant's discount code (API.md "Promo codes"; the rules are in bookings/promo.py).

    `redemptions` counts the bookings created with the code that were not given back
    (a hold that expired or was cancelled unpaid gives its redemption back). The counter
    is moved only by conditional UPDATEs in bookings/promo.py, and the database refuses
    a row where it passes `max_redemptions`: exact under any concurrency.
    """

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="promo_codes")
    code = models.CharField(max_length=40, help_text="Case-insensitive, unique per merchant.")
    percent_off = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1-100; or an amount off.")
    amount_off = models.PositiveIntegerField(null=True, blank=True, help_text="Minor units off the booking's price.")
    currency = models.CharField(max_length=3, blank=True, help_text="The currency of amount_off.")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    redemptions = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    themes = models.ManyToManyField(
        "catalog.Theme", blank=True, related_name="promo_codes", help_text="Empty: every theme of the merchant."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "merchant",
                models.functions.Upper("code"),
                name="promo_code_unique_per_merchant_ci",
                violation_error_code="promo_code_exists",
                violation_error_message="You already have a promo code with this code.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(percent_off__isnull=False, amount_off__isnull=True, percent_off__gte=1, percent_off__lte=100)
                )
                | (Q(percent_off__isnull=True, amount_off__isnull=False, amount_off__gte=1) & ~Q(currency="")),
                name="promo_code_one_discount",
            ),
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True) | Q(redemptions__lte=models.F("max_redemptions")),
                name="promo_code_redemptions_within_max",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_to__isnull=True)
                | Q(valid_from__lt=models.F("valid_to")),
                name="promo_code_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Offered"
    BOOKED = "booked", "Booked"
    EXPIRED = "expired", "Offer expired"
    LEFT = "left", "Left the waitlist"
    CLOSED = "closed", "Slot closed"


# Entries still in the queue for a slot: one per customer and slot.
WAITLIST_ACTIVE_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(TimeStampedModel):
    """A customer's place in the queue for a full slot (API.md "Waitlist"; rules in bookings/waitlist.py).

    Offered in order of joining when seats free up: the offer is a normal
    pending_payment booking (`booking`) held WAITLIST_OFFER_MINUTES.
    """

    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="waitlist_entries")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries")
    party_size = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING)
    booking = models.OneToOneField(
        Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="waitlist_entry"
    )
    offered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(party_size__gt=0), name="waitlist_party_size_positive"),
            models.UniqueConstraint(
                fields=["customer", "slot"],
                condition=Q(status__in=WAITLIST_ACTIVE_STATUSES),
                name="waitlist_one_active_per_customer_slot",
                violation_error_code="already_waiting",
            ),
            models.CheckConstraint(
                condition=~Q(status=WaitlistStatus.OFFERED) | Q(booking__isnull=False),
                name="waitlist_offer_has_booking",
            ),
        ]
        indexes = [
            # A slot's queue in order of joining (offers, positions).
            models.Index(
                fields=["slot", "created_at", "id"],
                condition=Q(status="waiting"),
                name="waitlist_slot_queue_idx",
            ),
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Waitlist {self.pk}: slot {self.slot_id}, party {self.party_size} ({self.status})"


class BookingReminder(models.Model):
    """One reminder email about one booking (bookings/reminders.py): the row is the promise it is sent once.

    `kind` is "before:<hours>" for the reminders before the start, "review" for the
    "how was it?" email after an attended booking.
    """

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["booking", "kind"], name="booking_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.booking_id} {self.kind}"
