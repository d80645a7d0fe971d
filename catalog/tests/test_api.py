from datetime import UTC, date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from catalog.models import Slot, SlotStatus, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client
from merchants.models import MerchantStatus
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db

THEMES = "/api/v1/themes/"

# The fields API.md fixes for a theme, plus the extras the API adds for display.
THEME_CONTRACT_FIELDS = {
    "id",
    "merchant",
    "title",
    "description",
    "duration_minutes",
    "price",
    "currency",
    "min_party",
    "max_party",
    "rating_avg",
    "review_count",
    "is_active",
}
THEME_EXTRA_FIELDS = {
    "merchant_name",
    "city",
    "cancellation_cutoff_hours",
    # The theme's own venue; blank means the merchant's address.
    "venue_street",
    "venue_postcode",
    "venue_city",
    "venue_country",
    # How it is sold (API.md "Theme and slot fields").
    "booking_mode",
    "private_price",
    "price_tiers",
    "min_players",
    "min_players_deadline_hours",
    "cancellation_policy",
    "reminder_offsets_hours",
}
SLOT_FIELDS = {"id", "theme", "starts_at", "ends_at", "capacity", "seats_left", "status", "price", "guaranteed"}

NEW_THEME = {
    "title": "The Vault",
    "description": "Crack the safe.",
    "duration_minutes": 75,
    "price": 2900,
    "currency": "EUR",
    "min_party": 2,
    "max_party": 5,
}


def theme_url(theme) -> str:
    return f"{THEMES}{theme.pk}/"


def slots_url(theme) -> str:
    return f"{THEMES}{theme.pk}/slots/"


def slot_url(slot, suffix: str = "") -> str:
    return f"/api/v1/slots/{slot.pk}/{suffix}"


def iso(dt) -> str:
    return dt.isoformat()


