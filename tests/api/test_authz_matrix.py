"""Authorization matrix: every API route x every method x every kind of caller.

The routes and their methods are discovered from the URL conf (tests/api/routes.py);
`test_every_route_and_method_has_a_row` fails as soon as a route or method appears
without a row here, so nothing new ships unchecked.

Each case builds its own world (tests/api/world.py) inside its own transaction, so a
state-changing success (cancel, suspend, delete) never changes another case's outcome.
Writes send a valid body: the status reflects authorization, not validation.

Statuses follow API.md: 401 anonymous on protected routes, 403 wrong role or not the
owner of a visible object, 404 for objects outside the caller's scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.services import token_pair_issue
from tests.api.routes import PRIMARY_METHODS, discover_api_routes
from tests.api.world import ACTORS, PASSWORD, World, build_world, unreachable_url

Body = Callable[[World, str], dict[str, Any] | None]


def E(
    anonymous: int,
    customer: int,
    other_customer: int,
    owner: int,
    other_merchant: int,
    admin: int,
    *,
    suspended_owner: int | None = None,
) -> dict:
    expect = {
        "anonymous": anonymous,
        "customer": customer,
        "other_customer": other_customer,
        "owner": owner,
        "other_merchant": other_merchant,
        "admin": admin,
        # Plain staff (Django admin access, customer role, nothing booked): another customer's rights.
        "staff": other_customer,
        # The owner once suspended: no merchant powers, and their merchant's objects are out of sight (404).
        "suspended_owner": other_customer if suspended_owner is None else suspended_owner,
    }
    assert set(expect) == set(ACTORS)
    return expect


def anyone(status: int) -> dict:
    return dict.fromkeys(ACTORS, status)


def signed_in(status: int) -> dict:
    return {**anyone(status), "anonymous": 401}


def hidden_from_suspended_owner(expect: dict) -> dict:
    """A route on the suspended merchant's own theme or slot: public, yet not for its suspended owner (404)."""
    return {**expect, "suspended_owner": 404}


@dataclass(frozen=True)
class Row:
    expect: dict[str, int]
    body: Body = lambda w, actor: None  # noqa: E731
    # Schema, docs and health are infrastructure, not a role question: only checked anonymously.
    roles: bool = True
    why: str = ""
    extra: dict = field(default_factory=dict)


def _self_or_customer(w: World, actor: str):
    return w.user(actor) or w.customer


def _future(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0).isoformat()


def _theme_body(w: World, actor: str) -> dict:
    return {
        "title": "The Vault",
        "description": "Crack it.",
        "duration_minutes": 60,
        "price": 3000,
        "currency": "eur",
        "min_party": 2,
        "max_party": 5,
    }


def _bulk_body(w: World, actor: str) -> dict:
    start = timezone.localdate() + timedelta(days=60)
    return {
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=6)).isoformat(),
        "weekdays": [0, 2, 4],
        "times": ["10:00", "18:30"],
        "capacity": 4,
    }


def _world_promo_code(w: World):
    """The owner's merchant's promo code (made on first use: the world itself has none)."""
    from bookings.models import PromoCode

    return PromoCode.objects.get_or_create(merchant=w.merchant, code="WORLD10", defaults={"percent_off": 10})[0]


def _world_photo(w: World):
    """A photo of the owner's theme (a row only: deleting it deletes files that were never written)."""
    from catalog.models import ThemePhoto

    return ThemePhoto.objects.filter(theme=w.theme).first() or ThemePhoto.objects.create(
        theme=w.theme, image=f"themes/{w.theme.pk}/world.jpg", alt_text="The vault"
    )


def _photo_upload_body(w: World, actor: str) -> dict:
    from catalog.tests.images import image_bytes, upload

    return {"image": upload(image_bytes("PNG", (64, 48)), name="room.png"), "alt_text": "The vault door"}


def _world_full_slot(w: World):
    """A slot of the owner's theme with every seat taken (made on first use): the waitlist needs one."""
    from bookings.tests.factories import ConfirmedBookingFactory
    from catalog.models import Slot
    from catalog.tests.factories import SlotFactory

    # 45 days out: clear of the world's slots and of those the tests create 30 and 60 days out.
    starts_at = (timezone.now() + timedelta(days=45)).replace(minute=0, second=0, microsecond=0)
    slot = Slot.objects.filter(theme=w.theme, capacity=2, starts_at__gte=starts_at - timedelta(hours=1)).first()
    if slot is None:
        slot = SlotFactory(theme=w.theme, starts_at=starts_at, capacity=2)
        ConfirmedBookingFactory(slot=slot, party_size=2)
    return slot


