"""The merchant portal pages (/merchant/) through Django's test client."""

from __future__ import annotations

import html
import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import Slot, SlotStatus, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.models import Merchant, MerchantStatus
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def merchant():
    return MerchantFactory(timezone="Europe/Berlin")


@pytest.fixture
def client(merchant) -> Client:
    return client_for(merchant.owner)


@pytest.fixture
def theme(merchant) -> Theme:
    return ThemeFactory(merchant=merchant, title="The Vault", duration_minutes=60, price=2500)


@pytest.fixture
def slot(theme) -> Slot:
    return SlotFactory(theme=theme, capacity=6)


@pytest.fixture
def started_slot(theme) -> Slot:
    starts = timezone.now() - timedelta(minutes=10)
    return SlotFactory(theme=theme, starts_at=starts, ends_at=starts + timedelta(hours=1), capacity=6)


def object_urls(theme: Theme, slot: Slot, booking: Booking) -> list[tuple[str, str]]:
    """(method, url) of every page that opens one of the merchant's objects."""
    return [
        ("get", reverse("merchant:theme-edit", args=[theme.pk])),
        ("post", reverse("merchant:theme-edit", args=[theme.pk])),
        ("get", reverse("merchant:theme-deactivate", args=[theme.pk])),
        ("post", reverse("merchant:theme-deactivate", args=[theme.pk])),
        ("get", reverse("merchant:slot-list", args=[theme.pk])),
        ("post", reverse("merchant:slot-add", args=[theme.pk])),
        ("get", reverse("merchant:slot-schedule", args=[theme.pk])),
        ("post", reverse("merchant:slot-schedule", args=[theme.pk])),
        ("get", reverse("merchant:slot-capacity", args=[slot.pk])),
        ("post", reverse("merchant:slot-capacity", args=[slot.pk])),
        ("get", reverse("merchant:slot-cancel", args=[slot.pk])),
        ("post", reverse("merchant:slot-cancel", args=[slot.pk])),
        ("get", reverse("merchant:slot-participants", args=[slot.pk])),
        ("post", reverse("merchant:booking-attendance", args=[booking.pk])),
    ]


# --- Access ---------------------------------------------------------------------------------


