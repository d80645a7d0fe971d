"""Calendar feeds (iCalendar, RFC 5545) for subscribed calendars: a merchant's slots, a customer's bookings.

- The merchant's feed: the slots of the last FEED_PAST_DAYS days and the
  upcoming ones (up to FEED_MAX_EVENTS), one event per slot (UID
  `slot-<id>@bookwise`, stable), SUMMARY "Theme (n booked)", DESCRIPTION
  listing who is booked (name, party size, status), LOCATION the theme's
  venue. A cancelled slot stays in the feed with STATUS:CANCELLED, so a
  calendar that showed it removes it.
- A customer's feed: one event per confirmed or attended booking (UID
  `booking-<id>@bookwise`, the one the confirmation email's .ics uses, with
  its SEQUENCE), party size, venue and a link to the booking.

Times are UTC (`Z`); escaping and line folding are bookings.ics's. The tokens
that open these feeds belong to merchants.feeds and accounts.feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from bookings.ics import CalendarEvent, calendar
from bookings.models import Booking, BookingStatus
from bookwise.emails import absolute_url
from catalog.models import Slot, SlotStatus
from merchants.models import Merchant

FEED_PAST_DAYS = 7
CUSTOMER_FEED_PAST_DAYS = 30
FEED_MAX_EVENTS = 2000
# Who a merchant's feed lists under a slot: the customers holding a paid or attended place.
FEED_BOOKING_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW)
CUSTOMER_FEED_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.ATTENDED)


def merchant_feed_slots(*, merchant: Merchant, now: datetime | None = None) -> QuerySet[Slot]:
    """The merchant's slots for its feed, soonest first, with theme and booked customers (two queries)."""
    now = now or timezone.now()
    booked = (
        Booking.objects.filter(status__in=FEED_BOOKING_STATUSES).select_related("customer").order_by("created_at", "id")
    )
    return (
        Slot.objects.filter(theme__merchant=merchant, starts_at__gte=now - timedelta(days=FEED_PAST_DAYS))
        .select_related("theme", "theme__merchant")
        .prefetch_related(Prefetch("bookings", queryset=booked, to_attr="feed_bookings"))
        .order_by("starts_at", "id")[:FEED_MAX_EVENTS]
    )


def customer_feed_bookings(*, user: User, now: datetime | None = None) -> QuerySet[Booking]:
    """The user's confirmed and attended bookings of the last CUSTOMER_FEED_PAST_DAYS days and ahead."""
    now = now or timezone.now()
    return (
        Booking.objects.filter(
            customer=user,
            status__in=CUSTOMER_FEED_STATUSES,
            slot__starts_at__gte=now - timedelta(days=CUSTOMER_FEED_PAST_DAYS),
        )
        .select_related("slot", "slot__theme", "slot__theme__merchant")
        .order_by("slot__starts_at", "id")[:FEED_MAX_EVENTS]
    )


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


@dataclass(frozen=True)
class Feed:
    body: str
    events: int


def merchant_feed(*, merchant: Merchant, now: datetime | None = None) -> Feed:
    """The merchant's feed as iCalendar text."""
    now = now or timezone.now()
    events = []
    for slot in merchant_feed_slots(merchant=merchant, now=now):
        theme = slot.theme
        booked: list[Booking] = getattr(slot, "feed_bookings", [])
        seats = sum(b.party_size for b in booked)
        lines = [f"{seats} of {slot.capacity} places booked."]
        if slot.status == SlotStatus.CANCELLED:
            lines = ["This slot was cancelled."]
        for booking in booked:
            name = booking.customer.full_name or booking.customer.email
            lines.append(f"- {name}, {_people(booking.party_size)}, {booking.get_status_display().lower()}")
        lines.append(f"Participants: {absolute_url(reverse('merchant:slot-participants', args=[slot.pk]))}")
        events.append(
            CalendarEvent(
                uid=f"slot-{slot.pk}@bookwise",
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                summary=f"{theme.title} ({seats} booked)",
                location=theme.venue.one_line,
                description="\n".join(lines),
                url=absolute_url(reverse("merchant:slot-participants", args=[slot.pk])),
                status="CANCELLED" if slot.status == SlotStatus.CANCELLED else "CONFIRMED",
            )
        )
    return Feed(body=calendar(events, stamp=now, name=f"{merchant.name} (BookWise)"), events=len(events))


def customer_feed(*, user: User, now: datetime | None = None) -> Feed:
    """The customer's confirmed bookings as iCalendar text."""
    now = now or timezone.now()
    events = []
    bookings_url = absolute_url(reverse("portal:my-bookings"))
    for booking in customer_feed_bookings(user=user, now=now):
        slot = booking.slot
        theme = slot.theme
        link = f"{bookings_url}#booking-{booking.pk}"
        events.append(
            CalendarEvent(
                uid=f"booking-{booking.pk}@bookwise",
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                summary=theme.title,
                location=theme.venue.one_line,
                description=(
                    f"BookWise booking #{booking.pk} for {_people(booking.party_size)} with {theme.merchant.name}.\n"
                    f"Your booking: {link}"
                ),
                url=link,
                sequence=booking.ics_sequence,
            )
        )
    return Feed(body=calendar(events, stamp=now, name="My BookWise bookings"), events=len(events))
