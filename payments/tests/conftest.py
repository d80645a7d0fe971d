"""Payments test fixtures: paid themes, pending bookings, Celery retries in-process.

The localstripe process, the dj-stripe endpoint and webhook delivery to the
live server (`localstripe`, `webhook_endpoint`, `localstripe_delivers_to`) are
in the root conftest.py, shared with the bookings and browser tests.
"""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from bookings.services import booking_join
from catalog.tests.factories import SlotFactory
from devtools.embedded import free_port


@pytest.fixture
def closed_port_url():
    """A Stripe API base URL where nothing listens: every call fails with a connection error."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def paid_slot(db):
    return SlotFactory(theme__price=2500, theme__currency="usd", capacity=5)


@pytest.fixture
def pending_booking(paid_slot):
    """A pending_payment hold of 2 seats (5000 usd cents), made through the booking engine."""
    return booking_join(slot_id=paid_slot.pk, customer=UserFactory(), party_size=2)


@pytest.fixture
def eager_retries():
    """Let eager tasks run their Celery retries in-process (propagating would raise celery's Retry instead)."""
    from bookwise.celery import app

    old = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = old