def test_every_page_renders_for_the_owner(client, theme, slot):
    booking = ConfirmedBookingFactory(slot=slot)
    urls = [
        reverse("merchant:home"),
        reverse("merchant:theme-list"),
        reverse("merchant:theme-create"),
        reverse("merchant:theme-edit", args=[theme.pk]),
        reverse("merchant:theme-deactivate", args=[theme.pk]),
        reverse("merchant:slot-list", args=[theme.pk]),
        reverse("merchant:slot-list", args=[theme.pk]) + "?show=past",
        reverse("merchant:slot-schedule", args=[theme.pk]),
        reverse("merchant:slot-capacity", args=[slot.pk]),
        reverse("merchant:slot-cancel", args=[slot.pk]),
        reverse("merchant:slot-participants", args=[slot.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b'name="csrfmiddlewaretoken"' in response.content or "participants" in url, url
    assert booking.customer.email in client.get(reverse("merchant:slot-participants", args=[slot.pk])).content.decode()


def test_every_form_carries_a_csrf_token_and_posts_without_one_are_refused(merchant, theme, slot, started_slot):
    ConfirmedBookingFactory(slot=started_slot)
    client = client_for(merchant.owner)
    for url in [
        reverse("merchant:theme-create"),
        reverse("merchant:theme-edit", args=[theme.pk]),
        reverse("merchant:theme-deactivate", args=[theme.pk]),
        reverse("merchant:slot-list", args=[theme.pk]),
        reverse("merchant:slot-schedule", args=[theme.pk]),
        reverse("merchant:slot-capacity", args=[slot.pk]),
        reverse("merchant:slot-cancel", args=[slot.pk]),
        reverse("merchant:slot-participants", args=[started_slot.pk]),
    ]:
        body = client.get(url).content.decode()
        main = body[body.index("<main") : body.index("</main>")]
        forms = main.count('<form method="post"')
        assert forms >= 1, url
        assert main.count('name="csrfmiddlewaretoken"') == forms, url

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(merchant.owner)
    response = strict.post(reverse("merchant:slot-cancel", args=[slot.pk]))
    assert response.status_code == 403
    slot.refresh_from_db()
    assert slot.status == SlotStatus.OPEN


def test_anonymous_is_sent_to_login_from_every_page(theme, slot):
    booking = ConfirmedBookingFactory(slot=slot)
    anonymous = Client()
    pages = [("get", reverse("merchant:home")), ("get", reverse("merchant:theme-list"))]
    pages += [("get", reverse("merchant:theme-create"))] + object_urls(theme, slot, booking)
    for method, url in pages:
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_another_merchant_gets_404_for_every_object_page_and_post(theme, slot):
    booking = ConfirmedBookingFactory(slot=slot)
    intruder = client_for(MerchantFactory().owner)
    for method, url in object_urls(theme, slot, booking):
        data = {"status": "attended", "capacity": "1", "action": "create"} if method == "post" else None
        response = getattr(intruder, method)(url, data)
        assert response.status_code == 404, (method, url)
    theme.refresh_from_db()
    slot.refresh_from_db()
    booking.refresh_from_db()
    assert theme.is_active
    assert (slot.status, slot.capacity) == (SlotStatus.OPEN, 6)
    assert booking.status == BookingStatus.CONFIRMED


def test_admin_without_a_merchant_profile_is_not_a_merchant(theme, slot):
    admin = client_for(AdminFactory())

    assert admin.get(reverse("merchant:slot-participants", args=[slot.pk])).status_code == 302
    home = admin.get(reverse("merchant:home"))
    assert "Become a merchant" in home.content.decode()


def test_admin_with_a_merchant_profile_sees_only_their_own_objects(theme, slot):
    admin_user = AdminFactory()
    MerchantFactory(owner=admin_user)
    admin = client_for(admin_user)

    assert admin.get(reverse("merchant:theme-list")).status_code == 200
    assert admin.get(reverse("merchant:slot-participants", args=[slot.pk])).status_code == 404
    assert admin.post(reverse("merchant:slot-cancel", args=[slot.pk])).status_code == 404


def test_pending_merchants_are_sent_home_from_theme_and_slot_pages():
    merchant = PendingMerchantFactory()
    own_theme = ThemeFactory(merchant=merchant)
    client = client_for(merchant.owner)

    for url in [
        reverse("merchant:theme-list"),
        reverse("merchant:theme-create"),
        reverse("merchant:slot-list", args=[own_theme.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("merchant:home")
    response = client.post(reverse("merchant:theme-create"), {"title": "x"}, follow=True)
    assert "Only approved merchants can manage themes and slots." in response.content.decode()
    assert Theme.objects.filter(merchant=merchant).count() == 1


# --- Apply, pending, suspended --------------------------------------------------------------


def test_a_customer_sees_the_apply_form_and_applies():
    user = UserFactory()
    client = client_for(user)

    page = client.get(reverse("merchant:home"))
    assert page.status_code == 200
    assert 'for="id_timezone"' in page.content.decode()
    assert '<option value="Europe/Berlin">' in page.content.decode()

    response = client.post(
        reverse("merchant:home"),
        {"name": "Riddle Rooms", "description": "Rooms.", "city": "Porto", "timezone": "Europe/Lisbon"},
        follow=True,
    )
    merchant = Merchant.objects.get(owner=user)
    assert merchant.status == MerchantStatus.PENDING
    assert merchant.timezone == "Europe/Lisbon"
    assert "Waiting for approval" in response.content.decode()


def test_apply_with_a_bad_timezone_re_renders_with_the_error_next_to_the_field():
    user = UserFactory()
    client = client_for(user)

    response = client.post(
        reverse("merchant:home"), {"name": "Riddle Rooms", "city": "Porto", "timezone": "Mars/Olympus_Mons"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["timezone"]
    assert 'id="id_timezone_error"' in response.content.decode()
    assert not Merchant.objects.filter(owner=user).exists()


def test_apply_with_missing_fields_re_renders():
    client = client_for(UserFactory())

    response = client.post(reverse("merchant:home"), {"name": "", "city": "", "timezone": ""})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "city", "timezone"}


def test_pending_merchant_sees_the_waiting_state():
    merchant = PendingMerchantFactory(name="Puzzle Palace")
    response = client_for(merchant.owner).get(reverse("merchant:home"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Waiting for approval" in body
    assert "Puzzle Palace" in body
    assert "apply" not in response.templates[0].name


def test_suspended_merchant_sees_a_notice():
    merchant = MerchantFactory(status=MerchantStatus.SUSPENDED)
    response = client_for(merchant.owner).get(reverse("merchant:home"))

    assert response.status_code == 200
    assert "suspended" in response.content.decode()


def test_posting_the_apply_form_again_with_a_profile_changes_nothing(merchant, client):
    response = client.post(reverse("merchant:home"), {"name": "Other", "city": "X", "timezone": "UTC"})

    assert response.status_code == 302
    assert Merchant.objects.filter(owner=merchant.owner).count() == 1


# --- Dashboard ------------------------------------------------------------------------------


def _dashboard_data(merchant, n_slots: int) -> None:
    theme = ThemeFactory(merchant=merchant)
    now = timezone.now()
    for i in range(n_slots):
        slot = SlotFactory(theme=theme, starts_at=now + timedelta(hours=3 + 2 * i), capacity=4)
        ConfirmedBookingFactory(slot=slot, party_size=2)


def test_dashboard_shows_fill_rate_todays_participants_and_recent_bookings(merchant, client, theme):
    now = timezone.now()
    soon = SlotFactory(theme=theme, starts_at=now + timedelta(days=1), capacity=4)
    later = SlotFactory(theme=theme, starts_at=now + timedelta(days=20), capacity=4)
    ConfirmedBookingFactory(slot=soon, party_size=3, customer=UserFactory(full_name="Ada Lovelace"))
    starts = now - timedelta(minutes=1)  # started a minute ago: today's, if still the same local day
    today_slot = SlotFactory(theme=theme, starts_at=starts, ends_at=starts + timedelta(hours=1))
    ConfirmedBookingFactory(slot=today_slot, customer=UserFactory(full_name="Grace Hopper"))
    expect_today = timezone.localtime(starts, BERLIN).date() == timezone.localdate(timezone=BERLIN)

    response = client.get(reverse("merchant:home"))

    assert response.status_code == 200
    ctx = response.context
    # The next seven days (merchant's calendar, from today): the slot of tomorrow, not the one in 20 days.
    next_days = [slot for day in ctx["week_days"] for slot in day["slots"]]
    upcoming = [s for s in next_days if s.starts_at > now]
    assert [s.pk for s in upcoming] == [soon.pk]
    assert upcoming[0].fill_percent == 75
    assert upcoming[0].seats_taken == 3
    assert later.pk not in [s.pk for s in next_days]
    assert "75%" in response.content.decode()
    assert "Ada Lovelace" in response.content.decode()
    assert len(ctx["recent_bookings"]) >= 1
    if expect_today:
        assert [b.customer.full_name for s in ctx["today_slots"] for b in s.week_bookings] == ["Grace Hopper"]


def test_dashboard_recent_bookings_are_the_last_twenty_of_this_merchant(merchant, client, slot):
    for _ in range(22):
        BookingFactory(slot=slot)
    BookingFactory()  # another merchant's

    recent = client.get(reverse("merchant:home")).context["recent_bookings"]

    assert len(recent) == 20
    assert all(b.slot.theme.merchant_id == merchant.pk for b in recent)


def test_dashboard_query_count_does_not_grow_with_the_number_of_slots():
    small, large = MerchantFactory(), MerchantFactory()
    _dashboard_data(small, 3)
    _dashboard_data(large, 15)
    small_client, large_client = client_for(small.owner), client_for(large.owner)
    small_client.get(reverse("merchant:home"))  # warm up (session, content types)

    with CaptureQueriesContext(connection) as few:
        response = small_client.get(reverse("merchant:home"))
    assert sum(len(day["slots"]) for day in response.context["week_days"]) == 3
    with CaptureQueriesContext(connection) as many:
        response = large_client.get(reverse("merchant:home"))
    assert sum(len(day["slots"]) for day in response.context["week_days"]) == 15

    assert len(few) == len(many)
    # Session and user, the merchant, the seven days (slots, bookings with customers), the period's figures
    # (bookings, started slots, revenue) and the recent bookings.
    assert len(many) <= 12, [q["sql"] for q in many.captured_queries]


# --- Themes --------------------------------------------------------------------------------

THEME_INPUT = {
    "title": "Pirate Cove",
    "description": "Arr.",
    "duration_minutes": "90",
    "price": "25.50",
    "currency": "EUR",
    "min_party": "2",
    "max_party": "5",
    "cancellation_cutoff_hours": "12",
}


def test_theme_list_shows_only_own_themes(client, theme):
    ThemeFactory(title="Someone else's room")

    body = client.get(reverse("merchant:theme-list")).content.decode()

    assert "The Vault" in body
    assert "$25.00" in body
    assert "Someone else" not in body


def test_theme_create_converts_the_price_to_minor_units(merchant, client):
    response = client.post(reverse("merchant:theme-create"), THEME_INPUT)

    theme = Theme.objects.get(merchant=merchant, title="Pirate Cove")
    assert response.status_code == 302
    assert response["Location"] == reverse("merchant:slot-list", args=[theme.pk])
    assert (theme.price, theme.currency, theme.duration_minutes) == (2550, "eur", 90)
    assert (theme.min_party, theme.max_party, theme.cancellation_cutoff_hours) == (2, 5, 12)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": "abc"}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": "12.345"}, "price"),
        ({"price": "99999999999"}, "price"),
        ({"duration_minutes": "0"}, "duration_minutes"),
        ({"duration_minutes": "10000000000000"}, "duration_minutes"),
        ({"min_party": "5", "max_party": "2"}, "max_party"),
        ({"currency": "euro"}, "currency"),
        ({"title": ""}, "title"),
    ],
)
def test_theme_create_with_bad_input_re_renders_with_field_errors(merchant, client, changes, field):
    response = client.post(reverse("merchant:theme-create"), {**THEME_INPUT, **changes})

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not Theme.objects.filter(merchant=merchant).exists()


def test_theme_create_ignores_a_posted_merchant(merchant, client):
    other = MerchantFactory()

    client.post(reverse("merchant:theme-create"), {**THEME_INPUT, "merchant": other.pk})

    assert Theme.objects.get(title="Pirate Cove").merchant == merchant


def test_theme_edit_shows_the_price_in_major_units_and_saves(client, theme):
    page = client.get(reverse("merchant:theme-edit", args=[theme.pk]))
    assert 'value="25.00"' in page.content.decode()

    response = client.post(
        reverse("merchant:theme-edit", args=[theme.pk]), {**THEME_INPUT, "title": "The Vault II", "is_active": "on"}
    )

    assert response.status_code == 302
    theme.refresh_from_db()
    assert (theme.title, theme.price, theme.is_active) == ("The Vault II", 2550, True)


def test_theme_edit_with_bad_input_keeps_the_theme(client, theme):
    response = client.post(reverse("merchant:theme-edit", args=[theme.pk]), {**THEME_INPUT, "max_party": "1"})

    assert response.status_code == 400
    theme.refresh_from_db()
    assert theme.title == "The Vault"


def test_theme_deactivate_asks_first_then_deactivates(client, theme):
    page = client.get(reverse("merchant:theme-deactivate", args=[theme.pk]))
    assert "Deactivate theme" in page.content.decode()
    theme.refresh_from_db()
    assert theme.is_active

    response = client.post(reverse("merchant:theme-deactivate", args=[theme.pk]))

    assert response.status_code == 302
    theme.refresh_from_db()
    assert not theme.is_active


# --- One slot ------------------------------------------------------------------------------


def _next_local(days: int, at: time) -> tuple[date, datetime]:
    day = timezone.localdate(timezone=BERLIN) + timedelta(days=days)
    return day, datetime.combine(day, at, tzinfo=BERLIN)


def test_slot_list_shows_upcoming_slots_with_seats_left(client, theme, slot):
    BookingFactory(slot=slot, party_size=2)
    SlotFactory(theme=ThemeFactory(), capacity=3)  # another merchant's

    response = client.get(reverse("merchant:slot-list", args=[theme.pk]))

    slots = list(response.context["page"].object_list)
    assert [s.pk for s in slots] == [slot.pk]
    assert slots[0].seats_left == 4
    local = timezone.localtime(slot.starts_at, BERLIN)
    assert local.strftime("%H:%M") in response.content.decode()


def test_slot_add_turns_local_time_into_utc(client, theme):
    day, expected = _next_local(10, time(10, 0))

    response = client.post(
        reverse("merchant:slot-add", args=[theme.pk]), {"date": day.isoformat(), "time": "10:00", "capacity": "8"}
    )

    assert response.status_code == 302
    slot = Slot.objects.get(theme=theme)
    assert slot.starts_at == expected.astimezone(UTC)
    assert slot.ends_at == slot.starts_at + timedelta(minutes=60)
    assert slot.capacity == 8


def test_slot_add_overlap_shows_the_slot_overlap_message(client, theme):
    day, starts = _next_local(10, time(10, 0))
    SlotFactory(theme=theme, starts_at=starts, ends_at=starts + timedelta(hours=1))

    response = client.post(
        reverse("merchant:slot-add", args=[theme.pk]), {"date": day.isoformat(), "time": "10:30", "capacity": "8"}
    )

    assert response.status_code == 400
    assert "This slot overlaps another slot of the same theme." in response.content.decode()
    assert Slot.objects.filter(theme=theme).count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"capacity": "abc"}, "capacity"),
        ({"capacity": "-1"}, "capacity"),
        ({"capacity": "99999999999999"}, "capacity"),
        ({"time": "25:99"}, "time"),
        ({"date": "not-a-date"}, "date"),
        ({"date": "9999-12-31"}, "date"),
        ({"date": "2001-01-01"}, "date"),
        ({"date": "0001-01-01", "time": "00:30"}, "date"),
    ],
)
def test_slot_add_with_bad_input_re_renders_with_field_errors(client, theme, data, field):
    day, _ = _next_local(10, time(10, 0))
    payload = {"date": day.isoformat(), "time": "10:00", "capacity": "8", **data}

    response = client.post(reverse("merchant:slot-add", args=[theme.pk]), payload)

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Slot.objects.filter(theme=theme).exists()


def test_slot_add_earlier_today_shows_the_services_refusal(client, theme):
    today = timezone.localdate(timezone=BERLIN)

    response = client.post(
        reverse("merchant:slot-add", args=[theme.pk]), {"date": today.isoformat(), "time": "00:00", "capacity": "4"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["date"] == ["A slot must start in the future."]


def test_slot_add_refuses_a_time_skipped_by_the_clocks(client, theme):
    year = timezone.localdate().year + 1
    gap_day = _last_sunday_of_march(year)  # 02:00-03:00 does not exist in Berlin

    response = client.post(
        reverse("merchant:slot-add", args=[theme.pk]), {"date": gap_day.isoformat(), "time": "02:30", "capacity": "4"}
    )

    assert response.status_code == 400
    assert "clocks go forward" in response.context["form"].errors["time"][0]


# --- Weekly schedule -----------------------------------------------------------------------


def _last_sunday_of_march(year: int) -> date:
    day = date(year, 3, 31)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def _dst_schedule(**overrides) -> dict:
    year = timezone.localdate().year + 1
    switch = _last_sunday_of_march(year)
    data = {
        "start_date": (switch - timedelta(days=3)).isoformat(),
        "end_date": (switch + timedelta(days=3)).isoformat(),
        "weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        "times": "10:00",
        "capacity": "6",
    }
    return {**data, **overrides}


def test_schedule_preview_lists_the_slots_in_local_time_and_creates_nothing(client, theme):
    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**_dst_schedule(), "action": "preview"})

    assert response.status_code == 200
    plan = response.context["plan"]
    assert len(plan.to_create) == 7
    assert {timezone.localtime(s, BERLIN).strftime("%H:%M") for s, _ in plan.to_create} == {"10:00"}
    body = response.content.decode()
    assert body.count('<tr class="plan-create">') == 7
    assert body.count('<td data-label="Starts">10:00</td>') == 7
    assert "Create 7 slots" in body
    assert not Slot.objects.filter(theme=theme).exists()


def test_schedule_confirm_keeps_ten_oclock_local_across_the_dst_change(client, theme):
    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**_dst_schedule(), "action": "create"})

    assert response.status_code == 302
    assert "Created 7 slots; skipped 0." in messages_of(response)
    slots = list(Slot.objects.filter(theme=theme).order_by("starts_at"))
    assert len(slots) == 7
    assert {timezone.localtime(s.starts_at, BERLIN).hour for s in slots} == {10}
    utc_hours = [s.starts_at.astimezone(UTC).hour for s in slots]
    assert utc_hours == [9, 9, 9, 8, 8, 8, 8]  # CET (+1) before the switch, CEST (+2) from that Sunday
    assert {s.capacity for s in slots} == {6}


