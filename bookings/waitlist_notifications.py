"""The waitlist's email: "A place opened up" with a link straight to the offer's checkout (bookings.waitlist).

Sent by bookings.tasks.send_waitlist_offer after the offer committed, once per
offer (bookwise.emails.send_email_once keyed by the offer's booking). Times in
the merchant's timezone. On a free theme the offer is already a confirmed
booking: the email says "you're in" (the usual confirmation, with its .ics,
goes out too).
"""

from __future__ import annotations

import zoneinfo

from django.urls import reverse
from django.utils import timezone

from bookings.models import SETTLED_HOLDING_STATUSES, BookingStatus, WaitlistEntry
from bookings.notifications import booking_email_context
from bookwise.emails import absolute_url, send_email_once
from bookwise.models import EmailKind

# EmailLog.kind of this email.
WAITLIST_OFFER_EMAIL_KIND = EmailKind.WAITLIST_OFFER


def send_waitlist_offer_email(*, entry_id: int) -> bool:
    """To the customer offered a place. Nothing when the offer is gone (paid, cancelled, expired) by now."""
    entry = (
        WaitlistEntry.objects.select_related("booking__slot__theme__merchant", "booking__customer")
        .filter(pk=entry_id)
        .first()
    )
    booking = entry.booking if entry is not None else None
    if booking is None:
        return False
    free = booking.amount == 0
    if free:
        if booking.status not in SETTLED_HOLDING_STATUSES:
            return False
    elif booking.status != BookingStatus.PENDING_PAYMENT or (
        booking.expires_at is not None and booking.expires_at <= timezone.now()
    ):
        return False
    merchant = booking.slot.theme.merchant
    hold_until = ""
    if booking.expires_at is not None:
        local = booking.expires_at.astimezone(zoneinfo.ZoneInfo(merchant.timezone))
        hold_until = f"{local:%H:%M} on {local:%A} {local.day} {local:%B} ({merchant.timezone})"
    return send_email_once(
        kind=WAITLIST_OFFER_EMAIL_KIND,
        key=booking.pk,
        to=booking.customer.email,
        template="waitlist_offer",
        context={
            **booking_email_context(booking),
            "free": free,
            "checkout_url": absolute_url(reverse("portal:checkout", args=[booking.pk])),
            "hold_until": hold_until,
        },
    )
