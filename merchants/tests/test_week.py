"""The merchant's "this week" page, check-in from it, and the paid / held split of "Booked"."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import merchant_selectors
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Summer time starts in Berlin on Sunday 29 March 2026 at 02:00 (clocks go to 03:00).
DST_WEEK_MONDAY = date(2026, 3, 23)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def local(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def week_of(slot) -> str:
    """The week page showing `slot` (robust when a test runs late on a Sunday)."""
    day = timezone.localtime(slot.starts_at, slot.theme.merchant.tzinfo).date()
    return reverse("merchant:week") + f"?start={day.isoformat()}"


def day_sections(html: str) -> dict[str, str]:
    """The week page's HTML of each day, by its ISO date."""
    parts = re.split(r'<section class="week-day[^"]*" aria-labelledby="day-(\d{4}-\d{2}-\d{2})">', html)
    return {parts[i]: parts[i + 1].split("</section>")[0] for i in range(1, len(parts), 2)}


@pytest.fixture
def merchant():
    return MerchantFactory(timezone="Europe/Berlin", name="Kreuzberg Rooms")


def test_week_lists_own_slots_day_by_day_in_the_merchant_timezone_across_a_dst_change(merchant):
    theme = ThemeFactory(merchant=merchant, title="Bunker Escape", duration_minutes=60)
    monday_early = SlotFactory(theme=theme, starts_at=local(2026, 3, 23, 0, 30))  # Sun 22 Mar 23:30 UTC
    sunday_late = SlotFactory(theme=theme, starts_at=local(2026, 3, 29, 23, 0))  # after the change: 21:00 UTC
    sunday_after_gap = SlotFactory(theme=theme, starts_at=local(2026, 3, 29, 3, 30))  # 01:30 UTC
    before = SlotFactory(theme=theme, starts_at=local(2026, 3, 22, 23, 0))  # the previous week
    after = SlotFactory(theme=theme, starts_at=local(2026, 3, 30, 0, 30))  # Sun 29 Mar 22:30 UTC: next week
    cancelled = SlotFactory(theme=theme, starts_at=local(2026, 3, 25, 10, 0), status=SlotStatus.CANCELLED)
    someone_elses = SlotFactory(
        theme=ThemeFactory(merchant=MerchantFactory(timezone="Europe/Berlin"), title="Other Room"),
        starts_at=local(2026, 3, 25, 12, 0),
    )

    found = merchant_selectors.merchant_week_slots(merchant=merchant, week_start=DST_WEEK_MONDAY)
    assert [s.pk for s in found] == [monday_early.pk, sunday_after_gap.pk, sunday_late.pk]

    # Any day of the week opens that week (here the Wednesday).
    response = client_for(merchant.owner).get(reverse("merchant:week") + "?start=2026-03-25")
    assert response.status_code == 200
    html = response.content.decode()
    days = day_sections(html)
    assert list(days) == [(DST_WEEK_MONDAY + timedelta(days=i)).isoformat() for i in range(7)]
    assert f'id="slot-{monday_early.pk}"' in days["2026-03-23"]
    assert "00:30–01:30 Bunker Escape" in days["2026-03-23"]
    assert f'id="slot-{sunday_after_gap.pk}"' in days["2026-03-29"]
    assert "03:30–04:30 Bunker Escape" in days["2026-03-29"]
    assert f'id="slot-{sunday_late.pk}"' in days["2026-03-29"]
    for absent in (before, after, cancelled, someone_elses):
        assert f'id="slot-{absent.pk}"' not in html
    assert "Other Room" not in html
    assert '?start=2026-03-16" rel="prev"' in html
    assert '?start=2026-03-30" rel="next"' in html


def test_week_shows_who_is_coming_paid_or_held_and_not_the_cancelled_or_run_out(merchant):
    now = timezone.now()
    theme = ThemeFactory(merchant=merchant, price=2000, currency="eur")
    slot = SlotFactory(theme=theme, starts_at=now + timedelta(hours=3), capacity=10)
    ConfirmedBookingFactory(slot=slot, party_size=3, customer=UserFactory(full_name="Paula Paid"))
    BookingFactory(slot=slot, party_size=2, customer=UserFactory(full_name="Hilde Held"))
    BookingFactory(
        slot=slot, party_size=1, customer=UserFactory(full_name="Erik Expired"), expires_at=now - timedelta(minutes=1)
    )
    ConfirmedBookingFactory(
        slot=slot, party_size=1, customer=UserFactory(full_name="Carl Cancelled"), status=BookingStatus.CANCELLED
    )

    html = client_for(merchant.owner).get(week_of(slot)).content.decode()

    assert "<strong>Paula Paid</strong> · party of 3" in html
    assert "<strong>Hilde Held</strong> · party of 2" in html
    assert "Held, not paid" in html
    assert ">Paid<" in html
    assert "Erik Expired" not in html
    assert "Carl Cancelled" not in html
    assert "3 paid + 2 held / 10" in html
    # Not started yet: no check-in button, and the page says when it opens.
    assert "Check in" not in html.replace("Check-in opens", "")
    assert "Check-in opens at" in html


def test_week_refuses_a_date_that_is_not_a_date_or_too_far(merchant):
    client = client_for(merchant.owner)
    for bad in ("2026-02-30", "soon", "9999-12-31"):
        response = client.get(reverse("merchant:week") + f"?start={bad}")
        assert response.status_code == 400
        assert "Choose a week" in response.content.decode()