def test_schedule_confirm_form_posts_back_exactly_what_was_previewed(client, theme):
    preview = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**_dst_schedule(), "action": "preview"})
    confirm = re.search(r'<form method="post" class="confirm-form">(.*?)</form>', preview.content.decode(), re.S)[1]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm):
        fields.setdefault(name, []).append(html.unescape(value))
    assert 'id="' not in confirm  # no clash with the editable form's ids

    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**fields, "action": "create"})

    assert response.status_code == 302
    assert Slot.objects.filter(theme=theme).count() == 7


def test_schedule_preview_shows_overlaps(client, theme):
    year = timezone.localdate().year + 1
    switch = _last_sunday_of_march(year)
    busy = datetime.combine(switch, time(10, 30), tzinfo=BERLIN)
    SlotFactory(theme=theme, starts_at=busy, ends_at=busy + timedelta(hours=1))

    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**_dst_schedule(), "action": "preview"})

    plan = response.context["plan"]
    assert len(plan.to_create) == 6
    assert [timezone.localtime(s, BERLIN).date() for s, _ in plan.overlapping] == [switch]
    assert response.content.decode().count('<tr class="plan-overlap">') == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"times": "25:99"}, "times"),
        ({"times": "10:00, banana"}, "times"),
        ({"times": ""}, "times"),
        ({"capacity": "abc"}, "capacity"),
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": ["9"]}, "weekdays"),
        ({"start_date": "2031-02-30"}, "start_date"),
    ],
)
def test_schedule_with_bad_input_re_renders_with_field_errors(client, theme, changes, field):
    for action in ("preview", "create"):
        response = client.post(
            reverse("merchant:slot-schedule", args=[theme.pk]), {**_dst_schedule(**changes), "action": action}
        )
        assert response.status_code == 400
        assert field in response.context["form"].errors
    assert not Slot.objects.filter(theme=theme).exists()


