"""Reminder emails before a booking's start, each sent once (issue 13).

A theme lists `reminder_offsets_hours` (default [24, 2]; catalog.services
validates them). A periodic sweep (`reminders_send_due`, Celery beat
`bookings.tasks.send_booking_reminders`) finds confirmed bookings of open slots
whose start minus an offset has passed and whose start has not, and for each:

- **claims** the reminder by inserting a `BookingReminder(booking, kind)` row with
  `INSERT ... ON CONFLICT DO NOTHING RETURNING`: the unique constraint
  (booking, kind) lets exactly one sweep win, even with two beat instances or
  two sweeps running at the same moment (the second waits on the first's index
  entry, then inserts nothing);
- **queues** the email (`bookwise.outbox.enqueue`) in the same transaction, so
  the claim and the promise to send commit together: a crash before the commit
  leaves neither, a crash after it leaves an outbox row that is delivered at
  least once;
- the task (`send_reminder_email`) re-reads the booking and sends nothing for a
  booking cancelled, expired or moved since, a customer who turned reminders
  off, or a start already passed; `send_email_once` keyed by (booking, kind)
  makes a re-run after a worker was killed mid-task send nothing twice.

Which offsets are sent: the nearest due one only, once per booking and sweep.
Larger due offsets are claimed as skipped, so they never go out later (a sweep
that was down a day sends the 2 h reminder, not the 24 h one first). An offset
whose moment had passed when the booking was confirmed is skipped too: booked
1 h before, no "tomorrow" email. A rescheduled booking (ics_sequence > 0) gets
its reminders again for its new time: its kinds carry the sequence
("before:24#1"), and a queued reminder of the old time is dropped.

The "how was it?" email after an attended booking needs the reviews app (skip
customers who already reviewed): it lives there (reviews/review_requests.py) and
claims its `BookingReminder(kind="review")` through `reminders_claim` here.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, BookingReminder, BookingStatus
from bookings.notifications import booking_email_context, booking_for_email, booking_ics
from bookwise import outbox
from bookwise.emails import Attachment, absolute_url, send_email_once
from bookwise.models import EmailKind
from bookwise.transactions import require_atomic
from catalog.limits import MAX_REMINDER_OFFSET_HOURS
from catalog.models import Slot, SlotStatus, Theme

logger = logging.getLogger(__name__)

SEND_REMINDER_TASK = "bookings.tasks.send_booking_reminder"
# EmailLog kind of the reminder emails: (kind, "<booking id>:<reminder kind>") is sent once.
REMINDER_EMAIL_KIND = EmailKind.BOOKING_REMINDER
KIND_BEFORE_PREFIX = "before:"
KIND_REVIEW = "review"
SWEEP_BATCH = 200
# Below this much time left the email says "in N hours"; above, the local day ("tomorrow at 18:30").
HOURS_WORDING_BELOW = timedelta(hours=12)


def reminder_kind(hours: int, sequence: int = 0) -> str:
    """`before:24`; for a booking moved `sequence` times, `before:24#2` (its new time gets its own reminders)."""
    return f"{KIND_BEFORE_PREFIX}{hours}" + (f"#{sequence}" if sequence else "")


def parse_reminder_kind(kind: str) -> tuple[int, int] | None:
    """(hours, sequence) of a `before:` kind, or None for any other kind."""
    if not kind.startswith(KIND_BEFORE_PREFIX):
        return None
    hours, _, sequence = kind.removeprefix(KIND_BEFORE_PREFIX).partition("#")
    if not hours.isdigit() or (sequence and not sequence.isdigit()):
        return None
    return int(hours), int(sequence or 0)


def reminders_claim(*, claims: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """Insert the (booking id, kind) rows that do not exist yet; the ones this call inserted.

    Two callers claiming the same row at once: the second waits for the first to
    commit and gets nothing. The caller queues its emails in this same
    transaction, so a claim never commits without its email.
    """
    require_atomic()
    rows = sorted(set(claims))
    if not rows:
        return set()
    table = BookingReminder._meta.db_table
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    params: list[Any] = []
    now = timezone.now()
    for booking_id, kind in rows:
        params += [booking_id, kind, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (booking_id, kind, created_at) VALUES {values} "  # noqa: S608 (names are ours)
            "ON CONFLICT (booking_id, kind) DO NOTHING RETURNING booking_id, kind",
            params,
        )
        return {(int(booking_id), str(kind)) for booking_id, kind in cursor.fetchall()}


@dataclass(frozen=True)
class _DueBooking:
    booking_id: int
    sequence: int
    starts_at: datetime
    confirmed_at: datetime
    due_hours: list[int]  # every offset whose moment has passed, claimed or not, smallest first
    unclaimed_hours: list[int]


# One row per confirmed booking of an open slot starting within the largest allowed offset, whose customer
# wants reminders and that has a due offset not yet claimed. Driven by the open slots' start index
# (slot_open_start_idx), then the bookings of each slot by status (booking_slot_status_idx); the claims are
# probed through the (booking, kind) unique index. Offsets that are not whole numbers 1..max (admin typos
# the services would refuse) are ignored rather than breaking the sweep.
_DUE_SQL = """
SELECT b.id, b.ics_sequence, s.starts_at, COALESCE(b.confirmed_at, b.created_at),
       array_agg(o.h ORDER BY o.h),
       array_agg(o.h ORDER BY o.h) FILTER (WHERE r.id IS NULL)