def test_week_is_for_approved_merchants_only():
    customer = UserFactory()
    response = client_for(customer).get(reverse("merchant:week"))
    assert response.status_code == 302
    assert response["Location"] == reverse("merchant:home")


def test_check_in_from_the_week_marks_attended_once_started_and_returns_to_the_week(merchant):
    now = timezone.now()
    slot = SlotFactory(theme=ThemeFactory(merchant=merchant), starts_at=now - timedelta(minutes=5))
    booking = ConfirmedBookingFactory(slot=slot, customer=UserFactory(full_name="Wanda Walkin"))
    client = client_for(merchant.owner)
    week_url = week_of(slot)

    page = client.get(week_url).content.decode()
    assert 'aria-label="Check in Wanda Walkin"' in page

    response = client.post(
        reverse("merchant:booking-attendance", args=[booking.pk]), {"status": "attended", "next": week_url}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{week_url}#booking-{booking.pk}"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ATTENDED
    assert "Checked in" in client.get(week_url).content.decode()


def test_check_in_is_refused_before_the_slot_starts(merchant):
    slot = SlotFactory(theme=ThemeFactory(merchant=merchant), starts_at=timezone.now() + timedelta(minutes=30))
    booking = ConfirmedBookingFactory(slot=slot)
    response = client_for(merchant.owner).post(
        reverse("merchant:booking-attendance", args=[booking.pk]),
        {"status": "attended", "next": reverse("merchant:week")},
    )
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Attendance can be marked once the slot has started."
    ]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_check_in_of_another_merchants_booking_is_a_404(merchant):
    other = ConfirmedBookingFactory(slot=SlotFactory(starts_at=timezone.now() - timedelta(minutes=5)))
    response = client_for(merchant.owner).post(
        reverse("merchant:booking-attendance", args=[other.pk]), {"status": "attended"}
    )
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == BookingStatus.CONFIRMED


@pytest.mark.parametrize("next_url", ["https://evil.example/merchant/", "//evil.example/merchant/", "/accounts/"])
def test_attendance_ignores_a_next_outside_the_merchant_portal(merchant, next_url):
    slot = SlotFactory(theme=ThemeFactory(merchant=merchant), starts_at=timezone.now() - timedelta(minutes=5))
    booking = ConfirmedBookingFactory(slot=slot)
    response = client_for(merchant.owner).post(
        reverse("merchant:booking-attendance", args=[booking.pk]), {"status": "attended", "next": next_url}
    )
    assert response["Location"] == reverse("merchant:slot-participants", args=[slot.pk]) + f"#booking-{booking.pk}"


def test_dashboard_and_nav_link_to_the_week(merchant):
    html = client_for(merchant.owner).get(reverse("merchant:home")).content.decode()
    assert html.count(f'href="{reverse("merchant:week")}"') >= 2
    week = client_for(merchant.owner).get(reverse("merchant:week")).content.decode()
    assert "<h1>This week</h1>" in week
    assert 'aria-current="page">This week</a>' in week


def test_booked_counts_separate_paid_from_held_seats_on_dashboard_and_slot_list(merchant):
    now = timezone.now()
    theme = ThemeFactory(merchant=merchant, price=1500)
    slot = SlotFactory(theme=theme, starts_at=now + timedelta(days=1), capacity=8)
    ConfirmedBookingFactory(slot=slot, party_size=4)
    ConfirmedBookingFactory(slot=slot, party_size=1, status=BookingStatus.ATTENDED)
    BookingFactory(slot=slot, party_size=2)  # a live hold
    BookingFactory(slot=slot, party_size=3, expires_at=now - timedelta(seconds=1))  # run out: not counted
    BookingFactory(slot=slot, party_size=1, status=BookingStatus.CANCELLED, expires_at=None)
    client = client_for(merchant.owner)

    for url in (reverse("merchant:home"), reverse("merchant:slot-list", args=[theme.pk])):
        html = client.get(url).content.decode()
        assert "5 paid + 2 held / 8" in html, url


def test_booked_count_without_holds_says_only_paid(merchant):
    slot = SlotFactory(theme=ThemeFactory(merchant=merchant), starts_at=timezone.now() + timedelta(days=1), capacity=6)
    ConfirmedBookingFactory(slot=slot, party_size=2)
    html = client_for(merchant.owner).get(reverse("merchant:home")).content.decode()
    assert "2 paid / 6" in html
    assert "held" not in html


def test_week_page_queries_do_not_grow_with_slots_and_bookings(merchant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    theme = ThemeFactory(merchant=merchant)
    client = client_for(merchant.owner)
    next_week = timezone.localdate(timezone.now(), merchant.tzinfo) + timedelta(days=7)
    start = local(next_week.year, next_week.month, next_week.day, 10, 0)
    slot = SlotFactory(theme=theme, starts_at=start)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(week_of(slot)).status_code == 200
        return len(captured)

    ConfirmedBookingFactory(slot=slot)
    few = queries()
    for hours in (2, 4, 6):
        more = SlotFactory(theme=theme, starts_at=start + timedelta(hours=hours))
        ConfirmedBookingFactory(slot=more)
        BookingFactory(slot=more)
    assert queries() == few