def test_schedule_far_in_the_past_or_future_is_refused_not_a_crash(client, theme):
    for start, end in [("0001-01-01", "0001-01-07"), ("9999-12-25", "9999-12-31")]:
        response = client.post(
            reverse("merchant:slot-schedule", args=[theme.pk]),
            {**_dst_schedule(start_date=start, end_date=end), "action": "preview"},
        )
        assert response.status_code == 400
        assert "start_date" in response.context["form"].errors


def test_schedule_ending_beyond_the_two_year_horizon_is_refused(client, theme):
    start = timezone.localdate(timezone=BERLIN) + timedelta(days=2 * 366 - 20)
    data = _dst_schedule(start_date=start.isoformat(), end_date=(start + timedelta(days=30)).isoformat())

    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**data, "action": "create"})

    assert response.status_code == 400
    assert response.context["form"].errors["end_date"] == ["Choose a last day within the next two years."]
    assert not Slot.objects.filter(theme=theme).exists()


def test_schedule_end_before_start_is_refused(client, theme):
    data = _dst_schedule()
    data["start_date"], data["end_date"] = data["end_date"], data["start_date"]

    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**data, "action": "preview"})

    assert response.status_code == 400
    assert "must not be before" in response.context["form"].errors["end_date"][0]


def test_schedule_of_more_than_a_thousand_slots_is_refused(client, theme):
    start = timezone.localdate(timezone=BERLIN) + timedelta(days=1)
    data = _dst_schedule(
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=300)).isoformat(),
        times="09:00,12:00,15:00,18:00",
    )

    response = client.post(reverse("merchant:slot-schedule", args=[theme.pk]), {**data, "action": "create"})

    assert response.status_code == 400
    assert "at most 1000" in response.content.decode()
    assert not Slot.objects.filter(theme=theme).exists()


