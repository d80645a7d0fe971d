"""The customer's cancellation email: who cancelled, and the refund (payments) if there is one.

Called by checkout.tasks.send_booking_cancelled after the cancel committed;
goes out at most once per booking (bookwise.emails.send_email_once). It reads
bookings and payments, so it lives here rather than in bookings.notifications,
whose shared booking context it reuses.
"""

from __future__ import annotations

import enum

from bookings.models import (
    CANCEL_REASON_MERCHANT_SUSPENDED,
    CANCEL_REASON_SLOT_CANCELLED,
    Booking,
    BookingStatus,
    BookingStatusChange,
)
from bookings.notifications import booking_email_context, booking_for_email
from bookwise.emails import send_email_once
from bookwise.models import EmailKind
from payments.models import Refund


class CancelledBy(enum.StrEnum):
    """Who cancelled, which picks the email's wording."""

    CUSTOMER = "customer"
    MERCHANT = "merchant"  # the merchant cancelled this one booking
    SLOT = "slot"  # the merchant cancelled the whole slot
    ADMIN = "admin"  # platform staff (or no one recorded)
    SUSPENDED = "suspended"  # platform staff suspended the merchant and cancelled its bookings


def cancelled_by(booking: Booking) -> CancelledBy:
    """Read from the audit row of the cancel (who and why), written by bookings.services.booking_cancel."""
    change = (
        BookingStatusChange.objects.filter(booking=booking, to_status=BookingStatus.CANCELLED)
        .select_related("changed_by")
        .order_by("-id")
        .first()
    )
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
    # checkout.services.booking_cancel_and_refund records the refund in the cancel's transaction, so it is here by now.
    refund = Refund.objects.filter(payment__booking_id=booking.pk).order_by("id").first()
    context = {**booking_email_context(booking), "cancelled_by": cancelled_by(booking).value, "refund": refund}
    return send_email_once(
        kind=EmailKind.BOOKING_CANCELLED,
        key=booking.pk,
        to=booking.customer.email,
        template="booking_cancelled",
        context=context,
    )