FROM {slot} s
JOIN {booking} b ON b.slot_id = s.id AND b.status = %(confirmed)s
JOIN {theme} t ON t.id = s.theme_id
JOIN {user} u ON u.id = b.customer_id AND u.reminder_emails AND u.is_active
CROSS JOIN LATERAL (
    SELECT DISTINCT (e #>> '{{}}')::int AS h
    FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(t.reminder_offsets_hours) = 'array' THEN t.reminder_offsets_hours ELSE '[]' END
    ) AS e
    WHERE jsonb_typeof(e) = 'number' AND (e #>> '{{}}') ~ '^[0-9]{{1,3}}$'
) o
LEFT JOIN {reminder} r ON r.booking_id = b.id AND r.kind = %(prefix)s || o.h
    || CASE WHEN b.ics_sequence > 0 THEN '#' || b.ics_sequence ELSE '' END
WHERE s.status = %(open)s
  AND s.starts_at > %(now)s AND s.starts_at <= %(horizon)s
  AND o.h BETWEEN 1 AND %(max_hours)s
  AND s.starts_at - make_interval(hours => o.h) <= %(now)s
  AND b.id > %(after)s
GROUP BY b.id, b.ics_sequence, s.starts_at
HAVING bool_or(r.id IS NULL)
ORDER BY b.id
LIMIT %(limit)s
"""


def _due_batch(*, now: datetime, after: int, limit: int) -> list[_DueBooking]:
    sql = _DUE_SQL.format(
        slot=Slot._meta.db_table,
        booking=Booking._meta.db_table,
        theme=Theme._meta.db_table,
        user=User._meta.db_table,
        reminder=BookingReminder._meta.db_table,
    )
    params: dict[str, Any] = {
        "confirmed": BookingStatus.CONFIRMED.value,
        "open": SlotStatus.OPEN.value,
        "prefix": KIND_BEFORE_PREFIX,
        "now": now,
        "horizon": now + timedelta(hours=MAX_REMINDER_OFFSET_HOURS),
        "max_hours": MAX_REMINDER_OFFSET_HOURS,
        "after": after,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        _DueBooking(
            booking_id=row[0],
            sequence=row[1],
            starts_at=row[2],
            confirmed_at=row[3],
            due_hours=list(row[4]),
            unclaimed_hours=list(row[5] or []),
        )
        for row in rows
    ]


def _decide(due: _DueBooking) -> tuple[list[str], str | None]:
    """(kinds to claim, the kind to send or None) for one booking.

    Send the nearest due offset if it is unclaimed and its moment came after the
    booking was confirmed; every other unclaimed due offset is claimed as skipped.
    """
    nearest = due.due_hours[0]
    send = None
    if nearest in due.unclaimed_hours and due.confirmed_at < due.starts_at - timedelta(hours=nearest):
        send = reminder_kind(nearest, due.sequence)
    return [reminder_kind(hours, due.sequence) for hours in due.unclaimed_hours], send


def reminders_send_due(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH) -> int:
    """Claim the due reminders and queue their emails; how many emails were queued. Safe to run concurrently.

    Works in batches of `batch_size` bookings, one transaction each: the claims
    and the outbox rows of a batch commit together.
    """
    now = now or timezone.now()
    queued = 0
    after = 0
    while True:
        with transaction.atomic():
            batch = _due_batch(now=now, after=after, limit=batch_size)
            if not batch:
                break
            decisions = [(due.booking_id, *_decide(due)) for due in batch]
            won = reminders_claim(
                claims=[(booking_id, kind) for booking_id, kinds, _send in decisions for kind in kinds]
            )
            for booking_id, _kinds, send in decisions:
                if send is not None and (booking_id, send) in won:
                    outbox.enqueue(SEND_REMINDER_TASK, booking_id, send)
                    queued += 1
        after = batch[-1].booking_id
        if len(batch) < batch_size:
            break
    if queued:
        logger.info("queued %s booking reminders", queued)
    return queued


# --- The email -----------------------------------------------------------------------------------


def when_words(starts_at: datetime, *, now: datetime, tz_name: str) -> str:
    """How far the start is, as the customer says it: "in 2 hours", "today at 18:30", "tomorrow at 09:00".

    Days are the merchant's local days (the wall clock at the venue, DST included).
    """
    left = starts_at - now
    if left < HOURS_WORDING_BELOW:
        hours = max(1, round(left.total_seconds() / 3600))
        return "in 1 hour" if hours == 1 else f"in {hours} hours"
    zone = zoneinfo.ZoneInfo(tz_name)
    start, today = starts_at.astimezone(zone), now.astimezone(zone).date()
    days = (start.date() - today).days
    at = f"{start:%H:%M}"
    if days == 0:
        return f"today at {at}"
    if days == 1:
        return f"tomorrow at {at}"
    return f"on {start:%A} {start.day} {start:%B} at {at}"


def _superseded(booking: Booking, hours: int, sequence: int) -> bool:
    """A nearer reminder of the same time was claimed since: this one would arrive after it, or with it."""
    for kind in BookingReminder.objects.filter(booking_id=booking.pk).values_list("kind", flat=True):
        parsed = parse_reminder_kind(kind)
        if parsed is not None and parsed[1] == sequence and parsed[0] < hours:
            return True
    return False


def send_reminder_email(*, booking_id: int, kind: str, now: datetime | None = None) -> bool:
    """Send one claimed reminder, unless it no longer applies. True when it was sent now. Idempotent.

    Nothing for a booking no longer confirmed (cancelled, expired), a slot
    cancelled or started, a booking moved to another time since the claim, a
    customer who turned reminder emails off, or a nearer reminder already claimed.
    """
    now = now or timezone.now()
    parsed = parse_reminder_kind(kind)
    booking = booking_for_email(booking_id)
    if parsed is None or booking is None:
        return False
    hours, sequence = parsed
    slot, customer = booking.slot, booking.customer
    if (
        booking.status != BookingStatus.CONFIRMED
        or slot.status != SlotStatus.OPEN
        or slot.starts_at <= now
        or booking.ics_sequence != sequence
        or not customer.reminder_emails
        or not customer.is_active
        or _superseded(booking, hours, sequence)
    ):
        logger.info("reminder %s of booking %s no longer applies, not sent", kind, booking_id)
        return False
    context = booking_email_context(booking)
    context.update(
        when_words=when_words(slot.starts_at, now=now, tz_name=context["merchant"].timezone),
        booking_url=absolute_url(reverse("portal:my-bookings") + f"#booking-{booking.pk}"),
        account_url=absolute_url(reverse("portal:account")),
    )
    return send_email_once(
        kind=REMINDER_EMAIL_KIND,
        key=f"{booking.pk}:{kind}",
        to=customer.email,
        template="booking_reminder",
        context=context,
        attachments=[Attachment(f"booking-{booking.pk}.ics", booking_ics(booking), "text/calendar")],
    )
