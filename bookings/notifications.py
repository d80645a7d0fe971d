"""Booking emails: confirmed (with the slot as an .ics attachment), and what every booking email shows.

Called by bookings.tasks after commit; each email goes out at most once per
booking (bookwise.emails.send_email_once). Times are shown in the merchant's
timezone with the zone's name. The cancellation email also tells the refund
(payments), so it lives in checkout.notifications and builds on
`booking_for_email` and `booking_email_context` here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from bookings.ics import CalendarEvent, calendar
from bookings.models import SETTLED_HOLDING_STATUSES, Booking
from bookings.policy import booking_cancellation_policy
from bookwise.emails import Attachment, absolute_url, local_time_range, send_email_once
from bookwise.models import EmailKind
from catalog.models import SlotStatus


def booking_for_email(booking_id: int) -> Booking | None:
    """The booking with what its emails show (slot, theme, merchant, customer), or None."""
    return Booking.objects.select_related("slot__theme__merchant", "customer").filter(pk=booking_id).first()


def booking_email_context(booking: Booking) -> dict[str, Any]:
    """The template context every booking email shares."""
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
    """The booking's slot as an iCalendar event (UID `booking-<id>@bookwise`, SEQUENCE = `ics_sequence`).

    A rescheduled booking (ics_sequence > 0) is sent as METHOD:REQUEST with the
    same UID and the higher SEQUENCE, so calendars move the event they hold
    instead of adding a second one.
    """
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
        sequence=booking.ics_sequence,
    )
    method = "REQUEST" if booking.ics_sequence else "PUBLISH"
    return calendar([event], stamp=stamp or timezone.now(), method=method)


def send_booking_confirmed_email(*, booking_id: int) -> bool:
    """To the customer, with the .ics. Nothing when the booking is no longer confirmed (cancelled since)."""
    booking = booking_for_email(booking_id)
    if booking is None or booking.status not in SETTLED_HOLDING_STATUSES:
        return False
    return send_email_once(
        kind=EmailKind.BOOKING_CONFIRMED,
        # Once per booking, and once more after each reschedule (the new time, the new .ics).
        key=f"{booking.pk}-{booking.ics_sequence}" if booking.ics_sequence else booking.pk,
        to=booking.customer.email,
        template="booking_confirmed",
        # The policy as it stood when the booking was confirmed: "Free cancellation until ..." or no refund.
        context={
            **booking_email_context(booking),
            "cancellation_policy": booking_cancellation_policy(booking, now=booking.confirmed_at or timezone.now()),
            "rescheduled": booking.ics_sequence > 0,
        },
        attachments=[Attachment(f"booking-{booking.pk}.ics", booking_ics(booking), "text/calendar")],
    )


def send_slot_guaranteed_email(*, booking_id: int) -> bool:
    """To the customer: their slot reached its theme's minimum players and will run (bookings.services).

    Nothing when the booking no longer holds seats or the slot was cancelled since.
    """
    booking = booking_for_email(booking_id)
    if (
        booking is None
        or booking.status not in SETTLED_HOLDING_STATUSES
        or booking.slot.status != SlotStatus.OPEN
        or booking.slot.guaranteed_at is None
    ):
        return False
    return send_email_once(
        kind=EmailKind.SLOT_GUARANTEED,
        key=booking.pk,
        to=booking.customer.email,
        template="slot_guaranteed",
        context=booking_email_context(booking),
    )