def _world_waitlist_entry(w: World):
    """The customer's place on the full slot's waitlist (made on first use)."""
    from bookings.models import WaitlistEntry

    return WaitlistEntry.objects.get_or_create(
        slot=_world_full_slot(w), customer=w.customer, defaults={"party_size": 1}
    )[0]


# route -> path with the world's ids filled in
PATHS: dict[str, Callable[[World], str]] = {
    "health/": lambda w: "health/",
    "schema/": lambda w: "schema/",
    "docs/": lambda w: "docs/",
    "auth/register/": lambda w: "auth/register/",
    "auth/token/": lambda w: "auth/token/",
    "auth/token/refresh/": lambda w: "auth/token/refresh/",
    "auth/logout/": lambda w: "auth/logout/",
    "users/me/": lambda w: "users/me/",
    "merchants/": lambda w: "merchants/",
    "merchants/me/": lambda w: "merchants/me/",
    "merchants/{pk}/": lambda w: f"merchants/{w.merchant.pk}/",
    "merchants/{pk}/approve/": lambda w: f"merchants/{w.pending_merchant.pk}/approve/",
    "merchants/{pk}/suspend/": lambda w: f"merchants/{w.merchant.pk}/suspend/",
    "merchants/{pk}/payouts/": lambda w: f"merchants/{w.merchant.pk}/payouts/",
    "merchants/{pk}/payouts/onboarding/": lambda w: f"merchants/{w.merchant.pk}/payouts/onboarding/",
    "merchants/{pk}/statement/": lambda w: f"merchants/{w.merchant.pk}/statement/",
    "merchants/{pk}/calendar-feed/": lambda w: f"merchants/{w.merchant.pk}/calendar-feed/",
    "themes/": lambda w: "themes/",
    "themes/{pk}/": lambda w: f"themes/{w.theme.pk}/",
    "themes/{pk}/slots/": lambda w: f"themes/{w.theme.pk}/slots/",
    "themes/{pk}/slots/bulk/": lambda w: f"themes/{w.theme.pk}/slots/bulk/",
    "themes/{theme_id}/photos/": lambda w: f"themes/{w.theme.pk}/photos/",
    "themes/{theme_id}/photos/order/": lambda w: f"themes/{w.theme.pk}/photos/order/",
    "themes/{theme_id}/photos/{photo_id}/": lambda w: f"themes/{w.theme.pk}/photos/{_world_photo(w).pk}/",
    "slots/{pk}/": lambda w: f"slots/{w.slot.pk}/",
    "slots/{pk}/cancel/": lambda w: f"slots/{w.slot.pk}/cancel/",
    "slots/{slot_id}/join/": lambda w: f"slots/{w.join_slot.pk}/join/",
    "slots/{slot_id}/waitlist/": lambda w: f"slots/{_world_full_slot(w).pk}/waitlist/",
    "waitlist/": lambda w: "waitlist/",
    "waitlist/{pk}/": lambda w: f"waitlist/{_world_waitlist_entry(w).pk}/",
    "slots/{slot_id}/participants/": lambda w: f"slots/{w.slot.pk}/participants/",
    "attendance/": lambda w: "attendance/",
    "bookings/": lambda w: "bookings/",
    "bookings/{pk}/": lambda w: f"bookings/{w.booking.pk}/",
    "bookings/{pk}/cancel/": lambda w: f"bookings/{w.booking.pk}/cancel/",
    "bookings/{pk}/reschedule/": lambda w: f"bookings/{w.booking.pk}/reschedule/",
    "themes/{theme_id}/reviews/": lambda w: f"themes/{w.theme.pk}/reviews/",
    "reviews/": lambda w: "reviews/",
    "reviews/{pk}/": lambda w: f"reviews/{w.review.pk}/",
    "payments/create/": lambda w: "payments/create/",
    "promo-codes/": lambda w: "promo-codes/",
    "promo-codes/{pk}/": lambda w: f"promo-codes/{_world_promo_code(w).pk}/",
}

