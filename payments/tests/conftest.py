"""Payments test fixtures: a real localstripe process, the dj-stripe endpoint, paid themes."""

from __future__ import annotations

import pytest
import stripe
from django.conf import settings as django_settings

from accounts.tests.factories import UserFactory
from bookings.services import booking_join
from bookwise.embedded import free_port, register_localstripe_webhook, start_localstripe, stop_process
from catalog.tests.factories import SlotFactory
from payments.stripe_setup import ensure_webhook_endpoint, webhook_path

LOCALSTRIPE_WEBHOOK_NAME = "bookwise-payments-tests"


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """One `localstripe --from-scratch` for the session; dj-stripe, the SDK and our services point at it."""
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    process, base_url = start_localstripe(free_port(), log=log)
    old_host = getattr(django_settings, "STRIPE_API_HOST", None)
    old_base = stripe.api_base
    django_settings.STRIPE_API_HOST = base_url
    stripe.api_base = base_url  # dj-stripe's own calls use the module-level SDK
    try:
        yield base_url
    finally:
        stripe.api_base = old_base
        if old_host is None:
            del django_settings.STRIPE_API_HOST
        else:
            django_settings.STRIPE_API_HOST = old_host
        stop_process(process)


@pytest.fixture
def webhook_endpoint(db, localstripe):
    """dj-stripe's endpoint for STRIPE_WEBHOOK_SECRET, with the local Account + APIKey rows."""
    return ensure_webhook_endpoint("http://testserver")


@pytest.fixture
def localstripe_delivers_to(localstripe, live_server):
    """Make localstripe deliver its signed events to the live server's endpoint (memory only: undone after)."""

    def register(endpoint):
        register_localstripe_webhook(
            localstripe, LOCALSTRIPE_WEBHOOK_NAME, live_server.url + webhook_path(endpoint), endpoint.secret
        )

    yield register
    # Nothing listens on a freshly freed port: later events go nowhere.
    register_localstripe_webhook(
        localstripe, LOCALSTRIPE_WEBHOOK_NAME, f"http://127.0.0.1:{free_port()}/", "whsec_nobody"
    )


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
