"""A minimal iCalendar (RFC 5545) writer: one VEVENT in a VCALENDAR, for confirmation emails.

Only what a booking needs, written by hand to avoid a dependency: TEXT values
escaped (3.3.11), times in UTC with the `Z` suffix (3.3.5, form #2), CRLF line
endings, and content lines folded at 75 octets without splitting a UTF-8
character (3.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

PRODID = "-//BookWise//Bookings//EN"
_MAX_LINE_OCTETS = 75


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str = ""
    description: str = ""
    url: str = ""
    sequence: int = 0  # RFC 5545 3.8.7.4: one more at each change (a rescheduled booking)
    status: str = "CONFIRMED"  # or "CANCELLED" (a calendar feed keeps a cancelled slot, marked)


def escape_text(value: str) -> str:
    """A TEXT property value: backslash, semicolon and comma escaped; any newline becomes `\\n`."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def format_utc(value: datetime) -> str:
    """DATE-TIME in UTC, e.g. 20250614T170000Z. Needs an aware datetime."""
    if value.tzinfo is None:
        raise ValueError("iCalendar times must be timezone-aware.")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold_line(line: str) -> str:
    """Split one content line into CRLF-separated chunks of at most 75 octets.

    Every continuation starts with one space, which counts towards its 75
    octets; a multi-octet UTF-8 character is never cut in half.
    """
    chunks: list[str] = []
    current, size, limit = [], 0, _MAX_LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            chunks.append("".join(current))
            current, size, limit = [], 0, _MAX_LINE_OCTETS - 1
        current.append(char)
        size += width
    chunks.append("".join(current))
    return "\r\n ".join(chunks)


def calendar(events: list[CalendarEvent], *, stamp: datetime, method: str = "PUBLISH", name: str = "") -> str:
    """The whole iCalendar object, CRLF-terminated lines. `stamp` is DTSTAMP (when it was written).

    `name`: the calendar's display name, for a subscribed feed (X-WR-CALNAME, RFC 7986 NAME).
    """
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", f"METHOD:{method}"]
    if name:
        lines += [f"NAME:{escape_text(name)}", f"X-WR-CALNAME:{escape_text(name)}"]
        # How often a subscribed calendar should fetch the feed again (RFC 7986 5.7).
        lines += ["REFRESH-INTERVAL;VALUE=DURATION:PT1H", "X-PUBLISHED-TTL:PT1H"]
    for event in events:
        if not event.starts_at < event.ends_at:
            raise ValueError("An event must start before it ends.")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"SEQUENCE:{event.sequence}",
            f"DTSTAMP:{format_utc(stamp)}",
            f"DTSTART:{format_utc(event.starts_at)}",
            f"DTEND:{format_utc(event.ends_at)}",
            f"SUMMARY:{escape_text(event.summary)}",
        ]
        if event.location:
            lines.append(f"LOCATION:{escape_text(event.location)}")
        if event.description:
            lines.append(f"DESCRIPTION:{escape_text(event.description)}")
        if event.url:
            lines.append(f"URL:{event.url}")
        lines += [f"STATUS:{event.status}", "TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold_line(line) + "\r\n" for line in lines)