#                                       anon cust  cust2 owner merch2 admin
TABLE: dict[tuple[str, str], Row] = {
    ("health/", "GET"): Row(anyone(200), roles=False),
    ("schema/", "GET"): Row(anyone(200), roles=False),
    ("docs/", "GET"): Row(anyone(200), roles=False),
    # --- auth: credentials travel in the body; a Bearer header is ignored -----------------------------
    ("auth/register/", "POST"): Row(
        anyone(201),
        body=lambda w, a: {"email": f"new-{a}@example.com", "password": PASSWORD, "full_name": "New Person"},
    ),
    ("auth/token/", "POST"): Row(
        anyone(200), body=lambda w, a: {"email": _self_or_customer(w, a).email, "password": PASSWORD}
    ),
    ("auth/token/refresh/", "POST"): Row(
        anyone(200), body=lambda w, a: {"refresh": token_pair_issue(user=_self_or_customer(w, a))[1]}
    ),
    ("auth/logout/", "POST"): Row(
        signed_in(205), body=lambda w, a: {"refresh": token_pair_issue(user=_self_or_customer(w, a))[1]}
    ),
    ("users/me/", "GET"): Row(signed_in(200)),
    ("users/me/", "PATCH"): Row(signed_in(200), body=lambda w, a: {"full_name": "Renamed"}),
    # --- merchants --------------------------------------------------------------------------------------
    ("merchants/", "GET"): Row(anyone(200)),
    ("merchants/", "POST"): Row(
        E(401, 201, 201, 409, 409, 201, suspended_owner=409),
        body=lambda w, a: {"name": "Riddle Co", "description": "", "city": "Porto", "timezone": "Europe/Lisbon"},
        why="merchants already have a profile: 409 already_merchant",
    ),
    ("merchants/me/", "GET"): Row(E(401, 404, 404, 200, 200, 404, suspended_owner=200)),
    ("merchants/me/", "PATCH"): Row(E(401, 404, 404, 200, 200, 404, suspended_owner=403)),
    ("merchants/{pk}/", "GET"): Row(anyone(200)),
    ("merchants/{pk}/", "PATCH"): Row(
        E(401, 403, 403, 403, 403, 200), body=lambda w, a: {"fee_bps": 500}, why="the platform fee: admins only"
    ),
    ("merchants/{pk}/approve/", "POST"): Row(E(401, 403, 403, 403, 403, 200)),
    ("merchants/{pk}/suspend/", "POST"): Row(
        E(401, 403, 403, 403, 403, 200), body=lambda w, a: {"reason": "Unpaid fees", "keep_bookings": True}
    ),
    # --- payouts: the owner and admins; another merchant may not even see them (404) -------------------
    ("merchants/{pk}/payouts/", "GET"): Row(E(401, 403, 403, 200, 404, 200)),
    ("merchants/{pk}/statement/", "GET"): Row(E(401, 403, 403, 200, 404, 200)),
    ("merchants/{pk}/payouts/onboarding/", "POST"): Row(
        E(401, 403, 403, 503, 404, 403),
        why="the owner gets through to Stripe, which this test makes unreachable: 503 payment_provider_unavailable "
        "(documented); admins onboard no one (403)",
    ),
    # --- the calendar feed URL: the owner's own; another merchant may not see it (404), admins own none --
    ("merchants/{pk}/calendar-feed/", "GET"): Row(E(401, 403, 403, 200, 404, 403)),
    ("merchants/{pk}/calendar-feed/", "POST"): Row(E(401, 403, 403, 200, 404, 403), why="rotates the URL"),
    # --- themes and slots --------------------------------------------------------------------------------
    ("themes/", "GET"): Row(anyone(200)),
    ("themes/", "POST"): Row(E(401, 403, 403, 201, 201, 403), body=_theme_body, why="admins own no merchant"),
    ("themes/{pk}/", "GET"): Row(hidden_from_suspended_owner(anyone(200))),
    ("themes/{pk}/", "PATCH"): Row(
        E(401, 403, 403, 200, 403, 200, suspended_owner=404), body=lambda w, a: {"title": "Renamed"}
    ),
    ("themes/{pk}/", "DELETE"): Row(E(401, 403, 403, 204, 403, 204, suspended_owner=404)),
    ("themes/{pk}/slots/", "GET"): Row(hidden_from_suspended_owner(anyone(200))),
    ("themes/{pk}/slots/", "POST"): Row(
        E(401, 403, 403, 201, 403, 201, suspended_owner=404),
        body=lambda w, a: {"starts_at": _future(30), "capacity": 6},
    ),
    ("themes/{pk}/slots/bulk/", "POST"): Row(E(401, 403, 403, 201, 403, 201, suspended_owner=404), body=_bulk_body),
    # Photos: multipart upload (see _send); the theme's merchant and admins (merchants.permissions.user_manages).
    ("themes/{theme_id}/photos/", "POST"): Row(
        E(401, 403, 403, 201, 403, 201, suspended_owner=404), body=_photo_upload_body
    ),
    ("themes/{theme_id}/photos/order/", "POST"): Row(
        E(401, 403, 403, 200, 403, 200, suspended_owner=404), body=lambda w, a: {"ids": [_world_photo(w).pk]}
    ),
    ("themes/{theme_id}/photos/{photo_id}/", "PATCH"): Row(
        E(401, 403, 403, 200, 403, 200, suspended_owner=404), body=lambda w, a: {"alt_text": "The vault, open"}
    ),
    ("themes/{theme_id}/photos/{photo_id}/", "DELETE"): Row(E(401, 403, 403, 204, 403, 204, suspended_owner=404)),
    ("slots/{pk}/", "GET"): Row(hidden_from_suspended_owner(anyone(200))),
    ("slots/{pk}/", "PATCH"): Row(
        E(401, 403, 403, 200, 403, 200, suspended_owner=404), body=lambda w, a: {"capacity": 8}
    ),
    ("slots/{pk}/cancel/", "POST"): Row(E(401, 403, 403, 200, 403, 200, suspended_owner=404)),
    # --- bookings ----------------------------------------------------------------------------------------
    ("slots/{slot_id}/join/", "POST"): Row(
        hidden_from_suspended_owner(signed_in(201)), body=lambda w, a: {"party_size": 2}
    ),
    # A suspension that kept the bookings leaves its owner these two powers, and no other (merchants.permissions).
    ("slots/{slot_id}/participants/", "GET"): Row(E(401, 403, 403, 200, 403, 200, suspended_owner=200)),
    ("attendance/", "POST"): Row(
        E(401, 403, 404, 200, 404, 200, suspended_owner=200),
        body=lambda w, a: {"booking": w.attendance_booking.pk, "status": "attended"},
        why="the booking's customer sees it but may not mark it (403); others may not see it (404)",
    ),
    # --- waitlist: anyone signed in queues for a full slot; each sees and leaves only their own entries ------
    ("slots/{slot_id}/waitlist/", "POST"): Row(
        hidden_from_suspended_owner(signed_in(201)), body=lambda w, a: {"party_size": 1}
    ),
    ("waitlist/", "GET"): Row(signed_in(200)),
    ("waitlist/{pk}/", "DELETE"): Row(
        E(401, 204, 404, 404, 404, 404), why="its customer only: an entry is nobody else's business (404)"
    ),
    ("bookings/", "GET"): Row(signed_in(200)),
    ("bookings/{pk}/", "GET"): Row(E(401, 200, 404, 200, 404, 200)),
    ("bookings/{pk}/cancel/", "POST"): Row(E(401, 200, 404, 200, 404, 200)),
    ("bookings/{pk}/reschedule/", "POST"): Row(
        E(401, 200, 404, 403, 404, 403),
        body=lambda w, a: {"slot": w.join_slot.pk},
        why="its customer only: the merchant and admins see the booking but may not move it (403)",
    ),
    # --- reviews -----------------------------------------------------------------------------------------
    ("themes/{theme_id}/reviews/", "GET"): Row(anyone(200)),
    ("reviews/", "POST"): Row(
        E(401, 201, 403, 403, 403, 403),
        body=lambda w, a: {"theme": w.theme.pk, "rating": 5, "comment": "Loved it"},
        why="403 not_attended (own_theme for the owner): only the customer attended",
    ),
    ("reviews/{pk}/", "GET"): Row(anyone(200)),
    ("reviews/{pk}/", "PATCH"): Row(
        E(401, 200, 404, 404, 404, 200),
        body=lambda w, a: {"rating": 2},
        why="only the author's and (for admins) all reviews are in the editable scope",
    ),
    ("reviews/{pk}/", "DELETE"): Row(E(401, 204, 404, 404, 404, 204)),
    # --- payments ----------------------------------------------------------------------------------------
    ("payments/create/", "POST"): Row(
        E(401, 503, 404, 404, 404, 404),
        body=lambda w, a: {"booking": w.booking.pk},
        why="the booking's customer gets through to Stripe, which this test makes unreachable: "
        "503 payment_provider_unavailable (documented); everyone else may not even see the booking",
    ),
    # --- promo codes: approved merchants for their own; admins read and change any, create none ---------
    ("promo-codes/", "GET"): Row(E(401, 403, 403, 200, 200, 403), why="admins own no merchant"),
    ("promo-codes/", "POST"): Row(
        E(401, 403, 403, 201, 201, 403), body=lambda w, a: {"code": f"NEW-{a}", "percent_off": 10}
    ),
    ("promo-codes/{pk}/", "GET"): Row(E(401, 403, 403, 200, 404, 200)),
    ("promo-codes/{pk}/", "PATCH"): Row(E(401, 403, 403, 200, 404, 200), body=lambda w, a: {"is_active": False}),
}

