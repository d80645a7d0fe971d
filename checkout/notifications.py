"""The customer's cancellation email (who cancelled, the refund if any); the merchant's for a slot below minimum.

Called by checkout.tasks.send_booking_cancelled after the cancel committed;
goes out at most once per booking (bookwise.emails.send_email_once). It reads
bookings and payments, so it lives here rather than in bookings.notifications,
whose shared booking context it reuses.
"""

from __future__ import annotations

import enum

from django.urls import reverse

from bookings.models import (
    CANCEL_REASON_MERCHANT_SUSPENDED,
    CANCEL_REASON_MINIMUM_NOT_REACHED,
    CANCEL_REASON_SLOT_CANCELLED,
    Booking,
    BookingStatus,
    BookingStatusChange,
)
from bookings.notifications import booking_email_context, booking_for_email
from bookwise.emails import absolute_url, local_time_range, send_email_once
from bookwise.models import EmailKind
from catalog.models import Slot, SlotStatus
from payments.models import Payment, PaymentStatus, Refund
from payments.services import refund_idempotency_key


class CancelledBy(enum.StrEnum):
    """Who cancelled, which picks the email's wording."""

    CUSTOMER = "customer"
    MERCHANT = "merchant"  # the merchant cancelled this one booking
    SLOT = "slot"  # the merchant cancelled the whole slot
    ADMIN = "admin"  # platform staff (or no one recorded)
    SUSPENDED = "suspended"  # platform staff suspended the merchant and cancelled its bookings
    MINIMUM = "minimum"  # the slot did not reach its theme's minimum players by the deadline (no user)


def cancelled_by(booking: Booking) -> CancelledBy:
    """Read from the audit row of the cancel (who and why), written by bookings.services.booking_cancel."""
    change = (
        BookingStatusChange.objects.filter(booking=booking, to_status=BookingStatus.CANCELLED)
        .select_related("changed_by")
        .order_by("-id")
        .first()
    )
    if change is not None and change.reason == CANCEL_REASON_MINIMUM_NOT_REACHED:
        return CancelledBy.MINIMUM
    if change is None or change.changed_by is None:
        return CancelledBy.ADMIN
    if change.reason == CANCEL_REASON_MERCHANT_SUSPENDED:
        return CancelledBy.SUSPENDED
    if change.reason == CANCEL_REASON_SLOT_CANCELLED:
        return CancelledBy.SLOT
    if change.changed_by_id == booking.customer_id:
        return CancelledBy.CUSTOMER
    if change.changed_by_id == booking.slot.theme.merchant.owner_id:
        return CancelledBy.MERCHANT
    return CancelledBy.ADMIN


def send_booking_cancelled_email(*, booking_id: int) -> bool:
    """To the customer: who cancelled, and whether a refund was issued."""
    booking = booking_for_email(booking_id)
    if booking is None or booking.status != BookingStatus.CANCELLED:
        return False
    # checkout.services.booking_cancel_and_refund records the refund in the cancel's transaction, so it is here by now:
    # the booking's own refund key (a reschedule's price difference has another), for the policy's exact amount.
    refund = Refund.objects.filter(idempotency_key=refund_idempotency_key(booking.pk)).first()
    context = {
        **booking_email_context(booking),
        "cancelled_by": cancelled_by(booking).value,
        "refund": refund,
        "refund_partial": refund is not None and refund.amount < booking.amount,
        # A paid booking cancelled where the policy gives 0 %: the customer keeps nothing back.
        "payment_kept": refund is None
        and Payment.objects.filter(booking_id=booking.pk, status=PaymentStatus.SUCCEEDED).exists(),
    }
    return send_email_once(
        kind=EmailKind.BOOKING_CANCELLED,
        key=booking.pk,
        to=booking.customer.email,
        template="booking_cancelled",
        context=context,
    )


def send_slot_minimum_not_reached_email(*, slot_id: int) -> bool:
    """To the merchant: a slot was cancelled because it did not reach the theme's minimum players in time.

    Queued by checkout.services.slot_cancel_below_minimum; once per slot. The
    customers get their own cancellation emails (`send_booking_cancelled_email`).
    """
    slot = Slot.objects.select_related("theme__merchant__owner").filter(pk=slot_id).first()
    if slot is None or slot.status != SlotStatus.CANCELLED:
        return False
    theme = slot.theme
    merchant = theme.merchant
    owner = merchant.owner
    cancelled = BookingStatusChange.objects.filter(
        booking__slot_id=slot.pk, to_status=BookingStatus.CANCELLED, reason=CANCEL_REASON_MINIMUM_NOT_REACHED
    ).count()
    return send_email_once(
        kind=EmailKind.SLOT_MINIMUM_NOT_REACHED,
        key=slot.pk,
        to=owner.email,
        template="slot_minimum_not_reached",
        context={
            "owner_name": owner.full_name or owner.email,
            "merchant": merchant,
            "theme": theme,
            "when": local_time_range(slot.starts_at, slot.ends_at, merchant.timezone),
            "cancelled_bookings": cancelled,
            "slots_url": absolute_url(reverse("merchant:slot-list", args=[theme.pk])),
        },
    )