# --- Capacity, cancel ----------------------------------------------------------------------


def test_capacity_change_below_booked_shows_the_error_next_to_the_field(client, slot):
    BookingFactory(slot=slot, party_size=4)

    response = client.post(reverse("merchant:slot-capacity", args=[slot.pk]), {"capacity": "3"})

    assert response.status_code == 400
    assert "4 seats are already taken" in response.context["form"].errors["capacity"][0]
    assert 'id="id_capacity_error"' in response.content.decode()
    slot.refresh_from_db()
    assert slot.capacity == 6


def test_capacity_change_saves(client, slot):
    BookingFactory(slot=slot, party_size=4)

    response = client.post(reverse("merchant:slot-capacity", args=[slot.pk]), {"capacity": "4"})

    assert response.status_code == 302
    slot.refresh_from_db()
    assert slot.capacity == 4


@pytest.mark.parametrize("value", ["abc", "", "-3", "1e9"])
def test_capacity_change_with_bad_input_re_renders(client, slot, value):
    response = client.post(reverse("merchant:slot-capacity", args=[slot.pk]), {"capacity": value})

    assert response.status_code == 400
    assert "capacity" in response.context["form"].errors


def test_slot_cancel_confirmation_counts_bookings_and_refunds_then_cancels(client, slot):
    paid = ConfirmedBookingFactory(slot=slot, party_size=2)
    ConfirmedBookingFactory(slot=slot, party_size=1, amount=0)  # confirmed but free: nothing to refund
    hold = BookingFactory(slot=slot, party_size=1)
    BookingFactory(slot=slot, status=BookingStatus.EXPIRED, expires_at=timezone.now() - timedelta(minutes=1))

    page = client.get(reverse("merchant:slot-cancel", args=[slot.pk]))
    impact = page.context["impact"]
    assert (impact.bookings, impact.people, impact.refunds) == (3, 4, 1)
    body = page.content.decode()
    assert "<strong>3</strong> bookings (4 people) will be cancelled" in body
    assert "<strong>1</strong> paid booking will be refunded" in body
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.OPEN

    response = client.post(reverse("merchant:slot-cancel", args=[slot.pk]))

    assert response.status_code == 302
    assert "Slot cancelled. 3 bookings were cancelled." in messages_of(response)
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELLED
    assert {Booking.objects.get(pk=b.pk).status for b in (paid, hold)} == {BookingStatus.CANCELLED}


