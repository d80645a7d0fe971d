"""Telling merchants about their bookings: one email per event, an hourly digest, tomorrow's schedule.

Each new confirmed booking and each cancellation writes a `MerchantBookingNotice`
in the transaction that made the change (`merchant_notice_record`, called by
bookings.services), following the merchant's `booking_emails` choice:

- ``each``: the notice is sent alone by a task queued through bookwise.outbox;
- ``hourly``: it waits for `send_booking_digests` (Celery beat, hourly), which
  sends one email per merchant listing every notice not yet reported;
- ``off``: no notice is written.

A notice is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` and marked sent
in the transaction that sends its email, so two digest runs (two beat
instances, a rerun) never report one event twice: the second run skips the
rows the first holds and finds them sent afterwards. Only notice rows (and the
EmailLog row) are locked while the mail backend talks to SMTP, never a
booking or slot.

The daily schedule (`send_daily_schedules`, hourly beat) goes to each merchant
with `daily_schedule_email` once local time has passed
MERCHANT_SCHEDULE_EMAIL_HOUR, once per local day (send_email_once keyed by
merchant and date), listing tomorrow's slots in the merchant's timezone and
who is coming.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bookings.models import (
    CANCEL_REASON_MINIMUM_NOT_REACHED,
    CANCEL_REASON_SLOT_CANCELLED,
    SETTLED_HOLDING_STATUSES,
    Booking,
    MerchantBookingEvent,
    MerchantBookingNotice,
)
from bookings.selectors import holding_q
from bookwise import outbox
from bookwise.emails import absolute_url, local_time_range, send_email_once
from bookwise.models import EmailKind, EmailLog
from bookwise.timezones import local_day_bounds
from bookwise.transactions import require_atomic
from catalog.models import Slot, SlotStatus
from merchants.models import BookingEmails, Merchant, MerchantStatus

logger = logging.getLogger(__name__)

SEND_NOTICE_TASK = "bookings.tasks.send_merchant_booking_notice"
DIGEST_MAX_ROWS = 500  # per email; what is left goes into the next digest


def merchant_notice_record(*, booking_id: int, event: str, by=None, reason: str = "") -> MerchantBookingNotice | None:
    """Note that the merchant is to hear about this booking event. Caller holds the booking row lock.

    Nothing for merchants who chose no booking emails, nor for cancellations the
    merchant made (one booking, or a whole slot): they know.
    """
    require_atomic()
    row = (
        Booking.objects.filter(pk=booking_id)
        .values("slot__theme__merchant_id", "slot__theme__merchant__booking_emails", "slot__theme__merchant__owner_id")
        .first()
    )
    if row is None or row["slot__theme__merchant__booking_emails"] == BookingEmails.OFF:
        return None
    if event == MerchantBookingEvent.CANCELLED and (
        # The merchant's own cancels, and a slot below its minimum (one email for the slot, checkout.notifications).
        reason in (CANCEL_REASON_SLOT_CANCELLED, CANCEL_REASON_MINIMUM_NOT_REACHED)
        or getattr(by, "pk", None) == row["slot__theme__merchant__owner_id"]
    ):
        return None
    if MerchantBookingNotice.objects.filter(booking_id=booking_id, event=event).exists():
        return None
    digest = row["slot__theme__merchant__booking_emails"] == BookingEmails.HOURLY
    notice = MerchantBookingNotice.objects.create(
        merchant_id=row["slot__theme__merchant_id"], booking_id=booking_id, event=event, digest=digest
    )
    if not digest:
        outbox.enqueue(SEND_NOTICE_TASK, notice.pk)
    return notice


# --- Rendering ------------------------------------------------------------------------------------


@dataclass
class NoticeLine:
    """One booking event as the merchant reads it."""

    event: str
    booking: Booking
    customer_name: str
    when: str
    payment: str  # "paid", "held", "free"
    participants_url: str


def _payment_state(booking: Booking) -> str:
    """ "free", "paid" (confirmed once, so paid; a cancelled one was refunded) or "held" (not paid yet)."""
    if booking.amount == 0:
        return "free"
    return "paid" if booking.confirmed_at else "held"


def _line(notice: MerchantBookingNotice) -> NoticeLine:
    booking = notice.booking
    slot = booking.slot
    return NoticeLine(
        event=notice.event,
        booking=booking,
        customer_name=booking.customer.full_name or booking.customer.email,
        when=local_time_range(slot.starts_at, slot.ends_at, slot.theme.merchant.timezone),
        payment=_payment_state(booking),
        participants_url=absolute_url(reverse("merchant:slot-participants", args=[slot.pk])),
    )


def _notices():
    return MerchantBookingNotice.objects.select_related(
        "booking__customer", "booking__slot__theme__merchant__owner"
    ).select_for_update(of=("self",), skip_locked=True)


def _merchant_context(merchant: Merchant) -> dict[str, Any]:
    owner = merchant.owner
    return {
        "merchant": merchant,
        "owner_name": owner.full_name or owner.email,
        "portal_url": absolute_url(reverse("merchant:home")),
        "settings_url": absolute_url(reverse("merchant:settings")),
    }


# --- One email per event ------------------------------------------------------------------------


def send_booking_notice_email(*, notice_id: int, now: datetime | None = None) -> bool:
    """Send one notice that waits for no digest. Idempotent: a sent (or claimed) notice sends nothing."""
    with transaction.atomic():
        notice = _notices().filter(pk=notice_id, sent_at__isnull=True, digest=False).first()
        if notice is None:
            return False
        merchant = notice.booking.slot.theme.merchant
        sent = False
        if merchant.status == MerchantStatus.APPROVED and merchant.booking_emails != BookingEmails.OFF:
            line = _line(notice)
            sent = send_email_once(
                kind=EmailKind.MERCHANT_BOOKING,
                key=f"{notice.booking_id}:{notice.event}",
                to=merchant.owner.email,
                template="merchant_booking_notice",
                context={**_merchant_context(merchant), "line": line, "theme": notice.booking.slot.theme},
            )
        notice.sent_at = now or timezone.now()
        notice.save(update_fields=["sent_at"])
    return sent


def send_booking_rescheduled_email(*, booking_id: int, sequence: int, from_slot_id: int, refund: int = 0) -> bool:
    """Tell the merchant a customer moved a confirmed booking (checkout.services.booking_reschedule).

    Sent at once whatever the merchant's `booking_emails` choice, except ``off``
    (the hourly digest lists new bookings and cancellations; a move changes
    who comes when). One email per move (keyed by the booking's ics_sequence);
    nothing when the booking moved again or was cancelled since. `refund`: the
    price difference refunded by the move, in minor units.
    """
    booking = (
        Booking.objects.select_related("customer", "slot__theme__merchant__owner")
        .filter(pk=booking_id, ics_sequence=sequence)
        .first()
    )
    from_slot = Slot.objects.filter(pk=from_slot_id).first()
    if booking is None or from_slot is None or booking.status not in SETTLED_HOLDING_STATUSES:
        return False
    merchant = booking.slot.theme.merchant
    if merchant.status != MerchantStatus.APPROVED or merchant.booking_emails == BookingEmails.OFF:
        return False
    slot = booking.slot
    return send_email_once(
        kind=EmailKind.MERCHANT_BOOKING,
        key=f"{booking.pk}:rescheduled:{sequence}",
        to=merchant.owner.email,
        template="merchant_booking_rescheduled",
        context={
            **_merchant_context(merchant),
            "booking": booking,
            "theme": slot.theme,
            "customer_name": booking.customer.full_name or booking.customer.email,
            "when": local_time_range(slot.starts_at, slot.ends_at, merchant.timezone),
            "from_when": local_time_range(from_slot.starts_at, from_slot.ends_at, merchant.timezone),
            "refund": refund,
            "participants_url": absolute_url(reverse("merchant:slot-participants", args=[slot.pk])),
        },
    )


# --- The hourly digest --------------------------------------------------------------------------


def send_booking_digests(*, now: datetime | None = None) -> int:
    """One email per merchant listing its unreported digest notices. Safe to run twice and concurrently.

    Returns how many digests were sent.
    """
    now = now or timezone.now()
    merchant_ids = list(
        MerchantBookingNotice.objects.filter(sent_at__isnull=True, digest=True, created_at__lte=now)
        .order_by()
        .values_list("merchant_id", flat=True)
        .distinct()
    )
    sent = 0
    for merchant_id in sorted(merchant_ids):
        try:
            sent += _send_digest(merchant_id=merchant_id, now=now)
        except Exception:
            # One merchant's failure (SMTP refused the address) must not hold back the others;
            # its notices stay unsent for the next run.
            logger.exception("booking digest for merchant %s failed", merchant_id)
    return sent


def _send_digest(*, merchant_id: int, now: datetime) -> bool:
    with transaction.atomic():
        notices = list(
            _notices()
            .filter(merchant_id=merchant_id, sent_at__isnull=True, digest=True, created_at__lte=now)
            .order_by("id")[:DIGEST_MAX_ROWS]
        )
        if not notices:
            return False  # none left, or another run holds them
        merchant = Merchant.objects.select_related("owner").get(pk=merchant_id)
        sent = False
        if merchant.status == MerchantStatus.APPROVED and merchant.booking_emails != BookingEmails.OFF:
            lines = [_line(n) for n in notices]
            sent = send_email_once(
                kind=EmailKind.MERCHANT_BOOKING_DIGEST,
                key=f"{merchant_id}:{notices[0].pk}-{notices[-1].pk}",
                to=merchant.owner.email,
                template="merchant_booking_digest",
                context={
                    **_merchant_context(merchant),
                    "lines": lines,
                    "confirmed_count": sum(1 for line in lines if line.event == MerchantBookingEvent.CONFIRMED),
                    "cancelled_count": sum(1 for line in lines if line.event == MerchantBookingEvent.CANCELLED),
                },
            )
        MerchantBookingNotice.objects.filter(pk__in=[n.pk for n in notices]).update(sent_at=now)
    return sent


# --- Tomorrow's schedule ------------------------------------------------------------------------


@dataclass
class ScheduleSlot:
    slot: Slot
    when: str
    bookings: list[Booking] = field(default_factory=list)

    @property
    def people(self) -> int:
        return sum(b.party_size for b in self.bookings)


def schedule_key(merchant_id: int, day) -> str:
    return f"{merchant_id}:{day.isoformat()}"


def merchant_schedule_for(*, merchant: Merchant, day, now: datetime | None = None) -> list[ScheduleSlot]:
    """The merchant's open slots on local `day`, each with the bookings holding seats (paid, free or held)."""
    now = now or timezone.now()
    start, end = local_day_bounds(day=day, tz=merchant.tzinfo)
    slots = list(
        Slot.objects.filter(theme__merchant=merchant, status=SlotStatus.OPEN, starts_at__gte=start, starts_at__lt=end)
        .select_related("theme")
        .order_by("starts_at", "id")
    )
    by_slot: dict[int, list[Booking]] = defaultdict(list)
    for booking in (
        Booking.objects.filter(holding_q(now), slot__in=slots).select_related("customer").order_by("created_at", "id")
    ):
        booking.payment_state = _payment_state(booking)
        by_slot[booking.slot_id].append(booking)
    return [
        ScheduleSlot(slot=s, when=local_time_range(s.starts_at, s.ends_at, merchant.timezone), bookings=by_slot[s.pk])
        for s in slots
    ]


def send_daily_schedules(*, now: datetime | None = None) -> int:
    """Tomorrow's schedule to each merchant whose local time has reached the sending hour. Safe to rerun.

    Runs hourly; a merchant gets at most one email per local day (the key is
    merchant and tomorrow's date), and none when tomorrow has no slots.
    """
    now = now or timezone.now()
    hour = settings.MERCHANT_SCHEDULE_EMAIL_HOUR
    zones = set(
        Merchant.objects.filter(status=MerchantStatus.APPROVED, daily_schedule_email=True)
        .order_by()
        .values_list("timezone", flat=True)
        .distinct()
    )
    due_zones = {}
    for name in zones:
        local = timezone.localtime(now, Merchant(timezone=name).tzinfo)
        if local.hour >= hour:
            due_zones[name] = local.date() + timedelta(days=1)
    if not due_zones:
        return 0
    merchants = list(
        Merchant.objects.filter(
            status=MerchantStatus.APPROVED, daily_schedule_email=True, timezone__in=list(due_zones)
        ).select_related("owner")
    )
    keys = {m.pk: schedule_key(m.pk, due_zones[m.timezone]) for m in merchants}
    done = set(
        EmailLog.objects.filter(kind=EmailKind.MERCHANT_SCHEDULE, key__in=list(keys.values())).values_list(
            "key", flat=True
        )
    )
    sent = 0
    for merchant in merchants:
        if keys[merchant.pk] in done:
            continue
        try:
            sent += send_schedule_email(merchant=merchant, day=due_zones[merchant.timezone], now=now)
        except Exception:
            logger.exception("daily schedule for merchant %s failed", merchant.pk)
    return sent


def send_schedule_email(*, merchant: Merchant, day, now: datetime | None = None) -> bool:
    schedule = merchant_schedule_for(merchant=merchant, day=day, now=now)
    if not schedule:
        return False
    return send_email_once(
        kind=EmailKind.MERCHANT_SCHEDULE,
        key=schedule_key(merchant.pk, day),
        to=merchant.owner.email,
        template="merchant_schedule",
        context={
            **_merchant_context(merchant),
            "day": day,
            "schedule": schedule,
            "people": sum(s.people for s in schedule),
        },
    )
