from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import BookingStatus
from bookings.selectors import seats_taken
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.errors import DomainError, InvalidInput
from catalog import limits, services
from catalog.models import Slot, SlotStatus, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import slot_cancel_and_refund
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
LISBON = ZoneInfo("Europe/Lisbon")


def in_days(days: int, hour: int = 10) -> datetime:
    return (timezone.now() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def theme_slot_starts(theme: Theme) -> list[datetime]:
    return list(Slot.objects.filter(theme=theme).order_by("starts_at").values_list("starts_at", flat=True))


# --- slot_create -------------------------------------------------------------------------


def test_slot_create_refuses_start_in_the_past():
    theme = ThemeFactory()
    with pytest.raises(InvalidInput) as exc:
        services.slot_create(theme=theme, starts_at=timezone.now() - timedelta(minutes=1), capacity=4)
    assert exc.value.field == "starts_at"
    assert exc.value.code == "start_in_past"
    assert not Slot.objects.exists()


def test_slot_create_refuses_start_exactly_now():
    theme = ThemeFactory()
    now = in_days(1)
    with pytest.raises(InvalidInput) as exc:
        services.slot_create(theme=theme, starts_at=now, capacity=4, now=now)
    assert exc.value.field == "starts_at"


def test_slot_create_ends_at_defaults_to_start_plus_theme_duration():
    theme = ThemeFactory(duration_minutes=90)
    starts = in_days(3)
    slot = services.slot_create(theme=theme, starts_at=starts, capacity=4)
    slot.refresh_from_db()
    assert slot.starts_at == starts
    assert slot.ends_at == starts + timedelta(minutes=90)
    assert slot.capacity == 4
    assert slot.status == SlotStatus.OPEN


def test_slot_create_refuses_end_before_start():
    theme = ThemeFactory()
    starts = in_days(3)
    with pytest.raises(InvalidInput) as exc:
        services.slot_create(theme=theme, starts_at=starts, ends_at=starts - timedelta(minutes=5), capacity=4)
    assert exc.value.field == "ends_at"


def test_slot_create_refuses_overlap_with_another_slot_of_the_theme():
    theme = ThemeFactory(duration_minutes=60)
    starts = in_days(3)
    services.slot_create(theme=theme, starts_at=starts, capacity=4)
    with pytest.raises(DomainError) as exc:
        services.slot_create(theme=theme, starts_at=starts + timedelta(minutes=30), capacity=4)
    assert exc.value.code == "slot_overlap"
    assert exc.value.http_status == 409
    assert Slot.objects.filter(theme=theme).count() == 1


def test_slot_create_refuses_slot_that_contains_an_existing_one():
    theme = ThemeFactory(duration_minutes=60)
    starts = in_days(3)
    services.slot_create(theme=theme, starts_at=starts, capacity=4)
    with pytest.raises(DomainError) as exc:
        services.slot_create(
            theme=theme,
            starts_at=starts - timedelta(minutes=30),
            ends_at=starts + timedelta(minutes=90),
            capacity=4,
        )
    assert exc.value.code == "slot_overlap"


def test_slot_create_accepts_back_to_back_slots():
    theme = ThemeFactory(duration_minutes=60)
    starts = in_days(3)
    services.slot_create(theme=theme, starts_at=starts, capacity=4)
    services.slot_create(theme=theme, starts_at=starts + timedelta(minutes=60), capacity=4)
    services.slot_create(theme=theme, starts_at=starts - timedelta(minutes=60), capacity=4)
    assert Slot.objects.filter(theme=theme).count() == 3


def test_slot_create_accepts_overlap_with_a_cancelled_slot():
    theme = ThemeFactory(duration_minutes=60)
    starts = in_days(3)
    SlotFactory(theme=theme, starts_at=starts, status=SlotStatus.CANCELLED)
    slot = services.slot_create(theme=theme, starts_at=starts, capacity=4)
    assert slot.status == SlotStatus.OPEN


def test_slot_create_accepts_same_time_on_another_theme():
    starts = in_days(3)
    first = ThemeFactory()
    services.slot_create(theme=first, starts_at=starts, capacity=4)
    services.slot_create(theme=ThemeFactory(merchant=first.merchant), starts_at=starts, capacity=4)
    assert Slot.objects.filter(starts_at=starts).count() == 2


# --- slot_bulk_create --------------------------------------------------------------------

# 2030-06-03 is a Monday; two full weeks. Planned from a fixed "now" (mid-2029), so that these
# dates stay in the future and within the two-year horizon (SLOT_MAX_DAYS_AHEAD) whatever today is.
PLANNING_NOW = datetime(2029, 6, 1, 12, 0, tzinfo=UTC)
JUNE_MONDAY = date(2030, 6, 3)
JUNE_SUNDAY = date(2030, 6, 16)


def test_slot_bulk_create_makes_one_slot_per_matching_weekday_and_time():
    assert JUNE_MONDAY.weekday() == 0
    theme = ThemeFactory(merchant__timezone="Europe/Lisbon", duration_minutes=60)
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=JUNE_MONDAY,
        end_date=JUNE_SUNDAY,
        weekdays=[0, 2, 4],
        times=[time(10, 0), time(14, 0)],
        capacity=6,
        now=PLANNING_NOW,
    )
    # 2 weeks x 3 weekdays x 2 times
    assert (created, skipped) == (12, 0)
    starts = theme_slot_starts(theme)
    assert len(starts) == 12
    assert {s.astimezone(LISBON).weekday() for s in starts} == {0, 2, 4}
    assert {s.astimezone(LISBON).time() for s in starts} == {time(10, 0), time(14, 0)}
    assert set(Slot.objects.filter(theme=theme).values_list("capacity", flat=True)) == {6}
    first = Slot.objects.filter(theme=theme).order_by("starts_at").first()
    assert first.ends_at - first.starts_at == timedelta(minutes=60)


