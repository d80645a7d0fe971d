"""The merchant dashboard: the figures of a period against SQL written here, the CSV, today's schedule, the charts.

The figures are computed by bookings.merchant_stats and payments.revenue_selectors;
these tests recompute each one with plain SQL over the tables (local days with
PostgreSQL's AT TIME ZONE, not the code's instant bounds) and compare.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import merchant_stats
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import BookingMode, SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants import charts
from merchants.tests.factories import MerchantFactory
from payments import revenue_selectors
from payments.models import LedgerEntry, LedgerKind

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
MARCH = (date(2025, 3, 1), date(2025, 3, 31))  # Berlin moves to summer time on 30 March 2025
_keys = itertools.count(1)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=BERLIN)


def slot_at(theme, starts_at, *, capacity=6, minutes=60, **kwargs):
    return SlotFactory(
        theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), capacity=capacity, **kwargs
    )


def ledger(booking, kind, amount):
    LedgerEntry.objects.create(
        merchant=booking.slot.theme.merchant,
        booking=booking,
        kind=kind,
        amount=amount,
        currency=booking.currency,
        key=f"test:{next(_keys)}",
    )


def paid(slot, *, party=1, status=BookingStatus.CONFIRMED, refunded=0, **kwargs):
    """A paid booking with the ledger's charge (and refund) entries, and the fee the ledger writes too."""
    booking = ConfirmedBookingFactory(slot=slot, party_size=party, status=status, refunded_amount=refunded, **kwargs)
    ledger(booking, LedgerKind.CHARGE, booking.amount)
    ledger(booking, LedgerKind.FEE, -(booking.amount // 10))
    if refunded:
        ledger(booking, LedgerKind.REFUND, -refunded)
        ledger(booking, LedgerKind.FEE, refunded // 10)
    return booking


@pytest.fixture
def merchant():
    return MerchantFactory(timezone="Europe/Berlin")


@pytest.fixture
def seeded(merchant):
    """March 2025 in Berlin: three themes, two currencies, cancellations, refunds, the month's edges, a neighbour."""
    vault = ThemeFactory(merchant=merchant, title="The Vault", currency="eur", price=2500)
    private = ThemeFactory(
        merchant=merchant, title="Private Party", currency="eur", price=4000, booking_mode=BookingMode.PRIVATE
    )
    edo = ThemeFactory(merchant=merchant, title="Edo Escape", currency="jpy", price=3000)

    busy = slot_at(vault, at(10, 19), capacity=6)
    paid(busy, party=2)
    paid(busy, party=3, status=BookingStatus.ATTENDED, refunded=2500)  # a partial refund
    paid(busy, party=1, status=BookingStatus.NO_SHOW)
    paid(busy, party=2, status=BookingStatus.CANCELLED, refunded=5000)  # cancelled, refunded in full
    BookingFactory(slot=busy, status=BookingStatus.EXPIRED, expires_at=at(10, 12))  # never paid
    cancelled_slot = slot_at(vault, at(12, 19), capacity=6, status=SlotStatus.CANCELLED)
    paid(cancelled_slot, party=4, status=BookingStatus.CANCELLED, refunded=10000)
    empty = slot_at(vault, at(14, 19), capacity=6)  # ran with nobody: counts in the fill rate
    # The month's edges in Berlin: 00:15 on the 1st is still February in UTC; 23:30 on the 31st is inside;
    # 00:30 on 1 April (22:30 UTC on the 31st, summer time) is outside.
    first = slot_at(vault, at(1, 0, 15), capacity=4, minutes=30)
    paid(first, party=1, status=BookingStatus.ATTENDED)
    last = slot_at(vault, at(31, 23, 30), capacity=4, minutes=20)
    paid(last, party=2, status=BookingStatus.ATTENDED)
    april = slot_at(vault, at(1, 0, 30, month=4), capacity=4, minutes=20)
    paid(april, party=4, status=BookingStatus.ATTENDED)
    february = slot_at(vault, at(28, 23, 0, month=2), capacity=4, minutes=30)
    paid(february, party=3, status=BookingStatus.NO_SHOW)

    party = slot_at(private, at(15, 18), capacity=8, minutes=120)
    paid(party, party=2, status=BookingStatus.ATTENDED, amount=4000)  # a private slot with a booking is full

    tokyo = slot_at(edo, at(20, 10), capacity=4)
    paid(tokyo, party=4, currency="jpy", amount=12000)

    # Another merchant's slot the same month: nothing of it may show.
    other = ThemeFactory(merchant=MerchantFactory(timezone="Europe/Berlin"), currency="eur", title="Elsewhere")
    paid(slot_at(other, at(10, 19), capacity=10), party=5, status=BookingStatus.ATTENDED)
    return {"vault": vault, "private": private, "edo": edo, "empty": empty, "busy": busy}


def sql_rows(query: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


LOCAL_DAY = "((s.starts_at AT TIME ZONE m.timezone)::date BETWEEN %s AND %s)"
FROM_SLOTS = (
    "catalog_slot s JOIN catalog_theme t ON t.id = s.theme_id JOIN merchants_merchant m ON m.id = t.merchant_id"
)


def sql_figures(merchant_id: int, first: date, last: date, theme_id: int | None = None) -> dict:
    """Every figure of the period, computed here from the tables."""
    theme_filter = "AND t.id = %s" if theme_id else ""
    theme_param = [theme_id] if theme_id else []
    ((bookings, people, attended, no_show),) = sql_rows(
        f"""SELECT COUNT(*), COALESCE(SUM(b.party_size), 0),
                   COUNT(*) FILTER (WHERE b.status = 'attended'), COUNT(*) FILTER (WHERE b.status = 'no_show')
            FROM bookings_booking b JOIN {FROM_SLOTS} ON s.id = b.slot_id
            WHERE m.id = %s AND {LOCAL_DAY} AND b.status IN ('confirmed', 'attended', 'no_show') {theme_filter}""",
        [merchant_id, first, last, *theme_param],
    )
    ((capacity, taken),) = sql_rows(
        f"""SELECT COALESCE(SUM(s.capacity), 0),
                   COALESCE(SUM(LEAST(s.capacity, GREATEST(COALESCE(x.seats, 0),
                       CASE WHEN t.booking_mode = 'private' AND x.seats IS NOT NULL THEN s.capacity ELSE 0 END))), 0)
            FROM {FROM_SLOTS}
            LEFT JOIN (SELECT slot_id, SUM(party_size) AS seats FROM bookings_booking
                       WHERE status IN ('confirmed', 'attended', 'no_show') GROUP BY slot_id) x ON x.slot_id = s.id
            WHERE m.id = %s AND {LOCAL_DAY} AND s.status <> 'cancelled' AND s.starts_at <= now() {theme_filter}""",
        [merchant_id, first, last, *theme_param],
    )
    revenue = sql_rows(
        f"""SELECT l.currency, SUM(l.amount) FILTER (WHERE l.kind = 'charge'),
                   -COALESCE(SUM(l.amount) FILTER (WHERE l.kind = 'refund'), 0)
            FROM payments_ledgerentry l JOIN bookings_booking b ON b.id = l.booking_id
            JOIN {FROM_SLOTS} ON s.id = b.slot_id
            WHERE m.id = %s AND {LOCAL_DAY} AND l.kind IN ('charge', 'refund') {theme_filter}
            GROUP BY l.currency ORDER BY l.currency""",
        [merchant_id, first, last, *theme_param],
    )
    capacity, taken, people = int(capacity), int(taken), int(people)  # SUM of integers is a numeric
    return {
        "bookings": bookings,
        "people": people,
        "attended": attended,
        "no_show": no_show,
        "capacity": capacity,
        "seats_taken": taken,
        "fill_rate": taken / capacity if capacity else None,
        "no_show_rate": no_show / (attended + no_show) if attended + no_show else None,
        "revenue": [(code, int(gross), int(refunded), int(gross) - int(refunded)) for code, gross, refunded in revenue],
    }


def code_figures(figures: merchant_stats.BookingFigures, revenue: list[revenue_selectors.Revenue]) -> dict:
    return {
        "bookings": figures.bookings,
        "people": figures.people,
        "attended": figures.attended,
        "no_show": figures.no_show,
        "capacity": figures.capacity,
        "seats_taken": figures.seats_taken,
        "fill_rate": figures.fill_rate,
        "no_show_rate": figures.no_show_rate,
        "revenue": [(r.currency, r.gross, r.refunded, r.net) for r in revenue],
    }


def page_figures(client, first: date, last: date):
    response = client.get(reverse("merchant:home"), {"from": first.isoformat(), "to": last.isoformat()})
    assert response.status_code == 200
    return response, response.context["kpis"]


# --- The figures --------------------------------------------------------------------------


def test_dashboard_figures_equal_sql_in_total_and_per_theme(merchant, seeded):
    response, kpis = page_figures(client_for(merchant.owner), *MARCH)

    expected = sql_figures(merchant.pk, *MARCH)
    assert code_figures(kpis["total"], kpis["revenue"]) == expected
    # The seed, in words, so a wrong SQL above cannot agree with wrong code by accident:
    # 2 + 3 + 1 on the busy slot, 1 on the 1st, 2 on the 31st, the private party of 2, 4 in Tokyo.
    assert (expected["bookings"], expected["people"]) == (7, 15)
    assert (expected["attended"], expected["no_show"]) == (4, 1)
    # Seats: busy 6/6, empty 0/6, first 1/4, last 2/4, private 8/8, Tokyo 4/4 (the cancelled slot left out).
    assert (expected["seats_taken"], expected["capacity"]) == (21, 32)
    # EUR: 5000 + 7500 + 2500 + 5000 + 10000 + 2500 + 5000 + 4000 paid; 2500 + 5000 + 10000 refunded.
    assert expected["revenue"] == [("eur", 41500, 17500, 24000), ("jpy", 12000, 0, 12000)]

    rows = {row["title"]: row for row in kpis["theme_rows"]}
    assert sorted(rows) == ["Edo Escape", "Private Party", "The Vault"]
    for title, theme in (
        ("The Vault", seeded["vault"]),
        ("Private Party", seeded["private"]),
        ("Edo Escape", seeded["edo"]),
    ):
        assert code_figures(rows[title]["figures"], rows[title]["revenue"]) == sql_figures(
            merchant.pk, *MARCH, theme_id=theme.pk
        ), title
    assert rows["Private Party"]["fill_percent"] == 100
    assert kpis["fill_percent"] == round(100 * 21 / 32)
    assert kpis["no_show_percent"] == 20

    page = response.content.decode()
    assert '<dd id="kpi-bookings"><span class="kpi-value">7</span>' in page
    assert "€240.00" in page
    assert "¥12,000" in page
    assert "Elsewhere" not in page


def test_figures_of_a_single_day_follow_the_merchants_calendar(merchant, seeded):
    client = client_for(merchant.owner)
    for day in (date(2025, 3, 1), date(2025, 3, 31), date(2025, 2, 28), date(2025, 4, 1)):
        _, kpis = page_figures(client, day, day)
        assert code_figures(kpis["total"], kpis["revenue"]) == sql_figures(merchant.pk, day, day), day
    _, first_day = page_figures(client, date(2025, 3, 1), date(2025, 3, 1))
    assert (first_day["total"].bookings, first_day["total"].attended) == (
        1,
        1,
    )  # 00:15 Berlin, 23:15 UTC the day before
    _, april_first = page_figures(client, date(2025, 4, 1), date(2025, 4, 1))
    assert april_first["total"].people == 4  # 00:30 Berlin summer time, 22:30 UTC on 31 March


def test_revenue_chart_has_one_bar_per_day_with_the_days_revenue(merchant, seeded):
    _, kpis = page_figures(client_for(merchant.owner), *MARCH)

    eur = next(chart for chart in kpis["revenue_charts"] if chart["currency"] == "eur")
    assert len(eur["columns"]) == 31
    by_day = {column.key: column.value for column in eur["columns"]}
    daily = dict(
        sql_rows(
            f"""SELECT (s.starts_at AT TIME ZONE m.timezone)::date, SUM(l.amount)
                FROM payments_ledgerentry l JOIN bookings_booking b ON b.id = l.booking_id
                JOIN {FROM_SLOTS} ON s.id = b.slot_id
                WHERE m.id = %s AND {LOCAL_DAY} AND l.kind IN ('charge', 'refund') AND l.currency = 'eur'
                GROUP BY 1""",
            [merchant.pk, *MARCH],
        )
    )
    assert {day: value for day, value in by_day.items() if value} == {d: int(v) for d, v in daily.items() if v}
    assert by_day[date(2025, 3, 10)] == 5000 + 5000 + 2500  # the busy slot: the cancelled one nets 0


def test_a_long_period_charts_revenue_per_week(merchant, seeded):
    client = client_for(merchant.owner)
    response = client.get(reverse("merchant:home"), {"from": "2025-01-01", "to": "2025-04-30"})

    eur = next(chart for chart in response.context["kpis"]["revenue_charts"] if chart["currency"] == "eur")
    mondays = [column.key for column in eur["columns"]]
    assert mondays[0] == date(2024, 12, 30)
    assert all(day.weekday() == 0 for day in mondays)
    # March, 1 April's party of 4 and 28 February's no-show party of 3.
    assert sum(column.value for column in eur["columns"]) == 24000 + 10000 + 7500
    assert "Revenue per week" in response.content.decode()


def test_the_default_period_is_the_last_30_days_and_presets_choose_7_or_90(merchant):
    client = client_for(merchant.owner)
    today = timezone.localdate(timezone=BERLIN)

    period = client.get(reverse("merchant:home")).context["period"]
    assert (period.date_from, period.date_to) == (today - timedelta(days=29), today)

    for days in (7, 90):
        response = client.get(reverse("merchant:home"), {"days": days})
        assert (response.context["period"].date_from, response.context["period"].days) == (
            today - timedelta(days=days - 1),
            days,
        )
        assert f'aria-current="true">Last {days} days' in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2025-03-10", "to": "2025-03-01"},
        {"from": "2024-01-01", "to": "2025-03-01"},
        {"from": "yesterday"},
        {"days": "45"},
        {"to": "2025-02-30"},
        {"to": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-01-05"},
    ],
)
def test_a_bad_period_is_a_400_with_the_reason_and_the_default_figures(merchant, query):
    response = client_for(merchant.owner).get(reverse("merchant:home"), query)

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert response.context["period"].days == 30


def test_dashboard_queries_do_not_grow_with_slots_and_bookings(merchant, seeded, django_assert_max_num_queries):
    client = client_for(merchant.owner)
    client.get(reverse("merchant:home"), {"from": "2025-03-01", "to": "2025-03-31"})
    with django_assert_max_num_queries(12):
        client.get(reverse("merchant:home"), {"from": "2025-03-01", "to": "2025-03-31"})
    for n in range(10):
        paid(slot_at(seeded["vault"], at(16 + n // 5, 8 + 2 * (n % 5))), party=2, status=BookingStatus.ATTENDED)
    with django_assert_max_num_queries(12):
        client.get(reverse("merchant:home"), {"from": "2025-03-01", "to": "2025-03-31"})


# --- Charts --------------------------------------------------------------------------------


def test_charts_have_a_title_a_description_and_a_table_of_the_figures(merchant, seeded):
    response, kpis = page_figures(client_for(merchant.owner), *MARCH)
    page = response.content.decode()

    svgs = re.findall(r"<svg[^>]*>.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3  # revenue in EUR, in JPY, fill rate per theme
    for svg in svgs:
        opening = svg[: svg.index(">")]
        assert 'role="img"' in opening
        ids = re.search(r'aria-labelledby="([^"]+)"', opening).group(1).split()
        assert len(ids) == 2
        assert f'<title id="{ids[0]}">' in svg
        assert f'<desc id="{ids[1]}">' in svg
    assert "Revenue per day in EUR" in page
    assert "Fill rate per theme" in page
    # The data table next to each chart carries every figure.
    assert '<th scope="col">Day</th><th scope="col">Revenue</th>' in page
    assert '<td data-label="Theme">Private Party</td><td data-label="Seats taken">8 of 8</td>' in page


def test_column_chart_bars_are_proportional_and_labels_are_thinned():
    chart = charts.column_chart([(day, value) for day, value in enumerate([0, 50, 100, 25] * 4)])

    heights = [column.height for column in chart["columns"]]
    assert heights[2] == max(heights)
    assert heights[0] == 0
    assert heights[1] == pytest.approx(heights[2] / 2, abs=0.1)
    assert sum(column.labelled for column in chart["columns"]) <= charts.MAX_AXIS_LABELS


def test_percent_bars_scale_from_0_to_100():
    chart = charts.percent_bars([("Full", 1.0), ("Half", 0.5), ("Nothing yet", None)])

    full, half, none = chart["bars"]
    assert full.width == chart["plot_width"]
    assert half.width == pytest.approx(chart["plot_width"] / 2, abs=0.1)
    assert (full.percent, half.percent, none.percent, none.width) == (100, 50, None, 0)


# --- The CSV export -----------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_lists_every_booking_of_the_period_in_local_time(merchant, seeded):
    response = client_for(merchant.owner).get(
        reverse("merchant:bookings-csv"), {"from": "2025-03-01", "to": "2025-03-31"}
    )

    rows = read_csv(response)
    assert rows[0] == list(merchant_stats.EXPORT_COLUMNS)
    ids = sql_rows(
        f"""SELECT b.id FROM bookings_booking b JOIN {FROM_SLOTS} ON s.id = b.slot_id
            WHERE m.id = %s AND {LOCAL_DAY} ORDER BY s.starts_at, b.id""",
        [merchant.pk, *MARCH],
    )
    assert [int(row[0]) for row in rows[1:]] == [pk for (pk,) in ids]
    assert len(rows) - 1 == 10  # every status: the expired hold and the cancelled ones too
    first = rows[1]
    assert first[2] == "2025-03-01T00:15:00+01:00"
    assert rows[-1][2] == "2025-03-31T23:30:00+02:00"  # summer time
    assert 'filename="bookings-' in response["Content-Disposition"]
    assert "Elsewhere" not in response.content.decode()


def test_csv_columns_of_a_booking_with_tickets_discount_and_refund(merchant):
    theme = ThemeFactory(
        merchant=merchant,
        title="Tiers",
        currency="eur",
        price_tiers=[
            {"code": "adult", "label": "Adult", "price": 3000},
            {"code": "child", "label": "Child", "price": 1500},
        ],
    )
    slot = slot_at(theme, at(5, 10))
    customer = UserFactory(full_name="Ada Lovelace", email="ada@example.com")
    booking = ConfirmedBookingFactory(
        slot=slot,
        customer=customer,
        party_size=3,
        tickets=[{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}],
        amount=6750,
        discount=750,
        refunded_amount=1000,
        status=BookingStatus.CANCELLED,
    )

    rows = read_csv(
        client_for(merchant.owner).get(reverse("merchant:bookings-csv"), {"from": "2025-03-05", "to": "2025-03-05"})
    )

    created = booking.created_at.astimezone(BERLIN).replace(microsecond=0).isoformat()
    assert rows[1] == [
        str(booking.pk),
        created,
        "2025-03-05T10:00:00+01:00",
        "Tiers",
        "Ada Lovelace",
        "ada@example.com",
        "3",
        "2 adults, 1 child",
        "cancelled",
        "6750",
        "750",
        "1000",
        "eur",
    ]


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote(merchant, evil):
    theme = ThemeFactory(merchant=merchant, title=evil, currency="eur")
    ConfirmedBookingFactory(slot=slot_at(theme, at(5, 10)), customer=UserFactory(full_name=evil, email=f"{evil}@x.io"))

    rows = read_csv(
        client_for(merchant.owner).get(reverse("merchant:bookings-csv"), {"from": "2025-03-05", "to": "2025-03-05"})
    )

    theme_cell, name_cell, email_cell = rows[1][3], rows[1][4], rows[1][5]
    assert theme_cell == name_cell == "'" + evil
    assert email_cell.startswith("'")


def test_csv_with_a_bad_period_goes_back_to_the_dashboard_with_the_reason(merchant):
    client = client_for(merchant.owner)
    response = client.get(reverse("merchant:bookings-csv"), {"from": "2025-03-10", "to": "2025-03-01"})

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 400
    assert "The last day must not be before the first day." in page.content.decode()


def test_csv_of_a_far_away_period_is_refused_not_a_crash(merchant):
    response = client_for(merchant.owner).get(
        reverse("merchant:bookings-csv"), {"from": "9999-12-25", "to": "9999-12-31"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("merchant:home"))


def test_csv_is_only_for_approved_merchants():
    url = reverse("merchant:bookings-csv")
    assert Client().get(url).status_code == 302  # to the login
    customer = client_for(UserFactory())
    response = customer.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("merchant:home")


def test_dashboard_links_the_csv_of_the_period_shown(merchant):
    page = client_for(merchant.owner).get(reverse("merchant:home"), {"from": "2025-03-01", "to": "2025-03-31"})
    assert f'href="{reverse("merchant:bookings-csv")}?from=2025-03-01&amp;to=2025-03-31"' in page.content.decode()


# --- Today's schedule -----------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Auckland", "Asia/Kolkata"]


def zone_in_daytime(now: datetime) -> zoneinfo.ZoneInfo:
    """A zone where it is between 06:00 and 18:00 now, so a slot two hours ahead is still today there."""
    for name in ZONES:
        zone = zoneinfo.ZoneInfo(name)
        if 6 <= now.astimezone(zone).hour < 18:
            return zone
    raise AssertionError("the zones cover every hour")


def test_todays_schedule_shows_the_merchants_local_day_with_who_is_coming_and_check_in():
    now = timezone.now()
    zone = zone_in_daytime(now)
    merchant = MerchantFactory(timezone=zone.key)
    theme = ThemeFactory(
        merchant=merchant,
        title="Lighthouse",
        currency="eur",
        price_tiers=[
            {"code": "adult", "label": "Adult", "price": 3000},
            {"code": "child", "label": "Child", "price": 1500},
        ],
    )
    today = now.astimezone(zone).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=zone)
    early = slot_at(theme, midnight + timedelta(minutes=30), minutes=20)  # today, long over
    running = slot_at(theme, now - timedelta(minutes=10), minutes=30)
    later = slot_at(theme, now + timedelta(hours=2), minutes=30)
    slot_at(theme, midnight - timedelta(minutes=30), minutes=20)  # yesterday, local
    slot_at(theme, midnight + timedelta(days=1, minutes=30), minutes=20)  # tomorrow, local
    SlotFactory(theme=ThemeFactory(), starts_at=now + timedelta(minutes=5))  # another merchant's, today

    ada = ConfirmedBookingFactory(
        slot=running,
        customer=UserFactory(full_name="Ada Lovelace"),
        party_size=3,
        amount=7500,
        tickets=[{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}],
    )
    held = BookingFactory(slot=running, customer=UserFactory(full_name="Hal Held"), party_size=1)
    grace = ConfirmedBookingFactory(slot=later, customer=UserFactory(full_name="Grace Hopper"), party_size=2)

    client = client_for(merchant.owner)
    response = client.get(reverse("merchant:home"))

    assert response.status_code == 200
    assert [slot.pk for slot in response.context["today_slots"]] == [early.pk, running.pk, later.pk]
    page = response.content.decode()
    today_section = page[page.index('id="today-heading"') : page.index('id="week-heading"')]
    row = re.search(rf'<tr id="booking-{ada.pk}">.*?</tr>', today_section, flags=re.S).group(0)
    assert "Ada Lovelace" in row
    assert "2 adults, 1 child" in row
    assert "Paid" in row
    assert f'action="{reverse("merchant:booking-attendance", args=[ada.pk])}"' in row
    held_row = re.search(rf'<tr id="booking-{held.pk}">.*?</tr>', today_section, flags=re.S).group(0)
    assert "Held, not paid" in held_row
    assert "<form" not in held_row
    grace_row = re.search(rf'<tr id="booking-{grace.pk}">.*?</tr>', today_section, flags=re.S).group(0)
    assert "disabled" in grace_row
    assert f'aria-describedby="checkin-note-{later.pk}"' in grace_row
    assert f'id="checkin-note-{later.pk}"' in today_section

    checked = client.post(
        reverse("merchant:booking-attendance", args=[ada.pk]), {"status": "attended", "next": reverse("merchant:home")}
    )
    assert checked["Location"] == f"{reverse('merchant:home')}#booking-{ada.pk}"
    ada.refresh_from_db()
    assert ada.status == BookingStatus.ATTENDED
    assert "Checked in" in client.get(reverse("merchant:home")).content.decode()


def test_next_seven_days_and_week_page_show_the_minimum_players_status(merchant):
    theme = ThemeFactory(merchant=merchant, title="Big Heist", min_players=4, min_players_deadline_hours=1)
    needs = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=2), capacity=8)
    ConfirmedBookingFactory(slot=needs, party_size=1)
    sure = SlotFactory(
        theme=theme, starts_at=timezone.now() + timedelta(days=3), capacity=8, guaranteed_at=timezone.now()
    )
    ConfirmedBookingFactory(slot=sure, party_size=4)
    client = client_for(merchant.owner)

    dashboard = client.get(reverse("merchant:home")).content.decode()
    assert "Needs 3 more to run" in dashboard
    assert "Guaranteed" in dashboard

    starts = needs.starts_at.astimezone(merchant.tzinfo).date()
    week = client.get(reverse("merchant:week"), {"start": starts.isoformat()}).content.decode()
    assert "Needs 3 more to run" in week


def test_week_page_shows_tickets(merchant):
    theme = ThemeFactory(
        merchant=merchant, price_tiers=[{"code": "adult", "label": "Adult", "price": 3000}], currency="eur"
    )
    slot = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=1))
    ConfirmedBookingFactory(slot=slot, party_size=2, tickets=[{"tier": "adult", "quantity": 2}])
    starts = slot.starts_at.astimezone(merchant.tzinfo).date()

    week = client_for(merchant.owner).get(reverse("merchant:week"), {"start": starts.isoformat()})

    assert "(2 adults)" in week.content.decode()


def test_stats_period_bounds_are_local_midnights():
    merchant = MerchantFactory(timezone="Europe/Berlin")
    period = merchant_stats.stats_period(
        merchant=merchant, date_from=date(2025, 3, 30), date_to=date(2025, 3, 30), now=datetime(2025, 4, 2, tzinfo=UTC)
    )
    assert (period.start, period.end) == (datetime(2025, 3, 29, 23, tzinfo=UTC), datetime(2025, 3, 30, 22, tzinfo=UTC))
    assert period.days == 1
    assert not period.weekly