def future(days: float = 3) -> timezone.datetime:
    return (timezone.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- theme list --------------------------------------------------------------------------


def test_theme_list_shows_only_active_themes_of_approved_merchants(api_client):
    visible = ThemeFactory()
    ThemeFactory(is_active=False)
    ThemeFactory(merchant=MerchantFactory(status=MerchantStatus.SUSPENDED))
    ThemeFactory(merchant=PendingMerchantFactory())
    response = api_client.get(THEMES)
    assert response.status_code == 200
    assert ids(response) == [visible.pk]


def test_theme_list_envelope_has_next_previous_results_and_no_count(api_client):
    ThemeFactory()
    body = api_client.get(THEMES).json()
    assert set(body) == {"next", "previous", "results"}
    assert body["next"] is None
    assert body["previous"] is None


def test_theme_list_next_and_previous_links_walk_the_pages(api_client):
    themes = [ThemeFactory(title=f"t{i}") for i in range(5)]
    first = api_client.get(THEMES, {"page_size": 2, "ordering": "title"})
    assert ids(first) == [themes[0].pk, themes[1].pk]
    assert first.json()["previous"] is None
    second = api_client.get(first.json()["next"])
    assert ids(second) == [themes[2].pk, themes[3].pk]
    third = api_client.get(second.json()["next"])
    assert ids(third) == [themes[4].pk]
    assert third.json()["next"] is None
    # Filters and page size survive in the links.
    assert "ordering=title" in third.json()["previous"]
    back = api_client.get(third.json()["previous"])
    assert ids(back) == ids(second)
    assert ids(api_client.get(back.json()["previous"])) == ids(first)


def test_theme_list_next_is_null_when_the_last_page_is_exactly_full(api_client):
    ThemeFactory.create_batch(4)
    assert api_client.get(THEMES, {"page_size": 4}).json()["next"] is None
    response = api_client.get(THEMES, {"page_size": 2, "page": 2})
    assert len(response.json()["results"]) == 2
    assert response.json()["next"] is None


def test_theme_list_page_size_is_capped_at_100(api_client):
    merchant = MerchantFactory()
    ThemeFactory.create_batch(101, merchant=merchant)
    response = api_client.get(THEMES, {"page_size": 1000})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 100
    assert response.json()["next"] is not None


@pytest.mark.parametrize("page", ["abc", "0", "-1", "99999999999999999999"])
def test_theme_list_bad_page_is_404_not_500(api_client, page):
    ThemeFactory()
    assert api_client.get(THEMES, {"page": page}).status_code == 404


def test_theme_list_filters_by_search(api_client):
    match = ThemeFactory(title="Haunted lighthouse", description="Storm outside.")
    in_description = ThemeFactory(title="Keeper", description="Rooms in an old lighthouse.")
    ThemeFactory(title="Bank heist", description="Money.")
    response = api_client.get(THEMES, {"search": "lighthouses"})
    assert response.status_code == 200
    assert set(ids(response)) == {match.pk, in_description.pk}


def test_theme_list_filters_by_merchant(api_client):
    mine = ThemeFactory()
    ThemeFactory()
    assert ids(api_client.get(THEMES, {"merchant": mine.merchant_id})) == [mine.pk]


def test_theme_list_filters_by_city_case_insensitively(api_client):
    porto = ThemeFactory(merchant__city="Porto")
    ThemeFactory(merchant__city="Lisbon")
    assert ids(api_client.get(THEMES, {"city": "pOrTo"})) == [porto.pk]


def test_theme_list_filters_by_min_and_max_price(api_client):
    ThemeFactory(price=1000)
    middle = ThemeFactory(price=2000)
    dear = ThemeFactory(price=3000)
    assert set(ids(api_client.get(THEMES, {"min_price": 2000}))) == {middle.pk, dear.pk}
    assert ids(api_client.get(THEMES, {"min_price": 1500, "max_price": 2500})) == [middle.pk]


def test_theme_list_available_window_keeps_only_themes_with_free_seats_in_it(api_client):
    now = timezone.now()
    inside = now + timedelta(days=2)
    free = ThemeFactory()
    SlotFactory(theme=free, starts_at=inside, capacity=2)
    full = ThemeFactory()
    ConfirmedBookingFactory(slot=SlotFactory(theme=full, starts_at=inside, capacity=2), party_size=2)
    cancelled = ThemeFactory()
    SlotFactory(theme=cancelled, starts_at=inside, status=SlotStatus.CANCELLED)
    outside = ThemeFactory()
    SlotFactory(theme=outside, starts_at=now + timedelta(days=5))
    expired_hold = ThemeFactory()
    BookingFactory(
        slot=SlotFactory(theme=expired_hold, starts_at=inside, capacity=2),
        party_size=2,
        expires_at=now - timedelta(minutes=1),
    )
    response = api_client.get(
        THEMES,
        {"available_from": iso(now + timedelta(days=1)), "available_to": iso(now + timedelta(days=3))},
    )
    assert response.status_code == 200
    assert set(ids(response)) == {free.pk, expired_hold.pk}


def test_theme_list_available_window_accepts_z_and_offset_forms(api_client):
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=future(2).replace(hour=12))
    start = future(1).astimezone(UTC)
    params = {
        "available_from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "available_to": (start + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }
    response = api_client.get(THEMES, params)
    assert response.status_code == 200
    assert ids(response) == [theme.pk]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["b", "c", "a"]),
        ("-price", ["a", "c", "b"]),
        ("-rating_avg", ["c", "a", "b"]),
        ("title", ["a", "b", "c"]),
    ],
)
def test_theme_list_orderings(api_client, ordering, expected):
    ThemeFactory(title="a", price=3000, rating_avg="4.00")
    ThemeFactory(title="b", price=1000, rating_avg="2.50")
    ThemeFactory(title="c", price=2000, rating_avg="4.90")
    response = api_client.get(THEMES, {"ordering": ordering})
    assert response.status_code == 200
    assert [row["title"] for row in response.json()["results"]] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"ordering": "rating_avg"},
        {"ordering": "-title; drop table catalog_theme"},
        {"ordering": "merchant__owner__password"},
        {"available_from": "2030-05-01T10:00:00"},
        {"available_to": "2030-05-01T10:00:00"},
        {"available_from": "yesterday"},
        {"min_price": "abc"},
        {"max_price": "1.5"},
        {"min_price": "-1"},
        {"min_price": str(10**30)},
        {"max_price": "99999999999999999999"},
        {"merchant": "99999999999999999999"},
        {"merchant": "abc"},
        {"search": "x" * 1000},
    ],
)
def test_theme_list_bad_filters_are_400(api_client, params):
    ThemeFactory()
    response = api_client.get(THEMES, params)
    assert response.status_code == 400
    assert set(response.json()) & (set(params) | {"detail"})


def test_theme_list_naive_available_from_names_the_field(api_client):
    response = api_client.get(THEMES, {"available_from": "2030-05-01T10:00:00"})
    assert response.status_code == 400
    assert "available_from" in response.json()