def test_slot_bulk_create_skips_and_counts_overlaps_with_existing_slots():
    theme = ThemeFactory(merchant__timezone="Europe/Lisbon", duration_minutes=60)
    # Wednesday 2030-06-05 10:30 Lisbon overlaps the 10:00 slot of that day.
    existing_start = datetime(2030, 6, 5, 10, 30, tzinfo=LISBON)
    SlotFactory(theme=theme, starts_at=existing_start)
    # A cancelled slot does not block its time.
    SlotFactory(theme=theme, starts_at=datetime(2030, 6, 7, 10, 0, tzinfo=LISBON), status=SlotStatus.CANCELLED)
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=JUNE_MONDAY,
        end_date=JUNE_SUNDAY,
        weekdays=[0, 2, 4],
        times=[time(10, 0)],
        capacity=6,
        now=PLANNING_NOW,
    )
    assert (created, skipped) == (5, 1)
    open_starts = set(Slot.objects.filter(theme=theme, status=SlotStatus.OPEN).values_list("starts_at", flat=True))
    assert datetime(2030, 6, 5, 10, 0, tzinfo=LISBON) not in open_starts
    assert existing_start in open_starts
    assert datetime(2030, 6, 7, 10, 0, tzinfo=LISBON) in open_starts


def test_slot_bulk_create_skips_times_that_overlap_each_other():
    theme = ThemeFactory(duration_minutes=60)
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=JUNE_MONDAY,
        end_date=JUNE_MONDAY,
        weekdays=[0],
        times=[time(10, 0), time(10, 30)],
        capacity=6,
        now=PLANNING_NOW,
    )
    assert (created, skipped) == (1, 1)


def test_slot_bulk_create_run_twice_creates_nothing_the_second_time():
    theme = ThemeFactory()
    kwargs = dict(start_date=JUNE_MONDAY, end_date=JUNE_SUNDAY, weekdays=[1], times=[time(18, 0)], capacity=4)
    assert services.slot_bulk_create(theme=theme, **kwargs, now=PLANNING_NOW) == (2, 0)
    assert services.slot_bulk_create(theme=theme, **kwargs, now=PLANNING_NOW) == (0, 2)
    assert Slot.objects.filter(theme=theme).count() == 2


def test_slot_bulk_create_skips_times_already_past():
    theme = ThemeFactory(merchant__timezone="Europe/Lisbon")
    now = datetime(2030, 6, 3, 12, 0, tzinfo=LISBON)
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=JUNE_MONDAY,
        end_date=JUNE_MONDAY,
        weekdays=[0],
        times=[time(10, 0), time(14, 0)],
        capacity=4,
        now=now,
    )
    assert (created, skipped) == (1, 1)
    assert theme_slot_starts(theme) == [datetime(2030, 6, 3, 14, 0, tzinfo=LISBON)]


# Europe/Paris in 2030: summer time starts Sunday 31 March (02:00 -> 03:00) and ends
# Sunday 27 October (03:00 -> 02:00).
SPRING_FORWARD = date(2030, 3, 31)
FALL_BACK = date(2030, 10, 27)


