"""POST /slots/{id}/join/ is throttled per user at THROTTLE_JOIN (it was configured but never applied)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from bookings.models import Booking
from catalog.tests.factories import SlotFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db


def test_join_answers_429_once_the_users_join_rate_is_used_up(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "join": "2/minute"},
    }
    slots = SlotFactory.create_batch(3)
    client = bearer_client(UserFactory())

    statuses = [client.post(f"/api/v1/slots/{slot.pk}/join/", {}, format="json").status_code for slot in slots]

    assert statuses == [201, 201, 429]
    assert Booking.objects.count() == 2
    # The bucket is per user: someone else still gets in.
    assert bearer_client(UserFactory()).post(f"/api/v1/slots/{slots[2].pk}/join/").status_code == 201
