"""Test helpers that act as Stripe (signed events) or as the customer's browser (localstripe)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import requests
import stripe
from django.conf import settings
from django.test import Client
from djstripe.models import WebhookEndpoint

from payments.stripe_setup import webhook_path

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches fine, declined when charged
CARD_3DS = "4000002500003155"  # asks for 3-D Secure when the intent is confirmed


def stripe_as_customer() -> stripe.StripeClient:
    """What Stripe.js would do in the browser, done against localstripe with the secret key."""
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_HOST})


def pay_intent(intent_id: str, *, card: str = CARD_OK) -> Any:
    """Attach a card to the intent and confirm it (localstripe cannot confirm with payment_method=)."""
    client = stripe_as_customer()
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    return client.v1.payment_intents.confirm(intent_id)


def card_token(card: str = CARD_OK) -> str:
    """What Stripe.js `createToken(cardElement)` does: POST /v1/tokens with the publishable key only."""
    response = requests.post(
        f"{settings.STRIPE_API_HOST}/v1/tokens",
        data={
            "card[number]": card,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
            "key": settings.STRIPE_PUBLISHABLE_KEY,
        },
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["id"]


def retrieve_intent(intent_id: str) -> dict[str, Any]:
    return stripe_as_customer().v1.payment_intents.retrieve(intent_id).to_dict()


def intents_for_booking(booking_id: int) -> list[str]:
    """Every PaymentIntent localstripe holds for this booking (by metadata)."""
    intents = stripe_as_customer().v1.payment_intents.list(params={"limit": 100})
    return [pi.id for pi in intents.auto_paging_iter() if (pi.metadata or {}).get("booking_id") == str(booking_id)]


def refunds_for_intent(intent_id: str) -> list[dict[str, Any]]:
    refunds = stripe_as_customer().v1.refunds.list(params={"payment_intent": intent_id, "limit": 100})
    return [r.to_dict() for r in refunds.data]


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_test_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2017-08-15",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signature_header(body: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header, built the way Stripe builds it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def post_event(
    endpoint: WebhookEndpoint,
    event: dict[str, Any],
    *,
    client: Client | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
    body: str | None = None,
    signed_body: str | None = None,
    sign: bool = True,
):
    """POST an event to dj-stripe's endpoint URL. `signed_body` != `body` simulates tampering."""
    client = client or Client()
    body = json.dumps(event) if body is None else body
    headers = {}
    if sign:
        headers["HTTP_STRIPE_SIGNATURE"] = signature_header(
            body if signed_body is None else signed_body, secret or endpoint.secret, timestamp
        )
    return client.post(webhook_path(endpoint), data=body, content_type="application/json", **headers)


class RecordingTransport(stripe.RequestsClient):
    """The SDK's real HTTP client, noting each call; the first `failures` calls go to a closed port.

    A refused connection is a real network failure (stripe.APIConnectionError),
    not a mock of the code under test.
    """

    def __init__(self, *, failures: int = 0, closed_url: str = "") -> None:
        super().__init__(timeout=5)
        self.failures = failures
        self.closed_url = closed_url
        self.calls: list[tuple[str, str, str | None]] = []

    def _request_internal(self, method, url, headers, post_data, is_streaming):
        self.calls.append((method, url.split("?")[0], (headers or {}).get("Idempotency-Key")))
        if len(self.calls) <= self.failures:
            url = url.replace(settings.STRIPE_API_HOST, self.closed_url, 1)
        return super()._request_internal(method, url, headers, post_data, is_streaming)