def test_slot_bulk_create_weekly_schedule_stays_at_local_time_across_dst_changes():
    theme = ThemeFactory(merchant__timezone="Europe/Paris")
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=date(2030, 3, 24),
        end_date=date(2030, 11, 3),
        weekdays=[6],
        times=[time(10, 0)],
        capacity=4,
        now=PLANNING_NOW,
    )
    assert skipped == 0
    starts = theme_slot_starts(theme)
    assert created == len(starts) == 33
    assert {s.astimezone(PARIS).time() for s in starts} == {time(10, 0)}
    utc_hour = {s.astimezone(UTC).date(): s.astimezone(UTC).hour for s in starts}
    # Winter time (UTC+1) before the spring change, summer time (UTC+2) until the last
    # Sunday of October, winter time again from then on.
    assert utc_hour[date(2030, 3, 24)] == 9
    assert utc_hour[SPRING_FORWARD] == 8
    assert utc_hour[date(2030, 7, 7)] == 8
    assert utc_hour[date(2030, 10, 20)] == 8
    assert utc_hour[FALL_BACK] == 9
    assert utc_hour[date(2030, 11, 3)] == 9


def test_slot_bulk_create_skips_a_local_time_that_does_not_exist_on_spring_forward_day():
    theme = ThemeFactory(merchant__timezone="Europe/Paris")
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=date(2030, 3, 30),
        end_date=date(2030, 4, 1),
        weekdays=[0, 5, 6],
        times=[time(2, 30)],
        capacity=4,
        now=PLANNING_NOW,
    )
    # Saturday and Monday have a 02:30; Sunday 31 March jumps from 02:00 to 03:00.
    assert (created, skipped) == (2, 1)
    days = {s.astimezone(PARIS).date() for s in theme_slot_starts(theme)}
    assert days == {date(2030, 3, 30), date(2030, 4, 1)}


def test_slot_bulk_create_on_fall_back_day_creates_the_ambiguous_time_once_at_its_first_occurrence():
    """02:30 happens twice on 27 October 2030 in Paris (CEST, then CET).

    One slot is created, at the first occurrence: 02:30+02:00, i.e. 00:30 UTC.
    """
    theme = ThemeFactory(merchant__timezone="Europe/Paris")
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=FALL_BACK,
        end_date=FALL_BACK,
        weekdays=[6],
        times=[time(2, 30)],
        capacity=4,
        now=PLANNING_NOW,
    )
    assert (created, skipped) == (1, 0)
    (start,) = theme_slot_starts(theme)
    assert start == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)
    assert start.astimezone(PARIS).time() == time(2, 30)
    assert start.astimezone(PARIS).utcoffset() == timedelta(hours=2)


def test_slot_bulk_create_refuses_more_than_1000_slots(settings):
    assert settings.SLOT_BULK_MAX == 1000
    theme = ThemeFactory()
    with pytest.raises(InvalidInput) as exc:
        services.slot_bulk_create(
            theme=theme,
            start_date=date(2030, 1, 1),
            end_date=date(2030, 12, 31),
            weekdays=list(range(7)),
            times=[time(9, 0), time(12, 0), time(15, 0)],
            capacity=4,
            now=PLANNING_NOW,
        )
    assert exc.value.code == "too_many_slots"
    assert not Slot.objects.exists()


def test_slot_bulk_create_accepts_exactly_1000_slots():
    theme = ThemeFactory(duration_minutes=60)
    created, skipped = services.slot_bulk_create(
        theme=theme,
        start_date=date(2030, 1, 1),
        end_date=date(2030, 1, 1) + timedelta(days=199),
        weekdays=list(range(7)),
        times=[time(8, 0), time(10, 0), time(12, 0), time(14, 0), time(16, 0)],
        capacity=4,
        now=PLANNING_NOW,
    )
    assert (created, skipped) == (1000, 0)
    assert Slot.objects.filter(theme=theme).count() == 1000


def test_slot_bulk_create_refuses_end_date_before_start_date():
    with pytest.raises(InvalidInput) as exc:
        services.slot_bulk_create(
            theme=ThemeFactory(),
            start_date=JUNE_SUNDAY,
            end_date=JUNE_MONDAY,
            weekdays=[0],
            times=[time(10, 0)],
            capacity=4,
            now=PLANNING_NOW,
        )
    assert exc.value.field == "end_date"