def test_theme_list_query_count_does_not_grow_with_page_size(api_client):
    merchant = MerchantFactory()
    ThemeFactory.create_batch(60, merchant=merchant)
    ThemeFactory.create_batch(5)  # other merchants too
    counts = {}
    for size in (5, 50):
        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(THEMES, {"page_size": size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        counts[size] = len(ctx.captured_queries)
    assert counts[5] == counts[50] == 1
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)


def test_theme_list_query_count_with_window_filter_does_not_grow(api_client):
    merchant = MerchantFactory()
    for theme in ThemeFactory.create_batch(60, merchant=merchant):
        SlotFactory(theme=theme, starts_at=future(2))
    params = {"available_from": iso(future(1)), "available_to": iso(future(4)), "ordering": "price"}
    counts = {}
    for size in (5, 50):
        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(THEMES, {**params, "page_size": size})
        assert len(response.json()["results"]) == size
        counts[size] = len(ctx.captured_queries)
    assert counts[5] == counts[50]


# --- theme detail / create / update / delete ---------------------------------------------


def test_theme_detail_has_the_contract_fields(api_client):
    theme = ThemeFactory(price=2500, rating_avg="4.25", review_count=8)
    response = api_client.get(theme_url(theme))
    assert response.status_code == 200
    body = response.json()
    # Photos on a theme's own page only (API.md "Photos and feeds"): the list stays one query.
    assert set(body) == THEME_CONTRACT_FIELDS | THEME_EXTRA_FIELDS | {"photos"}
    assert body["photos"] == []
    assert body["id"] == theme.pk
    assert body["merchant"] == theme.merchant_id
    assert body["title"] == theme.title
    assert body["description"] == theme.description
    assert body["duration_minutes"] == 60
    assert body["price"] == 2500
    assert body["currency"] == "usd"
    assert body["min_party"] == 1
    assert body["max_party"] == 6
    assert body["rating_avg"] == 4.25
    assert body["review_count"] == 8
    assert body["is_active"] is True


def test_theme_list_rows_have_the_detail_fields(api_client):
    ThemeFactory()
    (row,) = api_client.get(THEMES).json()["results"]
    assert set(row) == THEME_CONTRACT_FIELDS | THEME_EXTRA_FIELDS


@pytest.mark.parametrize("path", ["abc/", "99999999999999999999/", "0/", "-1/", "1.5/"])
def test_theme_detail_bad_or_huge_id_is_404(api_client, path):
    assert api_client.get(THEMES + path).status_code == 404


def test_theme_detail_of_unknown_id_is_404(api_client):
    assert api_client.get(f"{THEMES}987654/").status_code == 404


def test_theme_detail_of_suspended_merchant_is_404_for_anonymous(api_client):
    theme = ThemeFactory(merchant=MerchantFactory(status=MerchantStatus.SUSPENDED))
    assert api_client.get(theme_url(theme)).status_code == 404


def test_theme_create_by_approved_merchant_sets_merchant_to_the_caller(merchant, merchant_client):
    other = MerchantFactory()
    payload = {**NEW_THEME, "merchant": other.pk, "rating_avg": 5, "review_count": 99, "id": 424242}
    response = merchant_client.post(THEMES, payload)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["merchant"] == merchant.pk
    assert body["rating_avg"] == 0
    assert body["review_count"] == 0
    assert body["id"] != 424242
    assert body["currency"] == "eur"
    theme = Theme.objects.get(pk=body["id"])
    assert theme.merchant == merchant
    assert theme.rating_avg == 0
    assert (theme.title, theme.duration_minutes, theme.price, theme.min_party, theme.max_party) == (
        "The Vault",
        75,
        2900,
        2,
        5,
    )


def test_theme_create_by_pending_merchant_is_403():
    pending = PendingMerchantFactory()
    response = bearer_client(pending.owner).post(THEMES, NEW_THEME)
    assert response.status_code == 403
    assert not Theme.objects.exists()


def test_theme_create_by_suspended_merchant_is_403():
    suspended = MerchantFactory(status=MerchantStatus.SUSPENDED)
    assert bearer_client(suspended.owner).post(THEMES, NEW_THEME).status_code == 403


def test_theme_create_by_customer_is_403(customer_client):
    assert customer_client.post(THEMES, NEW_THEME).status_code == 403
    assert not Theme.objects.exists()


def test_theme_create_anonymous_is_401(api_client):
    assert api_client.post(THEMES, NEW_THEME).status_code == 401


def test_theme_create_with_bad_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.post(THEMES, NEW_THEME).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"min_party": 5, "max_party": 2},
        {"price": -1},
        {"price": 10**12},
        {"duration_minutes": 0},
        {"duration_minutes": 10**12},
        {"currency": "dollars"},
        {"title": ""},
        {"max_party": 10**12},
    ],
)
def test_theme_create_invalid_values_are_400(merchant_client, change):
    response = merchant_client.post(THEMES, {**NEW_THEME, **change})
    assert response.status_code == 400
    assert not Theme.objects.exists()


