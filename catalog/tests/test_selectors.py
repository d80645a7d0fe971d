from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.catalog_selectors import slot_list_for_theme, theme_list_filtered, theme_visible_to
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import SlotStatus
from catalog.selectors import ThemeFilters
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.models import MerchantStatus
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db


def listed(**filters) -> list:
    return list(theme_list_filtered(filters=ThemeFilters(**filters)))


def test_theme_list_shows_only_active_themes_of_approved_merchants():
    visible = ThemeFactory()
    ThemeFactory(is_active=False)
    ThemeFactory(merchant=MerchantFactory(status=MerchantStatus.SUSPENDED))
    ThemeFactory(merchant=PendingMerchantFactory())
    assert listed() == [visible]


def test_theme_list_search_matches_words_of_title_and_description():
    in_title = ThemeFactory(title="The Pharaoh's Tomb", description="Sand everywhere.")
    in_description = ThemeFactory(title="Night shift", description="Escape a haunted pharaoh museum.")
    ThemeFactory(title="Submarine", description="Dive deep.")
    assert set(listed(search="pharaoh")) == {in_title, in_description}
    # Full text, not substring: stems match ("museums" -> museum) ...
    assert listed(search="museums") == [in_description]
    # ... and every word must match.
    assert listed(search="pharaoh sand") == [in_title]
    assert listed(search="zeppelin") == []


def test_theme_list_search_tolerates_query_syntax_characters():
    prison = ThemeFactory(title="Prison break")
    ThemeFactory(title="Submarine")
    # Syntax characters are plain text to a web search, never a database error:
    # around a word they are dropped, and alone they match nothing.
    for query in ['"prison', "prison & | ! ( ) :*", "prison)"]:
        assert listed(search=query) == [prison], query
    for query in ["-", "'", "& | !"]:
        assert listed(search=query) == [], query


def test_theme_list_filters_by_merchant():
    mine = ThemeFactory()
    ThemeFactory()
    assert listed(merchant_id=mine.merchant_id) == [mine]


def test_theme_list_filters_by_city_case_insensitively():
    porto = ThemeFactory(merchant__city="Porto")
    ThemeFactory(merchant__city="Lisbon")
    assert listed(city="porto") == [porto]
    assert listed(city="PORTO") == [porto]
    assert listed(city="Port") == []


def test_theme_list_filters_by_price_range_inclusive():
    cheap = ThemeFactory(price=1000)
    middle = ThemeFactory(price=2000)
    dear = ThemeFactory(price=3000)
    assert set(listed(min_price=2000)) == {middle, dear}
    assert set(listed(max_price=2000)) == {cheap, middle}
    assert listed(min_price=1500, max_price=2500) == [middle]


def test_theme_list_available_window_keeps_themes_with_a_free_open_slot_in_the_window():
    now = timezone.now()
    window = (now + timedelta(days=1), now + timedelta(days=3))
    inside = now + timedelta(days=2)

    free = ThemeFactory(title="free")
    SlotFactory(theme=free, starts_at=inside, capacity=2)

    full = ThemeFactory(title="full")
    full_slot = SlotFactory(theme=full, starts_at=inside, capacity=2)
    ConfirmedBookingFactory(slot=full_slot, party_size=1)
    BookingFactory(slot=full_slot, party_size=1)  # an unpaid hold still running holds its seat

    cancelled = ThemeFactory(title="cancelled")
    SlotFactory(theme=cancelled, starts_at=inside, capacity=2, status=SlotStatus.CANCELLED)

    outside = ThemeFactory(title="outside")
    SlotFactory(theme=outside, starts_at=now + timedelta(days=4), capacity=2)
    SlotFactory(theme=outside, starts_at=now + timedelta(hours=12), capacity=2)

    expired_hold = ThemeFactory(title="expired hold")
    stale_slot = SlotFactory(theme=expired_hold, starts_at=inside, capacity=2)
    BookingFactory(slot=stale_slot, party_size=2, expires_at=now - timedelta(minutes=1))

    released = ThemeFactory(title="released")
    released_slot = SlotFactory(theme=released, starts_at=inside, capacity=1)
    BookingFactory(slot=released_slot, party_size=1, status=BookingStatus.CANCELLED)

    ThemeFactory(title="no slots")

    result = listed(available_from=window[0], available_to=window[1])
    assert {t.title for t in result} == {"free", "expired hold", "released"}


