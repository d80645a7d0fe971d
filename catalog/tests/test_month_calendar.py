"""Picking a time on the theme page (issue 14): a month calendar of the MERCHANT's local days, the chosen
day's times as buttons, links that work without JavaScript; the catalog cards' next open time.
"""

import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.tests.factories import ConfirmedBookingFactory
from catalog import month_calendar
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

CATALOG_URL = reverse("portal:catalog")


def slot_at(theme, starts_at, **kwargs):
    return SlotFactory(
        theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=theme.duration_minutes), **kwargs
    )


def local(day: date, hour: int, minute: int, tz_name: str) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(tz_name))


def page(client, theme, query: str = "") -> str:
    response = client.get(reverse("portal:theme-detail", args=[theme.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


def day_query(day: date) -> str:
    return f"?day={day:%Y-%m-%d}&month={day:%Y-%m}"


def calendar_cell(html: str, day: date) -> str:
    """The <td> of `day` in the calendar table."""
    table = html[html.index('<table class="month-calendar">') : html.index("</table>")]
    for cell in re.findall(r"<td class=\"day [^\"]*\">.*?</td>", table, flags=re.S):
        if f'<span aria-hidden="true">{day.day}</span>' in cell or re.search(rf">{day.day}</a>", cell):
            return cell
    raise AssertionError(f"no cell for {day}")


def times_shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<input type="radio" name="slot" id="slot-(\d+)"', html)]


def next_sunday_of_change(month: int, *, last: bool = True, nth: int = 1) -> date:
    """The next DST change Sunday still ahead (a few days out): the last Sunday of `month` (EU), or its nth (US)."""
    today = timezone.now().date()
    for year in (today.year, today.year + 1):
        sundays = [date(year, month, d) for d in range(1, 32) if _valid(year, month, d) and _is_sunday(year, month, d)]
        change = sundays[-1] if last else sundays[nth - 1]
        if change > today + timedelta(days=3):
            return change
    raise AssertionError("unreachable")


def _valid(year, month, day) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _is_sunday(year, month, day) -> bool:
    return date(year, month, day).weekday() == 6


# --- Local days across DST changes ------------------------------------------------------------------


@pytest.mark.parametrize("month", [3, 10], ids=["berlin-spring-forward", "berlin-fall-back"])
def test_slots_at_half_past_midnight_in_berlin_belong_to_their_local_day_across_a_dst_change(client, month):
    change = next_sunday_of_change(month)  # the last Sunday of March or October
    theme = ThemeFactory(merchant=MerchantFactory(timezone="Europe/Berlin"))
    # 00:30 on the change day (still the old offset) and 00:30 the day after (the new one): both are the
    # previous day in UTC.
    on_change = slot_at(theme, local(change, 0, 30, "Europe/Berlin"))
    after = slot_at(theme, local(change + timedelta(days=1), 0, 30, "Europe/Berlin"))
    assert on_change.starts_at.astimezone(UTC).date() == change - timedelta(days=1)
    assert after.starts_at.astimezone(UTC).date() == change

    html = page(client, theme, day_query(change))
    assert times_shown(html) == [on_change.pk]
    assert "00:30–01:30" in html
    assert f"Times on {change:%A} {change.day} {change:%B}" in html
    assert page(client, theme, day_query(change + timedelta(days=1))).count('name="slot"') == 1
    assert times_shown(page(client, theme, day_query(change + timedelta(days=1)))) == [after.pk]
    assert times_shown(page(client, theme, day_query(change - timedelta(days=1)))) == []
    # The calendar marks exactly those two local days as open.
    month_html = page(client, theme, f"?month={change:%Y-%m}")
    assert "day-open" in calendar_cell(month_html, change)
    if (change + timedelta(days=1)).month == change.month:
        assert "day-open" in calendar_cell(month_html, change + timedelta(days=1))
    assert "day-open" not in calendar_cell(month_html, change - timedelta(days=1))


def test_a_new_york_slot_at_23_30_on_the_last_day_of_a_month_belongs_to_that_month(client):
    tz = "America/New_York"
    theme = ThemeFactory(merchant=MerchantFactory(timezone=tz))
    first_next = month_calendar.add_months(timezone.now().date().replace(day=1), 2)
    last_day = first_next - timedelta(days=1)
    late = slot_at(theme, local(last_day, 23, 30, tz))
    assert late.starts_at.astimezone(UTC).date() == first_next  # UTC already says the 1st

    that_month = page(client, theme, f"?month={last_day:%Y-%m}")
    assert "day-open" in calendar_cell(that_month, last_day)
    assert times_shown(page(client, theme, day_query(last_day))) == [late.pk]
    following = page(client, theme, f"?month={first_next:%Y-%m}")
    assert "day-open" not in following
    assert times_shown(following) == []


def test_new_york_spring_forward_day_groups_times_by_local_day(client):
    tz = "America/New_York"
    change = next_sunday_of_change(3, last=False, nth=2)  # second Sunday of March
    theme = ThemeFactory(merchant=MerchantFactory(timezone=tz))
    evening_before = slot_at(theme, local(change - timedelta(days=1), 22, 30, tz))  # 03:30 UTC on the change day
    morning = slot_at(theme, local(change, 9, 0, tz))

    html = page(client, theme, day_query(change))

    assert times_shown(html) == [morning.pk]
    assert "09:00–10:00" in html
    assert times_shown(page(client, theme, day_query(change - timedelta(days=1)))) == [evening_before.pk]


def test_local_month_bounds_are_local_midnights_in_utc():
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start, end = month_calendar.local_month_bounds(date(2027, 3, 1), berlin)
    assert start == datetime(2027, 2, 28, 23, 0, tzinfo=UTC)  # CET, UTC+1
    assert end == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # CEST since the 28th, UTC+2
    # A zone whose DST starts at midnight: the missing midnight is the instant of the change.
    santiago = zoneinfo.ZoneInfo("America/Santiago")
    start, _ = month_calendar.local_month_bounds(date(2026, 9, 1), santiago)
    assert start.astimezone(santiago).day == 1


# --- The calendar: open days are links, full days greyed, today marked ------------------------------


def test_open_days_are_links_full_days_are_greyed_and_days_without_times_plain(client):
    theme = ThemeFactory(merchant=MerchantFactory(timezone="Europe/Lisbon"), min_party=1)
    month = month_calendar.add_months(timezone.now().date().replace(day=1), 1)
    open_day, full_day, empty_day = month + timedelta(days=4), month + timedelta(days=5), month + timedelta(days=6)
    for hour in (10, 14, 18):
        slot_at(theme, local(open_day, hour, 0, "Europe/Lisbon"))
    full = slot_at(theme, local(full_day, 10, 0, "Europe/Lisbon"), capacity=2)
    ConfirmedBookingFactory(slot=full, party_size=2)

    html = page(client, theme, f"?month={month:%Y-%m}")

    assert f"<caption>{month:%B %Y}" in html
    open_cell = calendar_cell(html, open_day)
    assert f'href="{day_query(open_day).replace("&", "&amp;")}#times"' in open_cell
    assert f'aria-label="{open_day:%A} {open_day.day} {open_day:%B}, 3 times available"' in open_cell
    full_cell = calendar_cell(html, full_day)
    assert "day-full" in full_cell
    assert "<a " not in full_cell
    assert "fully booked" in full_cell
    empty_cell = calendar_cell(html, empty_day)
    assert "day-none" in empty_cell
    assert "<a " not in empty_cell
    # The first day with open times is chosen by default, its link marked as the current one.
    assert 'aria-current="true"' in open_cell
    assert f"Times on {open_day:%A} {open_day.day} {open_day:%B}" in html


def test_the_calendar_has_table_semantics_and_marks_today(client):
    theme = ThemeFactory(merchant=MerchantFactory(timezone="Pacific/Auckland"))
    today = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo("Pacific/Auckland")).date()

    html = page(client, theme, f"?month={today:%Y-%m}")

    for name in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        assert f'<th scope="col" abbr="{name}">' in html
    assert 'aria-current="date"' in calendar_cell(html, today)
    assert "day-today" in calendar_cell(html, today)
    assert 'aria-label="Months"' in html
    assert 'rel="next"' in html
    assert 'rel="prev"' not in html  # no paging into the past


def test_the_chosen_days_times_are_labelled_radio_buttons_in_a_fieldset_with_seats_and_price(client):
    theme = ThemeFactory(price=3000, currency="usd", merchant=MerchantFactory(timezone="Europe/Lisbon"))
    day = timezone.now().date() + timedelta(days=3)
    peak = slot_at(theme, local(day, 19, 0, "Europe/Lisbon"), price=4500, capacity=6)
    ConfirmedBookingFactory(slot=peak, party_size=2)
    full = slot_at(theme, local(day, 21, 0, "Europe/Lisbon"), capacity=1)
    ConfirmedBookingFactory(slot=full, party_size=1)

    html = page(client, theme, day_query(day))

    times = html[html.index('<fieldset class="schedule times') : html.index("</fieldset>")]
    assert f"<legend>Times on {day:%A} {day.day} {day:%B}</legend>" in times
    assert f'<label for="slot-{peak.pk}">' in times
    assert "19:00–20:00" in times
    assert "4 seats left" in times
    assert "$45.00 per person" in times
    full_item = times[times.index(f'id="slot-{full.pk}"') :]
    full_item = full_item[: full_item.index("</li>")]
    assert "disabled" in full_item
    assert "Full" in full_item
    # The book form carries the day, so a re-rendered form stays on it.
    assert f'<input type="hidden" name="day" value="{day:%Y-%m-%d}">' in html


def test_day_links_work_without_javascript_and_the_form_books_the_chosen_time(client, customer):
    theme = ThemeFactory(price=0, merchant=MerchantFactory(timezone="Europe/Lisbon"))
    first = timezone.now().date() + timedelta(days=2)
    second = first + timedelta(days=2)
    early = slot_at(theme, local(first, 10, 0, "Europe/Lisbon"))
    later = slot_at(theme, local(second, 10, 0, "Europe/Lisbon"))

    default = page(client, theme)
    assert times_shown(default) == [early.pk]
    link = re.search(r'href="(\?day=[^"#]+)#times"[^>]*aria-label="[^"]*' + f"{second.day} {second:%B}", default)
    assert link is not None, "the second day is a plain link"
    chosen = page(client, theme, link.group(1).replace("&amp;", "&"))
    assert times_shown(chosen) == [later.pk]

    client.force_login(customer)
    response = client.post(
        reverse("portal:theme-book", args=[theme.pk]), {"slot": later.pk, "party_size": 1, "day": str(second)}
    )
    assert response.status_code == 302
    assert customer.bookings.get().slot_id == later.pk


def test_a_refused_booking_re_renders_on_the_chosen_times_day(client, customer):
    theme = ThemeFactory(min_party=2, max_party=4, merchant=MerchantFactory(timezone="Europe/Lisbon"))
    slot_at(theme, local(timezone.now().date() + timedelta(days=2), 10, 0, "Europe/Lisbon"))
    chosen_day = timezone.now().date() + timedelta(days=5)
    chosen = slot_at(theme, local(chosen_day, 12, 0, "Europe/Lisbon"))
    client.force_login(customer)

    response = client.post(reverse("portal:theme-book", args=[theme.pk]), {"slot": chosen.pk, "party_size": 9})

    html = response.content.decode()
    assert times_shown(html) == [chosen.pk]
    assert f'id="slot-{chosen.pk}" value="{chosen.pk}"' in html
    assert re.search(rf'id="slot-{chosen.pk}" value="{chosen.pk}"[^>]*checked', html, flags=re.S)


@pytest.mark.parametrize(
    "query", ["?day=2020-01-01", "?day=not-a-day", "?month=1999-13", "?month=2999-01", "?day=9999-99-99&month=x"]
)
def test_unreadable_or_out_of_range_days_fall_back_to_the_default(client, query):
    theme = ThemeFactory()
    slot = slot_at(theme, timezone.now() + timedelta(days=1))

    html = page(client, theme, query)

    assert times_shown(html) == [slot.pk]


def test_a_month_without_open_times_says_so_and_links_the_next_month(client):
    theme = ThemeFactory()
    month = month_calendar.add_months(timezone.now().date().replace(day=1), 3)

    html = page(client, theme, f"?month={month:%Y-%m}")

    assert f"No open times in {month:%B %Y}." in html
    assert 'id="book-form"' not in html


def test_the_theme_page_reads_the_month_in_a_constant_number_of_queries(client):
    theme = ThemeFactory(merchant=MerchantFactory(timezone="Europe/Lisbon"))
    month = month_calendar.add_months(timezone.now().date().replace(day=1), 1)
    slot_at(theme, local(month, 10, 0, "Europe/Lisbon"))
    url = reverse("portal:theme-detail", args=[theme.pk]) + f"?month={month:%Y-%m}"
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for day in range(1, 25):
        for hour in (12, 15, 18):
            slot = slot_at(theme, local(month + timedelta(days=day), hour, 0, "Europe/Lisbon"))
            ConfirmedBookingFactory(slot=slot)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


# --- The catalog's cards: the next open time, in the venue's local time ------------------------------


def test_catalog_cards_show_the_next_open_time_in_the_merchants_local_time(client):
    theme = ThemeFactory(title="Night Train", merchant=MerchantFactory(timezone="Asia/Tokyo"), min_party=2)
    day = timezone.now().date() + timedelta(days=4)
    too_small = slot_at(theme, local(day, 17, 0, "Asia/Tokyo"), capacity=3)
    ConfirmedBookingFactory(slot=too_small, party_size=2)  # 1 seat left, the smallest party is 2: not open
    slot_at(theme, local(day, 23, 30, "Asia/Tokyo"))  # 14:30 UTC
    ThemeFactory(title="Nothing Scheduled")

    html = client.get(CATALOG_URL).content.decode()

    card = html[html.index("Night Train") :]
    card = card[: card.index("</li>")]
    assert f"{day:%a} {day.day} {day:%b} 23:30" in card
    empty = html[html.index("Nothing Scheduled") :]
    assert "No open times" in empty[: empty.index("</li>")]


def test_catalog_next_open_time_costs_no_query_per_card(client):
    for _ in range(2):
        slot_at(ThemeFactory(), timezone.now() + timedelta(days=2))
    client.get(CATALOG_URL)  # warm: the cached currency choices
    with CaptureQueriesContext(connection) as few:
        client.get(CATALOG_URL)
    for n in range(8):
        slot_at(ThemeFactory(), timezone.now() + timedelta(days=2, hours=n))
    with CaptureQueriesContext(connection) as many:
        client.get(CATALOG_URL)
    assert len(many) == len(few), [q["sql"][:90] for q in many.captured_queries]


def test_open_seats_on_means_the_merchants_local_day_across_a_dst_change(client):
    change = next_sunday_of_change(10)  # Berlin falls back
    theme = ThemeFactory(title="Late Lab", merchant=MerchantFactory(timezone="Europe/Berlin"))
    slot_at(theme, local(change, 0, 30, "Europe/Berlin"))  # the Saturday in UTC

    assert "Late Lab" in client.get(CATALOG_URL, {"date": change.isoformat()}).content.decode()
    day_before = (change - timedelta(days=1)).isoformat()
    assert "Late Lab" not in client.get(CATALOG_URL, {"date": day_before}).content.decode()