def test_slot_bulk_create_refuses_weekday_outside_0_to_6():
    with pytest.raises(InvalidInput) as exc:
        services.slot_bulk_create(
            theme=ThemeFactory(),
            start_date=JUNE_MONDAY,
            end_date=JUNE_SUNDAY,
            weekdays=[7],
            times=[time(10, 0)],
            capacity=4,
            now=PLANNING_NOW,
        )
    assert exc.value.field == "weekdays"


# --- slot_update_capacity ----------------------------------------------------------------


def test_slot_update_capacity_refuses_going_below_seats_taken():
    slot = SlotFactory(capacity=6)
    BookingFactory(slot=slot, party_size=2)
    ConfirmedBookingFactory(slot=slot, party_size=1)
    with pytest.raises(DomainError) as exc:
        booking_services.slot_update_capacity(slot=slot, capacity=2)
    assert exc.value.code == "capacity_below_booked"
    slot.refresh_from_db()
    assert slot.capacity == 6


def test_slot_update_capacity_accepts_exactly_seats_taken():
    slot = SlotFactory(capacity=6)
    BookingFactory(slot=slot, party_size=2)
    ConfirmedBookingFactory(slot=slot, party_size=1)
    updated = booking_services.slot_update_capacity(slot=slot, capacity=3)
    assert updated.capacity == 3
    slot.refresh_from_db()
    assert slot.capacity == 3


def test_slot_update_capacity_ignores_expired_holds_and_cancelled_bookings():
    slot = SlotFactory(capacity=6)
    BookingFactory(slot=slot, party_size=3, expires_at=timezone.now() - timedelta(minutes=1))
    BookingFactory(slot=slot, party_size=2, status=BookingStatus.CANCELLED)
    assert booking_services.slot_update_capacity(slot=slot, capacity=0).capacity == 0


def test_slot_update_capacity_refuses_a_cancelled_slot():
    slot = SlotFactory(status=SlotStatus.CANCELLED)
    with pytest.raises(DomainError) as exc:
        booking_services.slot_update_capacity(slot=slot, capacity=10)
    assert exc.value.code == "slot_closed"


# --- slot_cancel -------------------------------------------------------------------------


def test_slot_cancel_cancels_pending_and_confirmed_bookings_and_returns_their_count(merchant):
    slot = SlotFactory(theme__merchant=merchant, capacity=10)
    pending = BookingFactory(slot=slot, party_size=2)
    confirmed = ConfirmedBookingFactory(slot=slot, party_size=1)
    already_cancelled = BookingFactory(slot=slot, status=BookingStatus.CANCELLED)
    slot, cancelled = slot_cancel_and_refund(slot=slot, by=merchant.owner)
    assert cancelled == 2
    assert slot.status == SlotStatus.CANCELLED
    for booking in (pending, confirmed, already_cancelled):
        booking.refresh_from_db()
        assert booking.status == BookingStatus.CANCELLED
    assert seats_taken(slot_id=slot.pk) == 0
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELLED


def test_slot_cancel_a_second_time_changes_nothing(merchant):
    slot = SlotFactory(theme__merchant=merchant)
    BookingFactory(slot=slot)
    slot_cancel_and_refund(slot=slot, by=merchant.owner)
    again, cancelled = slot_cancel_and_refund(slot=slot, by=merchant.owner)
    assert cancelled == 0
    assert again.status == SlotStatus.CANCELLED


def test_slot_cancel_leaves_an_expired_hold_alone(merchant):
    slot = SlotFactory(theme__merchant=merchant)
    stale = BookingFactory(slot=slot, expires_at=timezone.now() - timedelta(minutes=1))
    _, cancelled = slot_cancel_and_refund(slot=slot, by=merchant.owner)
    assert cancelled == 0
    stale.refresh_from_db()
    assert stale.status == BookingStatus.PENDING_PAYMENT


# --- themes ------------------------------------------------------------------------------


def test_theme_create_refuses_min_party_above_max_party(merchant):
    with pytest.raises(InvalidInput) as exc:
        services.theme_create(
            merchant=merchant, title="Vault", duration_minutes=60, price=1000, min_party=5, max_party=2
        )
    assert exc.value.field == "min_party"
    assert not Theme.objects.exists()