def test_cancelling_a_slot_that_already_ended_shows_the_refusal(client, theme):
    starts = timezone.now() - timedelta(hours=3)
    ended = SlotFactory(theme=theme, starts_at=starts, ends_at=starts + timedelta(hours=1))
    ConfirmedBookingFactory(slot=ended)

    response = client.post(reverse("merchant:slot-cancel", args=[ended.pk]))

    assert response.status_code == 409
    assert "This slot has already ended." in response.content.decode()
    ended.refresh_from_db()
    assert ended.status == SlotStatus.OPEN


# --- Participants and attendance ----------------------------------------------------------------


def test_participants_page_lists_bookings_with_party_and_contact(client, slot):
    ConfirmedBookingFactory(
        slot=slot, party_size=3, customer=UserFactory(full_name="Ada Lovelace", email="ada@example.com")
    )
    BookingFactory(slot=slot, status=BookingStatus.CANCELLED, customer=UserFactory(full_name="Gone Person"))

    response = client.get(reverse("merchant:slot-participants", args=[slot.pk]))

    body = response.content.decode()
    assert "Ada Lovelace" in body
    assert "ada@example.com" in body
    assert '<td data-label="Party">3</td>' in body
    assert "Gone Person" not in body
    # Before the start: no attendance buttons, and the page says why.
    assert "Attendance can be marked once the slot starts" in body
    assert 'value="attended"' not in body