# OPTIONS (DRF metadata) runs the view's permission checks: anonymous callers get a 401
# on these routes and a 200 elsewhere; signed-in callers always get a 200.
OPTIONS_ANONYMOUS_401 = {
    "themes/{theme_id}/photos/",
    "themes/{theme_id}/photos/order/",
    "themes/{theme_id}/photos/{photo_id}/",
    "promo-codes/",
    "promo-codes/{pk}/",
    "auth/logout/",
    "users/me/",
    "slots/{pk}/",  # SlotViewSet's metadata action falls under its signed-in rule (PATCH)
    "slots/{pk}/cancel/",
    "slots/{slot_id}/join/",
    "slots/{slot_id}/participants/",
    "slots/{slot_id}/waitlist/",
    "waitlist/",
    "waitlist/{pk}/",
    "attendance/",
    "bookings/",
    "bookings/{pk}/",
    "bookings/{pk}/cancel/",
    "bookings/{pk}/reschedule/",
    "payments/create/",
}
# The HTML-only Swagger page serves GET and HEAD only (OPTIONS metadata cannot be rendered as HTML).
OPTIONS_NOT_SERVED = {"docs/"}


def _derived_rows() -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    for route in {route for route, _ in TABLE}:
        get = TABLE.get((route, "GET"))
        if get is not None:
            rows[(route, "HEAD")] = Row(get.expect, roles=get.roles)
        if route not in OPTIONS_NOT_SERVED:
            anonymous = 401 if route in OPTIONS_ANONYMOUS_401 else 200
            rows[(route, "OPTIONS")] = Row({**anyone(200), "anonymous": anonymous}, roles=TABLE_ROLES[route])
    return rows


