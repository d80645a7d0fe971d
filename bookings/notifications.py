"""Booking emails: confirmed (with the slot as an .ics attachment) and cancelled.

Called by bookings.tasks after commit; each email goes out at most once per
booking (bookwise.emails.send_email_once). Times are shown in the merchant's
timezone with the zone's name.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from bookings.ics import CalendarEvent, calendar
from bookings.models import (
    CANCEL_REASON_MERCHANT_SUSPENDED,
    CANCEL_REASON_SLOT_CANCELLED,
    SETTLED_HOLDING_STATUSES,
    Booking,
    BookingStatus,
    BookingStatusChange,
)
from bookings.policy import booking_cancellation_policy
from bookwise.emails import Attachment, absolute_url, local_time_range, send_email_once
from bookwise.models import EmailKind


class CancelledBy(enum.StrEnum):
    """Who cancelled, which picks the email's wording."""

    CUSTOMER = "customer"
    MERCHANT = "merchant"  # the merchant cancelled this one booking
    SLOT = "slot"  # the merchant cancelled the whole slot
    ADMIN = "admin"  # platform staff (or no one recorded)
    SUSPENDED = "suspended"  # platform staff suspended the merchant and cancelled its bookings


def _load(booking_id: int) -> Booking | None:
    return Booking.objects.select_related("slot__theme__merchant", "customer").filter(pk=booking_id).first()


def _context(booking: Booking) -> dict[str, Any]:
    slot = booking.slot
    theme = slot.theme
    merchant = theme.merchant
    return {
        "booking": booking,
        "customer_name": booking.customer.full_name or booking.customer.email,
        "theme": theme,
        "merchant": merchant,
        "when": local_time_range(slot.starts_at, slot.ends_at, merchant.timezone),
        "bookings_url": absolute_url(reverse("portal:my-bookings")),
        "theme_url": absolute_url(reverse("portal:theme-detail", args=[theme.pk])),
    }


def booking_ics(booking: Booking, *, stamp: datetime | None = None) -> str:
    """The booking's slot as an iCalendar event (UID `booking-<id>@bookwise`)."""
    slot = booking.slot
    theme = slot.theme
    merchant = theme.merchant
    people = "1 person" if booking.party_size == 1 else f"{booking.party_size} people"
    event = CalendarEvent(
        uid=f"booking-{booking.pk}@bookwise",
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        summary=theme.title,
        location=theme.venue.one_line,  # the theme's venue, else the merchant's address (catalog.venue)
        description=(
            f"BookWise booking #{booking.pk} for {people} with {merchant.name}.\n"
            f"Your bookings: {absolute_url(reverse('portal:my-bookings'))}"
        ),
        url=absolute_url(reverse("portal:theme-detail", args=[theme.pk])),
    )
    return calendar([event], stamp=stamp or timezone.now())


def send_booking_confirmed_email(*, booking_id: int) -> bool:
    """To the customer, with the .ics. Nothing when the booking is no longer confirmed (cancelled since)."""
    booking = _load(booking_id)
    if booking is None or booking.status not in SETTLED_HOLDING_STATUSES:
        return False
    return send_email_once(
        kind=EmailKind.BOOKING_CONFIRMED,
        key=booking.pk,
        to=booking.customer.email,
        template="booking_confirmed",
        # The policy as it stood when the booking was confirmed: "Free cancellation until ..." or no refund.
        context={
            **_context(booking),
            "cancellation_policy": booking_cancellation_policy(booking, now=booking.confirmed_at or timezone.now()),
        },
        attachments=[Attachment(f"booking-{booking.pk}.ics", booking_ics(booking), "text/calendar")],
    )


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
    from payments.models import Refund

    booking = _load(booking_id)
    if booking is None or booking.status != BookingStatus.CANCELLED:
        return False
    # booking_cancel records the refund in its own transaction, so it is here by now.
    refund = Refund.objects.filter(payment__booking_id=booking.pk).order_by("id").first()
    context = {**_context(booking), "cancelled_by": cancelled_by(booking).value, "refund": refund}
    return send_email_once(
        kind=EmailKind.BOOKING_CANCELLED,
        key=booking.pk,
        to=booking.customer.email,
        template="booking_cancelled",
        context=context,
    )