def test_theme_create_min_party_above_max_party_names_the_field(merchant_client):
    response = merchant_client.post(THEMES, {**NEW_THEME, "min_party": 5, "max_party": 2})
    assert response.status_code == 400
    assert "min_party" in response.json()


def test_malformed_json_body_is_400_not_500(merchant_client):
    response = merchant_client.post(THEMES, data="{bad", content_type="application/json")
    assert response.status_code == 400


def test_malformed_json_body_on_slot_create_is_400(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    response = merchant_client.post(slots_url(theme), data="{bad", content_type="application/json")
    assert response.status_code == 400


def test_json_list_body_is_400_not_500(merchant_client):
    response = merchant_client.post(THEMES, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400


def test_theme_patch_by_owner_is_200(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant, price=1000)
    response = merchant_client.patch(theme_url(theme), {"price": 1500, "title": "Renamed", "rating_avg": 5})
    assert response.status_code == 200
    assert response.json()["price"] == 1500
    assert response.json()["rating_avg"] == 0
    theme.refresh_from_db()
    assert (theme.price, theme.title, theme.rating_avg) == (1500, "Renamed", 0)


def test_theme_patch_of_one_field_leaves_the_others_alone(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant, currency="eur", min_party=2, max_party=4, is_active=False)
    response = merchant_client.patch(theme_url(theme), {"title": "Only the title"})
    assert response.status_code == 200
    theme.refresh_from_db()
    assert (theme.title, theme.currency, theme.min_party, theme.max_party, theme.is_active) == (
        "Only the title",
        "eur",
        2,
        4,
        False,
    )


def test_theme_patch_cannot_move_theme_to_another_merchant(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    other = MerchantFactory()
    response = merchant_client.patch(theme_url(theme), {"merchant": other.pk})
    assert response.status_code == 200
    theme.refresh_from_db()
    assert theme.merchant == merchant


def test_theme_patch_by_admin_is_200(admin_client_api):
    theme = ThemeFactory()
    assert admin_client_api.patch(theme_url(theme), {"title": "By admin"}).status_code == 200


def test_theme_patch_by_another_merchant_is_403():
    theme = ThemeFactory(title="Original")
    response = bearer_client(MerchantFactory().owner).patch(theme_url(theme), {"title": "Hijacked"})
    assert response.status_code == 403
    theme.refresh_from_db()
    assert theme.title == "Original"


def test_theme_patch_by_customer_is_403(customer_client):
    theme = ThemeFactory()
    assert customer_client.patch(theme_url(theme), {"title": "x"}).status_code == 403


def test_theme_patch_anonymous_is_401(api_client):
    assert api_client.patch(theme_url(ThemeFactory()), {"title": "x"}).status_code == 401


def test_theme_patch_of_unknown_id_is_404(merchant_client):
    assert merchant_client.patch(f"{THEMES}987654/", {"title": "x"}).status_code == 404


def test_theme_patch_max_party_below_min_party_is_400(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant, min_party=3, max_party=6)
    response = merchant_client.patch(theme_url(theme), {"max_party": 2})
    assert response.status_code == 400


def test_theme_delete_deactivates_and_keeps_the_theme(merchant, merchant_client, api_client):
    theme = ThemeFactory(merchant=merchant)
    SlotFactory(theme=theme)
    response = merchant_client.delete(theme_url(theme))
    assert response.status_code == 204
    theme.refresh_from_db()
    assert theme.is_active is False
    assert theme.slots.count() == 1
    assert ids(api_client.get(THEMES)) == []
    assert api_client.get(theme_url(theme)).status_code == 404
    owner_view = merchant_client.get(theme_url(theme))
    assert owner_view.status_code == 200
    assert owner_view.json()["is_active"] is False


def test_theme_delete_by_another_merchant_is_403():
    theme = ThemeFactory()
    response = bearer_client(MerchantFactory().owner).delete(theme_url(theme))
    assert response.status_code == 403
    theme.refresh_from_db()
    assert theme.is_active is True


def test_theme_delete_by_admin_is_204(admin_client_api):
    theme = ThemeFactory()
    assert admin_client_api.delete(theme_url(theme)).status_code == 204
    theme.refresh_from_db()
    assert theme.is_active is False


def test_theme_owner_can_reactivate_by_patch(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant, is_active=False)
    assert merchant_client.patch(theme_url(theme), {"is_active": True}).status_code == 200
    theme.refresh_from_db()
    assert theme.is_active is True


# --- slots of a theme --------------------------------------------------------------------


def test_theme_slots_lists_future_slots_with_seats_left_reflecting_holds(api_client):
    now = timezone.now()
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=now - timedelta(hours=2))
    slot = SlotFactory(theme=theme, starts_at=now + timedelta(days=1), capacity=5)
    BookingFactory(slot=slot, party_size=2)
    ConfirmedBookingFactory(slot=slot, party_size=1)
    BookingFactory(slot=slot, party_size=1, expires_at=now - timedelta(minutes=1))
    response = api_client.get(slots_url(theme))
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert set(row) == SLOT_FIELDS
    assert row["id"] == slot.pk
    assert row["theme"] == theme.pk
    assert row["capacity"] == 5
    assert row["seats_left"] == 2
    assert row["status"] == "open"
    assert row["starts_at"].endswith("Z") or row["starts_at"][-6] in "+-"


def test_theme_slots_window_with_from_and_to(api_client):
    now = timezone.now()
    theme = ThemeFactory()
    SlotFactory(theme=theme, starts_at=now + timedelta(days=1))
    middle = SlotFactory(theme=theme, starts_at=now + timedelta(days=2))
    SlotFactory(theme=theme, starts_at=now + timedelta(days=3))
    response = api_client.get(
        slots_url(theme),
        {"from": iso(now + timedelta(days=1, hours=12)), "to": iso(now + timedelta(days=2, hours=12))},
    )
    assert response.status_code == 200
    assert ids(response) == [middle.pk]


@pytest.mark.parametrize("param", ["from", "to"])
def test_theme_slots_naive_window_is_400(api_client, param):
    theme = ThemeFactory()
    response = api_client.get(slots_url(theme), {param: "2030-05-01T10:00:00"})
    assert response.status_code == 400
    assert param in response.json()


def test_theme_slots_garbage_window_is_400(api_client):
    response = api_client.get(slots_url(ThemeFactory()), {"from": "soon"})
    assert response.status_code == 400


def test_theme_slots_of_unknown_theme_is_404(api_client):
    assert api_client.get(f"{THEMES}987654/slots/").status_code == 404


def test_theme_slots_query_count_does_not_grow_with_page_size(api_client):
    theme = ThemeFactory()
    for i, slot in enumerate(SlotFactory.create_batch(60, theme=theme)):
        BookingFactory(slot=slot, party_size=1 + i % 3)
    counts = {}
    for size in (5, 50):
        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(slots_url(theme), {"page_size": size})
        assert response.status_code == 200
        rows = response.json()["results"]
        assert len(rows) == size
        assert {row["seats_left"] for row in rows} <= {2, 3, 4}
        counts[size] = len(ctx.captured_queries)
    assert counts[5] == counts[50] == 2  # the theme, then one page of slots with seats_left


def test_slot_create_by_owner_is_201_with_default_end(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant, duration_minutes=45)
    starts = future(3)
    response = merchant_client.post(slots_url(theme), {"starts_at": iso(starts), "capacity": 8})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == SLOT_FIELDS
    assert body["seats_left"] == 8
    assert body["status"] == "open"
    slot = Slot.objects.get(pk=body["id"])
    assert slot.theme == theme
    assert slot.starts_at == starts
    assert slot.ends_at == starts + timedelta(minutes=45)


def test_slot_create_keeps_the_given_offset_as_the_same_instant(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    starts = future(3)
    as_plus_two = starts.astimezone(timezone.get_fixed_timezone(120)).isoformat()
    response = merchant_client.post(slots_url(theme), {"starts_at": as_plus_two, "capacity": 2})
    assert response.status_code == 201
    assert Slot.objects.get(pk=response.json()["id"]).starts_at == starts


def test_slot_create_by_another_merchant_is_403():
    theme = ThemeFactory()
    response = bearer_client(MerchantFactory().owner).post(
        slots_url(theme), {"starts_at": iso(future()), "capacity": 4}
    )
    assert response.status_code == 403
    assert not Slot.objects.exists()


def test_slot_create_by_customer_is_403(customer_client):
    theme = ThemeFactory()
    assert customer_client.post(slots_url(theme), {"starts_at": iso(future()), "capacity": 4}).status_code == 403


def test_slot_create_anonymous_is_401(api_client):
    theme = ThemeFactory()
    assert api_client.post(slots_url(theme), {"starts_at": iso(future()), "capacity": 4}).status_code == 401


def test_slot_create_start_in_the_past_is_400(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    response = merchant_client.post(
        slots_url(theme), {"starts_at": iso(timezone.now() - timedelta(hours=1)), "capacity": 4}
    )
    assert response.status_code == 400
    assert "starts_at" in response.json()


def test_slot_create_overlap_is_409_slot_overlap(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant, duration_minutes=60)
    starts = future()
    SlotFactory(theme=theme, starts_at=starts)
    response = merchant_client.post(slots_url(theme), {"starts_at": iso(starts + timedelta(minutes=30)), "capacity": 4})
    assert response.status_code == 409
    assert response.json()["code"] == "slot_overlap"
    assert "detail" in response.json()


def test_slot_create_back_to_back_is_201(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant, duration_minutes=60)
    starts = future()
    SlotFactory(theme=theme, starts_at=starts)
    response = merchant_client.post(slots_url(theme), {"starts_at": iso(starts + timedelta(hours=1)), "capacity": 4})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "payload",
    [
        {"starts_at": "2031-05-01T10:00:00", "capacity": 4},
        {"starts_at": "2031-05-01 10:00", "capacity": 4},
        {"starts_at": "tomorrow", "capacity": 4},
        {"starts_at": "2031-05-01T10:00:00+02:00", "capacity": -1},
        {"starts_at": "2031-05-01T10:00:00+02:00", "capacity": 10**12},
        {"starts_at": "2031-05-01T10:00:00+02:00", "capacity": "many"},
        {"starts_at": "2031-05-01T10:00:00+02:00"},
        {"capacity": 4},
        {"starts_at": "2031-05-01T10:00:00+02:00", "ends_at": "2031-05-01T11:00:00", "capacity": 4},
        {"starts_at": "2031-05-01T10:00:00+02:00", "ends_at": "2031-05-01T09:00:00+02:00", "capacity": 4},
        {"starts_at": "99999-05-01T10:00:00+02:00", "capacity": 4},
    ],
)
def test_slot_create_invalid_input_is_400(merchant, merchant_client, payload):
    theme = ThemeFactory(merchant=merchant)
    response = merchant_client.post(slots_url(theme), payload)
    assert response.status_code == 400
    assert not Slot.objects.exists()


def test_slot_create_naive_starts_at_names_the_field(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    response = merchant_client.post(slots_url(theme), {"starts_at": "2031-05-01T10:00:00", "capacity": 4})
    assert response.status_code == 400
    assert "starts_at" in response.json()


def test_slot_create_ignores_seats_left_and_status(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    response = merchant_client.post(
        slots_url(theme), {"starts_at": iso(future()), "capacity": 4, "seats_left": 99, "status": "cancelled"}
    )
    assert response.status_code == 201
    assert response.json()["seats_left"] == 4
    assert response.json()["status"] == "open"


# --- bulk --------------------------------------------------------------------------------


def bulk_url(theme) -> str:
    return f"{THEMES}{theme.pk}/slots/bulk/"


def _a_monday_in(days: int) -> date:
    day = timezone.localdate() + timedelta(days=days)
    return day + timedelta(days=(7 - day.weekday()) % 7)


# Two full weeks from a Monday about two months ahead: in the future and within the two-year horizon.
MONDAY = _a_monday_in(60)
BULK = {
    "start_date": MONDAY.isoformat(),
    "end_date": (MONDAY + timedelta(days=13)).isoformat(),
    "weekdays": [0, 2, 4],
    "times": ["10:00", "14:00"],
    "capacity": 6,
}


def test_slot_bulk_by_owner_is_201_with_created_and_skipped(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    response = merchant_client.post(bulk_url(theme), BULK)
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 12, "skipped": 0}
    again = merchant_client.post(bulk_url(theme), BULK)
    assert again.json() == {"created": 0, "skipped": 12}
    assert Slot.objects.filter(theme=theme).count() == 12


def test_slot_bulk_above_1000_slots_is_400(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    payload = {**BULK, "end_date": (MONDAY + timedelta(days=364)).isoformat(), "weekdays": list(range(7))}
    payload["times"] = ["09:00", "12:00", "15:00"]
    response = merchant_client.post(bulk_url(theme), payload)
    assert response.status_code == 400
    assert not Slot.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"weekdays": [7]},
        {"weekdays": [-1]},
        {"weekdays": []},
        {"weekdays": "monday"},
        {"times": ["25:00"]},
        {"times": ["10:60"]},
        {"times": ["10"]},
        {"times": []},
        {"start_date": "2030-02-30"},
        {"end_date": (MONDAY - timedelta(days=1)).isoformat()},  # before the start
        {"end_date": (MONDAY + timedelta(days=366)).isoformat()},  # a span of more than a year
        {"capacity": -1},
        {"capacity": 10**12},
    ],
)
def test_slot_bulk_invalid_input_is_400(merchant, merchant_client, change):
    theme = ThemeFactory(merchant=merchant)
    response = merchant_client.post(bulk_url(theme), {**BULK, **change})
    assert response.status_code == 400
    assert not Slot.objects.exists()


def test_slot_bulk_by_another_merchant_is_403():
    theme = ThemeFactory()
    assert bearer_client(MerchantFactory().owner).post(bulk_url(theme), BULK).status_code == 403
    assert not Slot.objects.exists()


def test_slot_bulk_anonymous_is_401(api_client):
    assert api_client.post(bulk_url(ThemeFactory()), BULK).status_code == 401


# --- one slot ----------------------------------------------------------------------------


def test_slot_detail_is_public_with_seats_left(api_client):
    slot = SlotFactory(capacity=4)
    BookingFactory(slot=slot, party_size=3)
    response = api_client.get(slot_url(slot))
    assert response.status_code == 200
    assert set(response.json()) == SLOT_FIELDS
    assert response.json()["seats_left"] == 1


@pytest.mark.parametrize("path", ["abc/", "99999999999999999999/", "987654/"])
def test_slot_detail_bad_or_unknown_id_is_404(api_client, path):
    assert api_client.get("/api/v1/slots/" + path).status_code == 404


def test_slot_patch_capacity_below_booked_is_409(merchant, merchant_client):
    slot = SlotFactory(theme__merchant=merchant, capacity=6)
    ConfirmedBookingFactory(slot=slot, party_size=3)
    response = merchant_client.patch(slot_url(slot), {"capacity": 2})
    assert response.status_code == 409
    assert response.json()["code"] == "capacity_below_booked"
    slot.refresh_from_db()
    assert slot.capacity == 6


def test_slot_patch_capacity_to_exactly_booked_is_200(merchant, merchant_client):
    slot = SlotFactory(theme__merchant=merchant, capacity=6)
    ConfirmedBookingFactory(slot=slot, party_size=3)
    response = merchant_client.patch(slot_url(slot), {"capacity": 3})
    assert response.status_code == 200
    assert response.json()["capacity"] == 3
    assert response.json()["seats_left"] == 0


def test_slot_patch_by_non_owner_is_403(customer_client):
    slot = SlotFactory(capacity=6)
    assert bearer_client(MerchantFactory().owner).patch(slot_url(slot), {"capacity": 10}).status_code == 403
    assert customer_client.patch(slot_url(slot), {"capacity": 10}).status_code == 403
    slot.refresh_from_db()
    assert slot.capacity == 6


def test_slot_patch_seats_left_is_read_only(merchant, merchant_client):
    slot = SlotFactory(theme__merchant=merchant, capacity=6)
    response = merchant_client.patch(slot_url(slot), {"capacity": 6, "seats_left": 100, "status": "cancelled"})
    assert response.status_code == 200
    assert response.json()["seats_left"] == 6
    slot.refresh_from_db()
    assert (slot.capacity, slot.status) == (6, SlotStatus.OPEN)


@pytest.mark.parametrize("capacity", [-1, 10**12, "x", None])
def test_slot_patch_invalid_capacity_is_400(merchant, merchant_client, capacity):
    slot = SlotFactory(theme__merchant=merchant)
    assert merchant_client.patch(slot_url(slot), {"capacity": capacity}).status_code == 400


def test_slot_cancel_by_owner_cancels_bookings(merchant, merchant_client):
    slot = SlotFactory(theme__merchant=merchant, capacity=6)
    pending = BookingFactory(slot=slot, party_size=2)
    confirmed = ConfirmedBookingFactory(slot=slot, party_size=1)
    response = merchant_client.post(slot_url(slot, "cancel/"))
    assert response.status_code == 200
    assert response.json()["cancelled_bookings"] == 2
    assert response.json()["slot"]["status"] == "cancelled"
    for booking in (pending, confirmed):
        booking.refresh_from_db()
        assert booking.status == BookingStatus.CANCELLED
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELLED
    again = merchant_client.post(slot_url(slot, "cancel/"))
    assert again.status_code == 200
    assert again.json()["cancelled_bookings"] == 0


def test_slot_cancel_by_admin_is_200(admin_client_api):
    slot = SlotFactory()
    booking = BookingFactory(slot=slot)
    response = admin_client_api.post(slot_url(slot, "cancel/"))
    assert response.status_code == 200
    assert response.json()["cancelled_bookings"] == 1
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_slot_cancel_by_customer_is_403(customer_client):
    slot = SlotFactory()
    booking = BookingFactory(slot=slot)
    assert customer_client.post(slot_url(slot, "cancel/")).status_code == 403
    slot.refresh_from_db()
    booking.refresh_from_db()
    assert slot.status == SlotStatus.OPEN
    assert booking.status == BookingStatus.PENDING_PAYMENT


def test_slot_cancel_by_another_merchant_is_403():
    slot = SlotFactory()
    assert bearer_client(MerchantFactory().owner).post(slot_url(slot, "cancel/")).status_code == 403


def test_slot_cancel_anonymous_is_401(api_client):
    assert api_client.post(slot_url(SlotFactory(), "cancel/")).status_code == 401


def test_cancelled_slot_shows_in_theme_slots_with_its_status(merchant, merchant_client, api_client):
    slot = SlotFactory(theme__merchant=merchant)
    merchant_client.post(slot_url(slot, "cancel/"))
    (row,) = api_client.get(slots_url(slot.theme)).json()["results"]
    assert row["status"] == "cancelled"


# --- inputs at the edges of the datetime range (never a 500) -----------------------------


@pytest.mark.parametrize(
    "starts_at", ["9999-12-31T23:30:00Z", "9999-12-31T23:30:00-05:00", "0001-01-01T00:00:00+05:00"]
)
def test_slot_create_at_the_end_of_the_datetime_range_is_400_not_500(merchant, merchant_client, starts_at):
    theme = ThemeFactory(merchant=merchant, duration_minutes=60)
    response = merchant_client.post(slots_url(theme), {"starts_at": starts_at, "capacity": 4})
    assert response.status_code == 400
    assert "starts_at" in response.json()
    assert not Slot.objects.exists()


@pytest.mark.parametrize(
    ("tz", "start_date", "end_date", "at"),
    [
        ("Europe/Lisbon", "9999-12-25", "9999-12-31", "23:30"),  # the end overflows
        ("America/Los_Angeles", "9999-12-25", "9999-12-31", "23:30"),  # the UTC start overflows
        ("Asia/Tokyo", "0001-01-01", "0001-01-03", "00:30"),  # before year 1 in UTC
    ],
)
def test_slot_bulk_at_the_ends_of_the_datetime_range_is_400_not_500(
    merchant, merchant_client, tz, start_date, end_date, at
):
    merchant.timezone = tz
    merchant.save(update_fields=["timezone"])
    theme = ThemeFactory(merchant=merchant)
    payload = {"start_date": start_date, "end_date": end_date, "weekdays": list(range(7)), "times": [at], "capacity": 1}
    response = merchant_client.post(bulk_url(theme), payload)
    assert response.status_code == 400
    assert not Slot.objects.exists()


@pytest.mark.parametrize("param", ["available_from", "available_to"])
def test_theme_list_window_outside_datetime_range_is_400(api_client, param):
    response = api_client.get(THEMES, {param: "9999-12-31T23:59:59-12:00"})
    assert response.status_code == 400


@pytest.mark.parametrize("param", ["search", "city"])
def test_theme_list_null_character_in_text_filter_is_400(api_client, param):
    assert api_client.get(THEMES, {param: "a\x00b"}).status_code == 400


# --- HEAD / OPTIONS on public resources --------------------------------------------------


def test_head_on_public_theme_resources_is_200_for_anonymous(api_client):
    theme = ThemeFactory()
    SlotFactory(theme=theme)
    assert api_client.head(THEMES).status_code == 200
    assert api_client.head(theme_url(theme)).status_code == 200
    assert api_client.head(slots_url(theme)).status_code == 200


def test_options_on_theme_list_is_200_for_anonymous(api_client):
    assert api_client.options(THEMES).status_code == 200


# --- The two-year horizon (catalog.limits.SLOT_MAX_DAYS_AHEAD, the portal's bound too) ------------


def test_slot_create_more_than_two_years_ahead_is_400_on_starts_at(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    too_far = timezone.now() + timedelta(days=3 * 365)

    response = merchant_client.post(slots_url(theme), {"starts_at": too_far.isoformat(), "capacity": 4})

    assert response.status_code == 400
    assert response.json()["code"] == "too_far_ahead"
    assert "at most two years ahead" in response.json()["starts_at"][0]
    assert not Slot.objects.exists()


def test_slot_create_just_inside_two_years_is_201(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    inside = timezone.now() + timedelta(days=2 * 365)

    response = merchant_client.post(slots_url(theme), {"starts_at": inside.isoformat(), "capacity": 4})

    assert response.status_code == 201, response.json()


def test_slot_bulk_ending_more_than_two_years_ahead_is_400_on_end_date(merchant, merchant_client):
    theme = ThemeFactory(merchant=merchant)
    end = timezone.localdate() + timedelta(days=2 * 366 + 7)
    payload = {**BULK, "start_date": (end - timedelta(days=30)).isoformat(), "end_date": end.isoformat()}

    response = merchant_client.post(bulk_url(theme), payload)

    assert response.status_code == 400
    assert response.json()["code"] == "too_far_ahead"
    assert "end_date" in response.json()
    assert not Slot.objects.exists()
