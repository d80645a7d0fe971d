from datetime import UTC, datetime, timedelta

import pytest

from bookings.ics import CalendarEvent, calendar, escape_text, fold_line
from bookings.tests.ics_check import check_calendar, parse_utc, unescape_text

START = datetime(2030, 3, 30, 23, 30, tzinfo=UTC)


def event(**overrides) -> CalendarEvent:
    values = {"uid": "booking-1@bookwise", "starts_at": START, "ends_at": START + timedelta(hours=1), "summary": "Room"}
    return CalendarEvent(**{**values, **overrides})


def test_text_values_escape_backslash_semicolon_comma_and_newlines():
    assert escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"
    assert unescape_text(escape_text("a\\b;c,d\ne")) == "a\\b;c,d\ne"


def test_short_lines_are_not_folded():
    assert fold_line("SUMMARY:Room") == "SUMMARY:Room"


def test_long_lines_fold_at_75_octets_with_a_leading_space():
    line = "DESCRIPTION:" + "x" * 200
    folded = fold_line(line)
    parts = folded.split("\r\n")
    assert [len(part.encode()) for part in parts] == [75, 75, 64]
    assert all(part.startswith(" ") for part in parts[1:])
    assert "".join(part[1:] if i else part for i, part in enumerate(parts)) == line


def test_folding_never_cuts_a_multi_octet_character():
    line = "SUMMARY:" + "é🔐" * 40  # 2- and 4-octet characters
    parts = fold_line(line).split("\r\n")
    for part in parts:
        assert len(part.encode("utf-8")) <= 75
        part.encode("utf-8").decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert "".join(part[1:] if i else part for i, part in enumerate(parts)) == line


def test_calendar_has_crlf_lines_utc_times_and_the_required_properties():
    stamp = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    text = calendar([event(summary="Room; with, commas", location="Merchant 1, Lisbon")], stamp=stamp)

    cal = check_calendar(text)
    assert cal.one("METHOD") == "PUBLISH"
    (vevent,) = cal.children
    assert vevent.one("UID") == "booking-1@bookwise"
    assert vevent.one("DTSTART") == "20300330T233000Z"
    assert vevent.one("DTEND") == "20300331T003000Z"
    assert parse_utc(vevent.one("DTSTAMP")) == stamp
    assert unescape_text(vevent.one("SUMMARY")) == "Room; with, commas"
    assert unescape_text(vevent.one("LOCATION")) == "Merchant 1, Lisbon"


def test_calendar_converts_other_zones_to_utc():
    from zoneinfo import ZoneInfo

    local = datetime(2030, 7, 4, 18, 30, tzinfo=ZoneInfo("America/New_York"))
    text = calendar([event(starts_at=local, ends_at=local + timedelta(minutes=90))], stamp=START)
    assert "DTSTART:20300704T223000Z\r\n" in text
    assert "DTEND:20300705T000000Z\r\n" in text


def test_calendar_refuses_naive_times_and_events_that_end_before_they_start():
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar([event(starts_at=datetime(2030, 1, 1), ends_at=datetime(2030, 1, 2))], stamp=START)
    with pytest.raises(ValueError, match="start before"):
        calendar([event(ends_at=START)], stamp=START)