def test_theme_create_lowercases_currency_and_ignores_unknown_fields(merchant):
    other = MerchantFactory()
    theme = services.theme_create(
        merchant=merchant,
        title="Vault",
        duration_minutes=60,
        price=1000,
        currency="EUR",
        rating_avg=5,
        merchant_id=other.pk,
    )
    theme.refresh_from_db()
    assert theme.currency == "eur"
    assert theme.merchant == merchant
    assert theme.rating_avg == 0


def test_theme_update_refuses_max_party_below_existing_min_party():
    theme = ThemeFactory(min_party=3, max_party=6)
    with pytest.raises(InvalidInput):
        services.theme_update(theme=theme, max_party=2)
    theme.refresh_from_db()
    assert theme.max_party == 6


def test_theme_deactivate_keeps_the_theme_and_its_slots():
    slot = SlotFactory()
    services.theme_deactivate(theme=slot.theme)
    theme = Theme.objects.get(pk=slot.theme_id)
    assert theme.is_active is False
    assert Slot.objects.filter(pk=slot.pk).exists()


def test_slot_create_refuses_a_start_at_the_end_of_the_datetime_range_as_too_far_ahead():
    theme = ThemeFactory(duration_minutes=60)
    with pytest.raises(InvalidInput) as exc:
        services.slot_create(theme=theme, starts_at=datetime(9999, 12, 31, 23, 30, tzinfo=UTC), capacity=4)
    assert exc.value.field == "starts_at"
    assert exc.value.code == "too_far_ahead"


def test_slot_bulk_create_refuses_dates_that_leave_the_datetime_range():
    # Local midnight of 1 January of year 1 in Tokyo is in year 0 in UTC, which Python cannot represent.
    theme = ThemeFactory(merchant__timezone="Asia/Tokyo")
    with pytest.raises(InvalidInput) as exc:
        services.slot_bulk_create(
            theme=theme,
            start_date=date(1, 1, 1),
            end_date=date(1, 1, 7),
            weekdays=list(range(7)),
            times=[time(0, 30)],
            capacity=4,
        )
    assert exc.value.code == "out_of_range"
    assert not Slot.objects.exists()


# --- The two-year horizon: one bound for the API, the portal and weekly schedules ------------


def test_slot_create_accepts_the_last_day_of_the_horizon_and_refuses_the_day_after():
    theme = ThemeFactory(merchant__timezone="Asia/Tokyo", duration_minutes=60)
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo, 1 March
    last_day = date(2027, 3, 1) + timedelta(days=limits.SLOT_MAX_DAYS_AHEAD)
    assert services.latest_slot_day(merchant=theme.merchant, now=now) == last_day
    tokyo = ZoneInfo("Asia/Tokyo")

    slot = services.slot_create(
        theme=theme, starts_at=datetime.combine(last_day, time(23, 0), tzinfo=tokyo), capacity=4, now=now
    )
    with pytest.raises(InvalidInput) as exc:
        services.slot_create(
            theme=theme,
            starts_at=datetime.combine(last_day + timedelta(days=1), time(0, 0), tzinfo=tokyo),
            capacity=4,
            now=now,
        )

    assert slot.pk
    assert (exc.value.code, exc.value.field) == ("too_far_ahead", "starts_at")
    assert Slot.objects.filter(theme=theme).count() == 1


def test_slot_bulk_create_refuses_an_end_date_beyond_the_horizon_and_creates_nothing():
    theme = ThemeFactory()
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    last_day = services.latest_slot_day(merchant=theme.merchant, now=now)
    schedule = dict(weekdays=list(range(7)), times=[time(10, 0)], capacity=4, now=now)

    with pytest.raises(InvalidInput) as exc:
        services.slot_bulk_create(
            theme=theme, start_date=last_day - timedelta(days=6), end_date=last_day + timedelta(days=1), **schedule
        )
    assert (exc.value.code, exc.value.field) == ("too_far_ahead", "end_date")
    assert not Slot.objects.exists()

    assert services.slot_bulk_create(
        theme=theme, start_date=last_day - timedelta(days=6), end_date=last_day, **schedule
    ) == (7, 0)


def test_slot_schedule_refuses_a_span_of_more_than_366_days():
    theme = ThemeFactory()
    start = date(2029, 7, 1)
    with pytest.raises(InvalidInput) as exc:
        services.slot_schedule_plan(
            theme=theme,
            start_date=start,
            end_date=start + timedelta(days=limits.SCHEDULE_MAX_DAYS),
            weekdays=[0],
            times=[time(10, 0)],
            now=PLANNING_NOW,
        )
    assert (exc.value.code, exc.value.field) == ("schedule_too_long", "end_date")