def test_attendance_before_the_start_is_refused_with_a_message(client, slot):
    booking = ConfirmedBookingFactory(slot=slot)

    response = client.post(reverse("merchant:booking-attendance", args=[booking.pk]), {"status": "attended"})

    assert response.status_code == 302
    assert "Attendance can be marked once the slot has started." in messages_of(response)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_attendance_after_the_start_marks_attended_and_no_show(client, started_slot):
    booking = ConfirmedBookingFactory(slot=started_slot, customer=UserFactory(full_name="Ada Lovelace"))
    page = client.get(reverse("merchant:slot-participants", args=[started_slot.pk]))
    assert 'aria-label="Mark Ada Lovelace attended"' in page.content.decode()

    response = client.post(
        reverse("merchant:booking-attendance", args=[booking.pk]), {"status": "attended"}, follow=True
    )

    assert response.status_code == 200
    assert "Ada Lovelace marked attended." in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ATTENDED

    client.post(reverse("merchant:booking-attendance", args=[booking.pk]), {"status": "no_show"})
    booking.refresh_from_db()
    assert booking.status == BookingStatus.NO_SHOW


@pytest.mark.parametrize("status", ["", "cancelled", "confirmed"])
def test_attendance_with_a_bad_status_changes_nothing(client, started_slot, status):
    booking = ConfirmedBookingFactory(slot=started_slot)

    response = client.post(reverse("merchant:booking-attendance", args=[booking.pk]), {"status": status})

    assert response.status_code == 302
    assert "Choose attended or no-show." in messages_of(response)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_attendance_on_an_unpaid_hold_is_refused(client, started_slot):
    hold = BookingFactory(slot=started_slot)

    response = client.post(reverse("merchant:booking-attendance", args=[hold.pk]), {"status": "attended"})

    assert "Only confirmed bookings can be marked." in messages_of(response)
    hold.refresh_from_db()
    assert hold.status == BookingStatus.PENDING_PAYMENT


def test_attendance_is_post_only(client, started_slot):
    booking = ConfirmedBookingFactory(slot=started_slot)

    assert client.get(reverse("merchant:booking-attendance", args=[booking.pk])).status_code == 405