def test_theme_list_available_window_counts_each_theme_once():
    now = timezone.now()
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=now + timedelta(days=2))
    SlotFactory(theme=theme, starts_at=now + timedelta(days=2, hours=3))
    assert listed(available_from=now + timedelta(days=1), available_to=now + timedelta(days=3)) == [theme]


def test_theme_list_available_window_ignores_slots_already_started():
    now = timezone.now()
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=now - timedelta(minutes=10))
    assert listed(available_from=now - timedelta(days=1), available_to=now + timedelta(days=1)) == []


def test_theme_list_available_from_alone_is_open_ended():
    now = timezone.now()
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=now + timedelta(days=300))
    ThemeFactory()
    assert listed(available_from=now + timedelta(days=1)) == [theme]
    assert listed(available_to=now + timedelta(days=301)) == [theme]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["b", "c", "a"]),
        ("-price", ["a", "c", "b"]),
        ("-rating_avg", ["c", "a", "b"]),
        ("title", ["a", "b", "c"]),
        (None, ["a", "b", "c"]),
    ],
)
def test_theme_list_orderings(ordering, expected):
    ThemeFactory(title="a", price=3000, rating_avg="4.00")
    ThemeFactory(title="b", price=1000, rating_avg="2.50")
    ThemeFactory(title="c", price=2000, rating_avg="4.90")
    assert [t.title for t in listed(ordering=ordering)] == expected


def test_theme_list_ordering_ties_break_by_id():
    first = ThemeFactory(price=1000)
    second = ThemeFactory(price=1000)
    assert listed(ordering="price") == [first, second]
    assert listed(ordering="-price") == [second, first]


def test_theme_visible_to_owner_includes_own_inactive_theme(merchant):
    own_inactive = ThemeFactory(merchant=merchant, is_active=False)
    other_inactive = ThemeFactory(is_active=False)
    assert own_inactive in theme_visible_to(user=merchant.owner)
    assert other_inactive not in theme_visible_to(user=merchant.owner)


def test_slot_list_for_theme_annotates_seats_left_and_hides_past_slots():
    now = timezone.now()
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=now - timedelta(hours=3))
    later = SlotFactory(theme=theme, starts_at=now + timedelta(days=2), capacity=5)
    sooner = SlotFactory(theme=theme, starts_at=now + timedelta(days=1), capacity=3)
    BookingFactory(slot=later, party_size=2)
    ConfirmedBookingFactory(slot=later, party_size=1)
    BookingFactory(slot=later, party_size=1, expires_at=now - timedelta(minutes=1))
    BookingFactory(slot=sooner, party_size=1, status=BookingStatus.CANCELLED)
    rows = list(slot_list_for_theme(theme_id=theme.pk))
    assert [(s.pk, s.seats_left) for s in rows] == [(sooner.pk, 3), (later.pk, 2)]


def test_slot_list_for_theme_seats_left_never_negative_after_capacity_lowered():
    slot = SlotFactory(capacity=4)
    ConfirmedBookingFactory(slot=slot, party_size=3)
    slot.capacity = 1
    slot.save(update_fields=["capacity"])
    (row,) = slot_list_for_theme(theme_id=slot.theme_id)
    assert row.seats_left == 0


def test_slot_list_for_theme_window():
    now = timezone.now()
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=now + timedelta(days=1))
    middle = SlotFactory(theme=theme, starts_at=now + timedelta(days=2))
    SlotFactory(theme=theme, starts_at=now + timedelta(days=3))
    rows = slot_list_for_theme(
        theme_id=theme.pk, start=now + timedelta(days=1, hours=12), end=now + timedelta(days=2, hours=12)
    )
    assert list(rows) == [middle]
