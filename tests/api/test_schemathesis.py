"""Property-based API tests over the OpenAPI schema (schemathesis 4 + hypothesis).

Every operation of `/api/v1/schema/` is called with generated inputs, as a customer
and as a merchant (Bearer tokens of users in the test database), and every response
must be no server error, carry a status code the schema documents, and match the
documented content type and body schema.

Generation is deterministic (fixed seed, derandomized hypothesis) and bounded
(`MAX_EXAMPLES` fuzzed cases per operation, plus schemathesis' coverage phase of
boundary and invalid values). Generated path ids rarely name a real row, so two out
of three integer ids (path parameters, and the `booking`/`theme` body fields) are
swapped for ids of the test's world (tests/api/world.py): the happy paths run too.

Exclusions: none. Operations with side effects that could get in the way are run
anyway, and why that is fine is noted here:
- `auth_logout` revokes a refresh token; the Bearer access tokens used here stay
  valid, and generated refresh strings are garbage anyway (400/401).
- `payments_create` and `merchants_payouts_onboarding` would call Stripe: STRIPE_API_HOST
  points at a closed local port, so a payable booking (the owner's onboarding) answers the
  documented 503 `payment_provider_unavailable`.
- Throttle rates are raised for this test so generated credentials reach validation
  instead of a 429 (the limits have their own tests).
- The coverage phase (schemathesis' systematic sweep of boundary and invalid values)
  is skipped for the customer on merchant- and admin-only writes (`MERCHANT_WRITES`):
  a customer is refused there (403) before any input is read, so the sweep would
  only repeat that 403 a few hundred times. The customer still fuzzes them.
- `schema/` and `docs/` are not in the schema (SERVE_INCLUDE_SCHEMA=False); the
  authorization matrix checks that both answer 200.
"""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import token_pair_issue
from bookwise.wsgi import application
from tests.api.world import World, build_world, unreachable_url

MAX_EXAMPLES = 15
SEED = 20250601
# schemathesis' WSGI transport sends `Host: localhost`.
WSGI_HOSTS = ["localhost", "testserver"]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)

with override_settings(ALLOWED_HOSTS=WSGI_HOSTS):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application, config=CONFIG)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ACTORS = {"customer": "customer", "merchant": "owner"}
# Operations a customer is refused (403) before the request body or query is read.
MERCHANT_WRITES = {
    "POST /api/v1/themes/",
    "PATCH /api/v1/themes/{id}/",
    "DELETE /api/v1/themes/{id}/",
    "POST /api/v1/themes/{id}/slots/",
    "POST /api/v1/themes/{id}/slots/bulk/",
    "PATCH /api/v1/slots/{id}/",
    "POST /api/v1/slots/{id}/cancel/",
    "POST /api/v1/merchants/{id}/approve/",
    "POST /api/v1/merchants/{id}/suspend/",
    "PATCH /api/v1/merchants/{id}/",
    "POST /api/v1/merchants/{id}/payouts/onboarding/",
    "POST /api/v1/promo-codes/",
    "PATCH /api/v1/promo-codes/{id}/",
}


def _real_ids(world: World) -> dict[str, list[int]]:
    return {
        "merchants": [world.merchant.pk, world.pending_merchant.pk, world.other_merchant_profile.pk],
        "themes": [world.theme.pk, world.other_theme.pk, world.reviewed_theme.pk],
        "slots": [world.slot.pk, world.join_slot.pk, world.past_slot.pk],
        "bookings": [world.booking.pk, world.attendance_booking.pk],
        "reviews": [world.review.pk],
    }


def _maybe_real(value, candidates: list[int]):
    """Two out of three generated integers become a real id of that kind; the rest stay as generated."""
    if isinstance(value, bool) or not isinstance(value, int) or value % 3 == 0:
        return value
    return candidates[value % len(candidates)]


def _point_at_world(case, world: World) -> None:
    ids = _real_ids(world)
    segments = case.operation.path.strip("/").split("/")
    for before, segment in zip(segments, segments[1:], strict=False):
        if segment.startswith("{") and before in ids and case.path_parameters:
            name = segment.strip("{}")
            if name in case.path_parameters:
                case.path_parameters[name] = _maybe_real(case.path_parameters[name], ids[before])
    if isinstance(case.body, dict):
        for field, kind in (("booking", "bookings"), ("theme", "themes")):
            if field in case.body:
                case.body[field] = _maybe_real(case.body[field], ids[kind])


@pytest.fixture
def api_world(db, settings) -> Iterator[World]:
    settings.ALLOWED_HOSTS = WSGI_HOSTS
    settings.STRIPE_API_HOST = unreachable_url()
    # Throttles would turn most credential cases into 429s (documented, but then validation
    # goes untested); the limits have their own tests (accounts, tests/api/test_join_throttle.py).
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/minute"),
    }
    # The raw WSGI handler closes "old" connections around each request; inside the
    # test's transaction that would close it. Django's test client does the same.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield build_world()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def access_token(api_world, actor) -> str:
    return token_pair_issue(user=getattr(api_world, ACTORS[actor]))[0]


def _phase(case) -> str | None:
    return case.meta.phase.name.value if case.meta is not None else None


@pytest.mark.parametrize("actor", sorted(ACTORS))
@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, actor, api_world, access_token):
    if actor == "customer" and _phase(case) == "coverage" and case.operation.label in MERCHANT_WRITES:
        return
    _point_at_world(case, api_world)
    headers = {"Authorization": f"Bearer {access_token}"}
    response = case.call(headers=headers)
    checks = CHECKS
    if _payment_provider_unavailable(case, response):
        # Stripe is deliberately unreachable here: the documented 503 is the right answer,
        # every other check (documented status, content type, body schema) still applies.
        checks = [check for check in CHECKS if check is not not_a_server_error]
    case.validate_response(response, checks=checks, headers=headers)


# Operations that call Stripe (unreachable here) for a caller who passes every check.
STRIPE_CALLERS = {"payments_create", "merchants_payouts_onboarding"}


def _payment_provider_unavailable(case, response) -> bool:
    if case.operation.definition.raw.get("operationId") not in STRIPE_CALLERS or response.status_code != 503:
        return False
    return response.json().get("code") == "payment_provider_unavailable"
