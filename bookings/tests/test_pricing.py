"""bookings.pricing: what a booking costs, per theme shape (API.md "Theme and slot fields"), and the API around it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import Booking, BookingStatus
from bookings.pricing import Price, booking_price, slot_flat_price, slot_unit_price
from bookings.tests.factories import BookingFactory
from bookwise.errors import InvalidInput
from catalog.models import BookingMode, Slot, Theme
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client

TIERS = [
    {"code": "adult", "label": "Adult", "price": 3000},
    {"code": "child", "label": "Child", "price": 1500},
]


def _slot(price: int | None = None, **theme_fields) -> Slot:
    """An unsaved slot of an unsaved theme: pricing is pure, no database needed."""
    fields = {"price": 2500, "currency": "usd", "min_party": 1, "max_party": 6, **theme_fields}
    return Slot(theme=Theme(**fields), capacity=10, price=price)


# --- Amounts ------------------------------------------------------------------------------------


def test_shared_theme_without_tiers_is_unit_price_times_party():
    assert booking_price(slot=_slot(), party_size=3, tickets=None) == Price(amount=7500, party_size=3, tickets=[])


def test_party_size_defaults_to_one_and_empty_tickets_count_as_none():
    assert booking_price(slot=_slot(), party_size=None, tickets=[]) == Price(amount=2500, party_size=1, tickets=[])


def test_a_peak_priced_slot_charges_its_own_price_per_person():
    slot = _slot(price=4000)
    assert slot_unit_price(slot=slot) == 4000
    assert booking_price(slot=slot, party_size=2, tickets=None).amount == 8000


def test_a_free_peak_price_of_zero_overrides_the_theme_price():
    assert booking_price(slot=_slot(price=0), party_size=2, tickets=None).amount == 0


def test_tiers_sum_quantity_times_tier_price_and_set_the_party():
    slot = _slot(price_tiers=TIERS)
    tickets = [{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}]
    assert booking_price(slot=slot, party_size=None, tickets=tickets) == Price(
        amount=7500, party_size=3, tickets=tickets
    )


def test_tier_amounts_in_a_zero_decimal_currency_are_whole_yen():
    slot = _slot(currency="jpy", price=3000, price_tiers=[{"code": "adult", "label": "大人", "price": 3300}])
    price = booking_price(slot=slot, party_size=None, tickets=[{"tier": "adult", "quantity": 3}])
    assert price.amount == 9900  # ¥9,900: minor units are yen, nothing is multiplied by 100


def test_a_slot_price_does_not_change_tier_prices():
    slot = _slot(price=9999, price_tiers=TIERS)
    assert booking_price(slot=slot, party_size=None, tickets=[{"tier": "child", "quantity": 2}]).amount == 3000


def test_zero_quantities_are_allowed_beside_a_positive_one():
    slot = _slot(price_tiers=TIERS)
    tickets = [{"tier": "adult", "quantity": 0}, {"tier": "child", "quantity": 2}]
    assert booking_price(slot=slot, party_size=2, tickets=tickets).amount == 3000


def test_private_flat_price_is_for_the_whole_slot_whatever_the_party():
    slot = _slot(booking_mode=BookingMode.PRIVATE, private_price=12000)
    assert slot_flat_price(slot=slot) == 12000
    assert booking_price(slot=slot, party_size=2, tickets=None).amount == 12000
    assert booking_price(slot=slot, party_size=6, tickets=None).amount == 12000


def test_private_flat_price_takes_the_slots_peak_price():
    slot = _slot(price=15000, booking_mode=BookingMode.PRIVATE, private_price=12000)
    assert booking_price(slot=slot, party_size=3, tickets=None).amount == 15000


def test_private_flat_price_with_tiers_is_flat_and_the_tickets_give_the_party():
    slot = _slot(price=15000, booking_mode=BookingMode.PRIVATE, private_price=12000, price_tiers=TIERS)
    tickets = [{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}]
    assert booking_price(slot=slot, party_size=None, tickets=tickets) == Price(
        amount=15000, party_size=3, tickets=tickets
    )


def test_private_without_a_private_price_is_per_person():
    slot = _slot(booking_mode=BookingMode.PRIVATE)
    assert slot_flat_price(slot=slot) is None
    assert booking_price(slot=slot, party_size=4, tickets=None).amount == 10000


def test_a_private_price_on_a_shared_theme_is_ignored():
    assert slot_flat_price(slot=_slot(private_price=12000)) is None


# --- Refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tickets",
    [
        None,
        [],
        "adult",
        [{"tier": "senior", "quantity": 1}],
        [{"tier": "adult", "quantity": 1}, {"tier": "adult", "quantity": 1}],
        [{"tier": "adult", "quantity": -1}, {"tier": "child", "quantity": 2}],
        [{"tier": "adult", "quantity": 0}, {"tier": "child", "quantity": 0}],
        [{"tier": "adult", "quantity": True}],
        [{"tier": "adult", "quantity": "2"}],
        [{"tier": "adult"}],
        ["adult"],
    ],
)
def test_bad_tickets_on_a_tiered_theme_are_invalid_tickets(tickets):
    with pytest.raises(InvalidInput) as exc:
        booking_price(slot=_slot(price_tiers=TIERS), party_size=None, tickets=tickets)
    assert exc.value.code == "invalid_tickets"


def test_tickets_on_a_theme_without_tiers_are_refused():
    with pytest.raises(InvalidInput) as exc:
        booking_price(slot=_slot(), party_size=None, tickets=[{"tier": "adult", "quantity": 1}])
    assert exc.value.code == "invalid_tickets"


def test_party_size_that_disagrees_with_the_tickets_is_refused():
    with pytest.raises(InvalidInput) as exc:
        booking_price(slot=_slot(price_tiers=TIERS), party_size=2, tickets=[{"tier": "adult", "quantity": 3}])
    assert exc.value.code == "invalid_party_size"


@pytest.mark.parametrize("quantity", [1, 5])
def test_tickets_outside_the_party_range_are_invalid_party_size(quantity):
    slot = _slot(min_party=2, max_party=4, price_tiers=TIERS)
    with pytest.raises(InvalidInput) as exc:
        booking_price(slot=slot, party_size=None, tickets=[{"tier": "adult", "quantity": quantity}])
    assert exc.value.code == "invalid_party_size"


@pytest.mark.parametrize("party", [1, 7])
def test_private_party_must_lie_within_min_and_max(party):
    slot = _slot(booking_mode=BookingMode.PRIVATE, private_price=12000, min_party=2, max_party=6)
    with pytest.raises(InvalidInput) as exc:
        booking_price(slot=slot, party_size=party, tickets=None)
    assert exc.value.code == "invalid_party_size"


# --- Through the engine and the API ---------------------------------------------------------------


def _join_url(slot) -> str:
    return f"/api/v1/slots/{slot.pk}/join/"


@pytest.mark.django_db
def test_join_with_tickets_stores_them_and_charges_the_tier_amount_in_yen():
    slot = SlotFactory(theme=ThemeFactory(currency="jpy", price=3000, price_tiers=TIERS), capacity=10)
    tickets = [{"tier": "adult", "quantity": 2}, {"tier": "child", "quantity": 1}]

    response = bearer_client(UserFactory()).post(_join_url(slot), {"tickets": tickets}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["party_size"], body["amount"], body["currency"]) == (3, 7500, "jpy")
    assert body["tickets"] == tickets
    assert (body["discount"], body["refunded_amount"]) == (0, 0)
    booking = Booking.objects.get(pk=body["id"])
    assert (booking.amount, booking.party_size, booking.tickets) == (7500, 3, tickets)


@pytest.mark.django_db
def test_join_of_a_tiered_theme_with_only_party_size_is_400_invalid_tickets():
    slot = SlotFactory(theme=ThemeFactory(price_tiers=TIERS))

    response = bearer_client(UserFactory()).post(_join_url(slot), {"party_size": 2}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_tickets"
    assert not Booking.objects.filter(slot=slot).exists()


@pytest.mark.django_db
def test_join_with_unknown_tier_is_400_and_books_nothing():
    slot = SlotFactory(theme=ThemeFactory(price_tiers=TIERS))

    response = bearer_client(UserFactory()).post(
        _join_url(slot), {"tickets": [{"tier": "senior", "quantity": 1}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_tickets"
    assert not Booking.objects.filter(slot=slot).exists()


@pytest.mark.django_db
def test_join_of_a_peak_priced_slot_charges_the_peak_price():
    slot = SlotFactory(theme=ThemeFactory(price=2500), price=4000)

    booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=2)

    assert (booking.amount, booking.status, booking.tickets) == (8000, BookingStatus.PENDING_PAYMENT, [])


@pytest.mark.django_db
def test_join_of_free_tickets_only_confirms_at_once():
    tiers = [*TIERS, {"code": "infant", "label": "Infant", "price": 0}]
    slot = SlotFactory(theme=ThemeFactory(price_tiers=tiers))

    booking = services.booking_join(
        slot_id=slot.pk, customer=UserFactory(), tickets=[{"tier": "infant", "quantity": 1}]
    )

    assert (booking.amount, booking.status, booking.expires_at) == (0, BookingStatus.CONFIRMED, None)


@pytest.mark.django_db
def test_old_theme_join_is_unchanged_price_times_party_and_empty_tickets():
    theme = ThemeFactory(price=2500)
    slot = SlotFactory(theme=theme)

    response = bearer_client(UserFactory()).post(_join_url(slot), {"party_size": 3}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["party_size"], body["tickets"]) == (7500, 3, [])
    theme.refresh_from_db()
    assert (theme.booking_mode, theme.private_price, theme.price_tiers) == (BookingMode.SHARED, None, [])
    assert (theme.min_players, theme.min_players_deadline_hours, theme.cancellation_policy) == (1, 24, [])


@pytest.mark.django_db
def test_catalog_price_filter_and_ordering_use_the_themes_base_price():
    cheap_with_peak = ThemeFactory(price=1000, title="A")
    SlotFactory(theme=cheap_with_peak, price=9000)
    dear = ThemeFactory(price=5000, title="B")
    SlotFactory(theme=dear)
    client = bearer_client(UserFactory())

    def ids(params):
        response = client.get("/api/v1/themes/", params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids({"min_price": 4000}) == [dear.pk]
    assert ids({"max_price": 2000}) == [cheap_with_peak.pk]
    assert ids({"ordering": "price"}) == [cheap_with_peak.pk, dear.pk]
    assert ids({"ordering": "-price"}) == [dear.pk, cheap_with_peak.pk]


# --- Catalog: theme fields and slot prices ----------------------------------------------------------

NEW_THEME = {"title": "Family vault", "duration_minutes": 60, "price": 2500, "currency": "eur"}


@pytest.fixture
def owner_client(db):
    theme = ThemeFactory()
    return bearer_client(theme.merchant.owner), theme


@pytest.mark.django_db
def test_theme_create_and_patch_round_trip_every_selling_field(owner_client):
    client, _ = owner_client
    body = {
        **NEW_THEME,
        "booking_mode": "private",
        "private_price": 12000,
        "price_tiers": [
            {"code": "adult", "label": " Adult ", "price": 3000},
            {"code": "child", "label": "Kid", "price": 0},
        ],
        "min_players": 2,
        "min_players_deadline_hours": 48,
        "cancellation_policy": [
            {"hours_before": 24, "refund_percent": 50},
            {"hours_before": 48, "refund_percent": 100},
        ],
    }

    response = client.post("/api/v1/themes/", body, format="json")

    assert response.status_code == 201, response.content
    out = response.json()
    assert (out["booking_mode"], out["private_price"], out["min_players"]) == ("private", 12000, 2)
    assert out["price_tiers"][0] == {"code": "adult", "label": "Adult", "price": 3000}
    # Stored largest hours_before first: the order in which the tiers apply.
    assert out["cancellation_policy"] == [
        {"hours_before": 48, "refund_percent": 100},
        {"hours_before": 24, "refund_percent": 50},
    ]
    patch = client.patch(
        f"/api/v1/themes/{out['id']}/",
        {"booking_mode": "shared", "private_price": None, "price_tiers": []},
        format="json",
    )
    assert patch.status_code == 200, patch.content
    assert (patch.json()["booking_mode"], patch.json()["private_price"], patch.json()["price_tiers"]) == (
        "shared",
        None,
        [],
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"private_price": 5000}, "invalid_private_price"),
        ({"price_tiers": [{"code": "a", "label": "A", "price": 1}, {"code": "a", "label": "B", "price": 2}]}, None),
        ({"price_tiers": [{"code": "Adult!", "label": "A", "price": 1}]}, None),
        ({"price_tiers": [{"code": "a", "label": "   ", "price": 1}]}, None),
        ({"price_tiers": [{"code": "a", "label": "A", "price": 10**9}]}, None),
        ({"price_tiers": [{"code": f"t{i}", "label": "T", "price": 1} for i in range(9)]}, None),
        ({"min_players": 0}, None),
        ({"min_players_deadline_hours": 721}, None),
        ({"booking_mode": "exclusive"}, None),
        ({"cancellation_policy": [{"hours_before": 24, "refund_percent": 100}] * 2}, "invalid_cancellation_policy"),
        ({"cancellation_policy": [{"hours_before": 24, "refund_percent": 101}]}, None),
        ({"cancellation_policy": [{"hours_before": 8761, "refund_percent": 100}]}, None),
        ({"cancellation_policy": [{"hours_before": h, "refund_percent": 10} for h in range(7)]}, None),
    ],
)
def test_theme_create_refuses_bad_selling_fields_with_400(owner_client, fields, code):
    client, _ = owner_client

    response = client.post("/api/v1/themes/", {**NEW_THEME, **fields}, format="json")

    assert response.status_code == 400, response.content
    if code:
        assert response.json()["code"] == code
    assert not Theme.objects.filter(title=NEW_THEME["title"]).exists()


@pytest.mark.django_db
def test_theme_service_refuses_duplicate_tier_codes_and_bad_policy_types():
    from catalog.services import theme_create

    merchant = ThemeFactory().merchant
    with pytest.raises(InvalidInput) as exc:
        theme_create(
            merchant=merchant,
            **NEW_THEME,
            price_tiers=[{"code": "a", "label": "A", "price": 1}, {"code": "a", "label": "B", "price": 1}],
        )
    assert exc.value.code == "invalid_price_tiers"
    with pytest.raises(InvalidInput) as exc:
        theme_create(merchant=merchant, **NEW_THEME, cancellation_policy=[{"hours_before": "24", "refund_percent": 1}])
    assert exc.value.code == "invalid_cancellation_policy"


@pytest.mark.django_db
def test_patch_to_shared_while_keeping_a_private_price_is_refused(owner_client):
    client, theme = owner_client
    Theme.objects.filter(pk=theme.pk).update(booking_mode=BookingMode.PRIVATE, private_price=9000)

    response = client.patch(f"/api/v1/themes/{theme.pk}/", {"booking_mode": "shared"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_private_price"
    theme.refresh_from_db()
    assert theme.booking_mode == BookingMode.PRIVATE


def _future(days: int = 5) -> str:
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0).isoformat()


@pytest.mark.django_db
def test_slot_create_and_bulk_create_take_a_price(owner_client):
    client, theme = owner_client

    one = client.post(
        f"/api/v1/themes/{theme.pk}/slots/", {"starts_at": _future(), "capacity": 6, "price": 3500}, format="json"
    )
    start = timezone.localdate() + timedelta(days=10)
    bulk = client.post(
        f"/api/v1/themes/{theme.pk}/slots/bulk/",
        {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=6)).isoformat(),
            "weekdays": [4, 5],
            "times": ["19:00"],
            "capacity": 6,
            "price": 3500,
        },
        format="json",
    )

    assert one.status_code == 201, one.content
    assert one.json()["price"] == 3500
    assert bulk.status_code == 201, bulk.content
    assert bulk.json()["created"] == 2
    assert set(Slot.objects.filter(theme=theme).values_list("price", flat=True)) == {3500}


@pytest.mark.django_db
def test_slot_price_is_refused_on_a_tiered_theme_without_a_flat_price(owner_client):
    client, theme = owner_client
    Theme.objects.filter(pk=theme.pk).update(price_tiers=TIERS)

    response = client.post(
        f"/api/v1/themes/{theme.pk}/slots/", {"starts_at": _future(), "capacity": 6, "price": 3500}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_price"


@pytest.mark.django_db
def test_slot_patch_sets_and_clears_the_price_while_nothing_is_booked(owner_client):
    client, theme = owner_client
    slot = SlotFactory(theme=theme)

    set_ = client.patch(f"/api/v1/slots/{slot.pk}/", {"price": 4200}, format="json")
    cleared = client.patch(f"/api/v1/slots/{slot.pk}/", {"price": None}, format="json")

    assert (set_.status_code, set_.json()["price"]) == (200, 4200)
    assert (cleared.status_code, cleared.json()["price"]) == (200, None)
    slot.refresh_from_db()
    assert (slot.price, slot.capacity) == (None, 5)


@pytest.mark.django_db
def test_slot_patch_of_the_price_is_409_once_a_booking_holds_seats(owner_client):
    client, theme = owner_client
    slot = SlotFactory(theme=theme, capacity=5)
    BookingFactory(slot=slot)

    response = client.patch(f"/api/v1/slots/{slot.pk}/", {"price": 4200, "capacity": 8}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_has_bookings"
    slot.refresh_from_db()
    assert (slot.price, slot.capacity) == (None, 5)  # neither change was made


@pytest.mark.django_db
def test_slot_patch_with_neither_field_is_400(owner_client):
    client, theme = owner_client
    slot = SlotFactory(theme=theme)

    assert client.patch(f"/api/v1/slots/{slot.pk}/", {}, format="json").status_code == 400
