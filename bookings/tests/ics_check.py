"""A minimal RFC 5545 reader for tests: enough to prove an .ics we send is well-formed.

Checks CRLF line endings and the 75-octet fold limit, unfolds, pairs every
BEGIN with its END, and returns the components with their properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Component:
    name: str
    props: dict[str, list[str]] = field(default_factory=dict)
    children: list[Component] = field(default_factory=list)

    def one(self, name: str) -> str:
        values = self.props.get(name, [])
        assert len(values) == 1, f"{self.name} must have exactly one {name}, has {values}"
        return values[0]


def unescape_text(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars)
            out.append("\n" if nxt in "nN" else nxt)
        else:
            out.append(char)
    return "".join(out)


def parse_utc(value: str) -> datetime:
    assert value.endswith("Z"), f"{value} is not in UTC"
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def parse_ics(data: str | bytes) -> Component:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    assert text.endswith("\r\n"), "every content line ends with CRLF"
    physical = text[:-2].split("\r\n")
    assert not any("\n" in line or "\r" in line for line in physical), "bare CR or LF"
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, f"line longer than 75 octets: {line!r}"
    lines: list[str] = []
    for line in physical:
        if line[:1] in (" ", "\t"):
            assert lines, "a continuation line cannot come first"
            lines[-1] += line[1:]
        else:
            lines.append(line)

    root = Component("")
    stack = [root]
    for line in lines:
        name_and_params, sep, value = line.partition(":")
        assert sep, f"no ':' in {line!r}"
        name = name_and_params.split(";", 1)[0].upper()
        if name == "BEGIN":
            child = Component(value.upper())
            stack[-1].children.append(child)
            stack.append(child)
        elif name == "END":
            assert len(stack) > 1, f"END:{value} without BEGIN"
            assert stack.pop().name == value.upper(), f"END:{value} closes another component"
        else:
            stack[-1].props.setdefault(name, []).append(value)
    assert len(stack) == 1, f"{stack[-1].name} is never closed"
    assert [child.name for child in root.children] == ["VCALENDAR"]
    return root.children[0]


def check_calendar(data: str | bytes) -> Component:
    """Parse and check the properties RFC 5545 requires (3.6, 3.6.1); returns the VCALENDAR."""
    calendar = parse_ics(data)
    assert calendar.one("VERSION") == "2.0"
    assert calendar.one("PRODID")
    for event in calendar.children:
        if event.name != "VEVENT":
            continue
        assert event.one("UID")
        parse_utc(event.one("DTSTAMP"))
        assert parse_utc(event.one("DTSTART")) < parse_utc(event.one("DTEND"))
    return calendar