TABLE_ROLES = {route: row.roles for (route, _), row in TABLE.items()}
ALL_ROWS = {**TABLE, **_derived_rows()}


def _cases():
    for (route, method), row in sorted(ALL_ROWS.items()):
        for actor in ACTORS if row.roles else ("anonymous",):
            yield pytest.param(route, method, actor, id=f"{method} {route} as {actor}")


def _send(client, method: str, path: str, body: dict | None):
    url = "/api/v1/" + path
    if method in ("GET", "HEAD", "OPTIONS"):
        return getattr(client, method.lower())(url)
    if body and any(hasattr(value, "read") for value in body.values()):  # a file upload: multipart
        return client.post(url, body, format="multipart")
    return client.generic(method, url, data=_json(body), content_type="application/json")


def _json(body: dict | None) -> str:
    import json

    return json.dumps(body if body is not None else {})


@pytest.fixture
def world(db, settings) -> World:
    settings.STRIPE_API_HOST = unreachable_url()
    return build_world()


def test_every_route_and_method_has_a_row():
    discovered = {(route, method) for route, methods in discover_api_routes().items() for method in methods}
    assert discovered == set(ALL_ROWS), (
        f"routes without a row: {sorted(discovered - set(ALL_ROWS))}; "
        f"rows without a route: {sorted(set(ALL_ROWS) - discovered)}"
    )
    assert set(PATHS) == {route for route, _ in discovered}


@pytest.mark.parametrize(("route", "method", "actor"), list(_cases()))
def test_status(world: World, route: str, method: str, actor: str):
    row = ALL_ROWS[(route, method)]
    world.prepare(actor)
    response = _send(world.client(actor), method, PATHS[route](world), row.body(world, actor))

    expected = row.expect[actor]
    assert response.status_code == expected, (
        f"{method} /api/v1/{PATHS[route](world)} as {actor}: {response.status_code}, expected {expected}"
        f"{' (' + row.why + ')' if row.why else ''}; body: {response.content[:300]!r}"
    )


@pytest.mark.parametrize("route", sorted(PATHS))
def test_unserved_methods_answer_405(world: World, route: str):
    """A method a route does not serve is a 405 (for a caller who passes every permission), never a 500."""
    served = discover_api_routes()[route]
    client = world.client("admin")
    for method in {*PRIMARY_METHODS, "OPTIONS"} - served:
        response = _send(client, method, PATHS[route](world), {})
        assert response.status_code == 405, f"{method} /api/v1/{PATHS[route](world)}: {response.status_code}"


@pytest.mark.django_db
def test_an_unknown_api_path_answers_json_404_and_pages_keep_html(api_client):
    response = api_client.get("/api/v1/bookings/not-a-number/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}

    page = api_client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
