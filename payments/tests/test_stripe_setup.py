import hashlib
import hmac
import json
import re
import time

import pytest
from django.core.management import call_command
from djstripe.models import Account, APIKey, Event, WebhookEndpoint

from payments.stripe_setup import (
    LOCAL_ACCOUNT_ID,
    ensure_local_stripe_account,
    ensure_webhook_endpoint,
    webhook_path,
)

pytestmark = pytest.mark.django_db

WEBHOOK_PATH = re.compile(r"/stripe/webhook/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/")


def run_command(capsys, *args):
    call_command("stripe_webhook_endpoint", *args)
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_ensure_webhook_endpoint_twice_gives_one_endpoint_with_the_same_path():
    first = ensure_webhook_endpoint("http://127.0.0.1:8000")
    second = ensure_webhook_endpoint("http://127.0.0.1:8000")

    assert WebhookEndpoint.objects.count() == 1
    assert first.djstripe_id == second.djstripe_id
    assert webhook_path(first) == webhook_path(second)


def test_endpoint_verifies_signatures_with_the_configured_secret_and_tolerance(settings):
    settings.STRIPE_WEBHOOK_TOLERANCE = 120

    endpoint = ensure_webhook_endpoint()

    endpoint.refresh_from_db()
    assert endpoint.secret == settings.STRIPE_WEBHOOK_SECRET
    assert endpoint.djstripe_validation_method == "verify_signature"
    assert endpoint.djstripe_tolerance == 120
    assert endpoint.status == "enabled"
    assert endpoint.livemode is False
    assert endpoint.url == settings.SITE_URL.rstrip("/") + webhook_path(endpoint)


def test_command_prints_the_path_as_last_line_and_reuses_the_endpoint(capsys):
    first = run_command(capsys)
    second = run_command(capsys)

    assert WEBHOOK_PATH.fullmatch(first)
    assert second == first
    assert WebhookEndpoint.objects.count() == 1


def test_command_prints_the_absolute_url_with_base_url(capsys):
    path = run_command(capsys)

    url = run_command(capsys, "--base-url", "https://bookwise.example.com/")

    assert url == f"https://bookwise.example.com{path}"
    assert WebhookEndpoint.objects.get().url == url


def test_another_secret_gets_its_own_endpoint(settings):
    first = ensure_webhook_endpoint()
    settings.STRIPE_WEBHOOK_SECRET = "whsec_rotated_secret"

    second = ensure_webhook_endpoint()

    assert WebhookEndpoint.objects.count() == 2
    assert webhook_path(second) != webhook_path(first)
    assert second.secret == "whsec_rotated_secret"


def test_local_account_owns_the_test_key_so_dj_stripe_never_asks_stripe():
    from django.conf import settings

    ensure_local_stripe_account()
    ensure_local_stripe_account()

    key = APIKey.objects.get(secret=settings.STRIPE_SECRET_KEY)
    assert key.djstripe_owner_account.id == LOCAL_ACCOUNT_ID
    assert Account.objects.count() == 1
    # What dj-stripe does on every webhook; without the rows it calls GET /v1/account.
    assert Account.get_or_retrieve_for_api_key(settings.STRIPE_SECRET_KEY).id == LOCAL_ACCOUNT_ID


def test_live_mode_creates_no_local_account(settings):
    settings.STRIPE_LIVE_MODE = True

    assert ensure_local_stripe_account() is None
    assert not Account.objects.exists()
    assert not APIKey.objects.exists()


def signed_post(client, path, payload, secret, timestamp=None):
    body = json.dumps(payload)
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return client.post(
        path, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={timestamp},v1={signature}"
    )


def test_endpoint_accepts_a_signed_event_offline(client, settings):
    endpoint = ensure_webhook_endpoint()
    event = {
        "id": "evt_bookwise_setup_check",
        "object": "event",
        "type": "bookwise.setup_check",
        "api_version": "2020-08-27",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "data": {"object": {"id": "obj_1", "object": "bookwise_check"}},
        "request": {"id": None, "idempotency_key": None},
    }

    response = signed_post(client, webhook_path(endpoint), event, settings.STRIPE_WEBHOOK_SECRET)

    assert response.status_code == 200, response.content
    assert Event.objects.get(id="evt_bookwise_setup_check").djstripe_owner_account_id == LOCAL_ACCOUNT_ID


def test_endpoint_refuses_a_bad_signature(client):
    endpoint = ensure_webhook_endpoint()
    event = {"id": "evt_forged", "object": "event", "type": "bookwise.setup_check", "data": {"object": {}}}

    response = signed_post(client, webhook_path(endpoint), event, "whsec_not_the_secret")

    assert response.status_code == 400
    assert not Event.objects.filter(id="evt_forged").exists()


def test_every_event_the_endpoint_subscribes_to_has_a_receiver():
    """The endpoint (and localstripe, devtools.embedded) subscribe to ENABLED_EVENTS: each must be applied."""
    from djstripe.models import Event
    from djstripe.signals import WEBHOOK_SIGNALS

    from payments.events import ENABLED_EVENTS

    assert ENABLED_EVENTS
    for event in ENABLED_EVENTS:
        assert WEBHOOK_SIGNALS[event].has_listeners(sender=Event), event
