"""The local dj-stripe rows that let Stripe webhooks in: the endpoint, and offline the account.

dj-stripe routes a webhook by the UUID in its URL (`/stripe/webhook/<uuid>/`)
to a `WebhookEndpoint` row and checks the signature with that row's secret.
The row is created with the ORM, not through the Stripe API, because
localstripe has no `/v1/webhook_endpoints` and a production endpoint is
registered in the Stripe dashboard by hand with the same secret.

Offline (localstripe, tests) dj-stripe would call `GET /v1/account` on every
webhook to find the owner of the API key; localstripe lacks that route. A local
`Account` row owning an `APIKey` row for the configured test key answers it
from the database instead; likewise a `PaymentMethod` row for each token card
the portal pays with (`ensure_local_card_payment_method`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from djstripe.enums import APIKeyType, WebhookEndpointStatus, WebhookEndpointValidation
from djstripe.models import Account, APIKey, PaymentMethod, WebhookEndpoint

from payments.events import CONNECT_EVENTS, PLATFORM_EVENTS

LOCAL_ACCOUNT_ID = "acct_bookwise_local"


def ensure_local_stripe_account() -> Account | None:
    """Make sure the test secret key has an owner account in the database. No-op in live mode.

    Returns the local account, or None when nothing was needed: live mode, or
    a key whose owner dj-stripe already knows (synced from the real Stripe).
    """
    secret = settings.STRIPE_SECRET_KEY
    if settings.STRIPE_LIVE_MODE or not secret.startswith(("sk_test_", "rk_test_")):
        return None
    with transaction.atomic():
        existing = APIKey.objects.filter(secret=secret).select_related("djstripe_owner_account").first()
        if existing and existing.djstripe_owner_account and existing.djstripe_owner_account.id != LOCAL_ACCOUNT_ID:
            return None
        account, _ = Account.objects.get_or_create(
            id=LOCAL_ACCOUNT_ID,
            defaults={
                "livemode": False,
                "stripe_data": {"id": LOCAL_ACCOUNT_ID, "object": "account", "charges_enabled": True},
            },
        )
        if existing is None:
            APIKey.objects.create(
                secret=secret,
                type=APIKeyType.secret if secret.startswith("sk_") else APIKeyType.restricted,
                livemode=False,
                name="BookWise local test key",
                djstripe_owner_account=account,
            )
        elif existing.djstripe_owner_account_id is None:
            existing.djstripe_owner_account = account
            existing.save(update_fields=["djstripe_owner_account"])
        # The account answers with its first secret key: keep only the configured one.
        APIKey.objects.filter(djstripe_owner_account=account).exclude(secret=secret).delete()
    return account


def webhook_path(endpoint: WebhookEndpoint) -> str:
    return reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint.djstripe_uuid})


def ensure_webhook_endpoint(base_url: str | None = None, *, connect: bool = False) -> WebhookEndpoint:
    """Create or reuse the endpoint for `STRIPE_WEBHOOK_SECRET` (`connect`: `STRIPE_CONNECT_WEBHOOK_SECRET`).

    The Connect endpoint receives the events on the merchants' connected
    accounts (payments.events.CONNECT_EVENTS), which Stripe signs with that
    endpoint's own secret. Idempotent: the same secret always maps to the same
    endpoint, so its path (`webhook_path`) stays stable across runs.
    `base_url` (default `SITE_URL`) only fills the informative `url` field;
    what Stripe calls is registered on the Stripe side (or with localstripe).
    """
    name = "STRIPE_CONNECT_WEBHOOK_SECRET" if connect else "STRIPE_WEBHOOK_SECRET"
    secret = getattr(settings, name)
    if not secret:
        raise ValueError(f"{name} is empty: set it to the endpoint's signing secret (whsec_...).")
    livemode = settings.STRIPE_LIVE_MODE
    owner = ensure_local_stripe_account()
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update()
            .filter(secret=secret, livemode=livemode)
            .order_by("djstripe_id")
            .first()
        )
        if endpoint is None:
            endpoint = WebhookEndpoint(
                id=f"we_bookwise_{uuid.uuid4().hex[:20]}",
                secret=secret,
                livemode=livemode,
                enabled_events=list(CONNECT_EVENTS if connect else PLATFORM_EVENTS),
                status=WebhookEndpointStatus.enabled,
                metadata={},
            )
        endpoint.djstripe_validation_method = WebhookEndpointValidation.verify_signature
        endpoint.djstripe_tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
        if owner is not None:
            endpoint.djstripe_owner_account = owner
        endpoint.url = (base_url or settings.SITE_URL).rstrip("/") + webhook_path(endpoint)
        endpoint.save()
    return endpoint


def ensure_local_card_payment_method(card: Mapping[str, Any]) -> None:
    """Offline only: record a localstripe token's card as the PaymentMethod Stripe would show dj-stripe.

    localstripe lets a token's Card (``card_...``) pay an intent (see
    ``payments.services.payment_confirm_card``), but answers
    ``GET /v1/payment_methods/card_...`` with a ``card`` object where Stripe
    answers a ``payment_method`` (Stripe's "legacy card" PaymentMethods keep
    their ``card_`` id). dj-stripe, syncing the intent of every
    ``payment_intent.*`` webhook, would refuse it ("Trying to fit 'card' into
    'PaymentMethod'") and the webhook would fail; with the row already here it
    never asks. Never used against the real Stripe.
    """
    owner = Account.objects.filter(id=LOCAL_ACCOUNT_ID).first()
    PaymentMethod.objects.get_or_create(
        id=card["id"],
        defaults={
            "livemode": False,
            "djstripe_owner_account": owner,
            "stripe_data": {
                "id": card["id"],
                "object": "payment_method",
                "type": "card",
                "card": {
                    key: card.get(key) for key in ("brand", "country", "exp_month", "exp_year", "fingerprint", "last4")
                },
                "customer": None,
                "livemode": False,
                "metadata": {},
            },
        },
    )
