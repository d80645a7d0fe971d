"""Talking to Stripe: the client, its timeout, and which failures are worth retrying.

Shared by every layer that calls Stripe or handles its failures (payments'
services and tasks, the checkout flows, the webhook view, the app's
``ready()``), so it imports no services module: anything may import it.
"""

from __future__ import annotations

import stripe
from django.conf import settings


class StripeUnavailable(Exception):
    """Stripe could not be reached, or answered 429 or 5xx: the same call may be retried with the same key."""


def _http_client() -> stripe.HTTPClient:
    return stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)


def configure_sdk_defaults() -> None:
    """Give the SDK's module-level client (dj-stripe's calls: its webhook sync, its admin actions) our timeout.

    Without it the SDK waits 80 s per call and retries twice on its own. Called
    once by ``PaymentsConfig.ready()``; our own calls use :func:`stripe_client`.
    """
    stripe.default_http_client = _http_client()
    stripe.max_network_retries = 0


def stripe_client() -> stripe.StripeClient:
    """A client for our own calls, configured from settings at call time.

    The SDK's own network retries are off: Celery retries with backoff (same
    idempotency key), and the API request answers 503 at once.
    """
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": getattr(settings, "STRIPE_API_HOST", "") or stripe.DEFAULT_API_BASE},
        max_network_retries=0,
        http_client=_http_client(),
    )


def is_transient(error: stripe.StripeError) -> bool:
    """Network trouble, rate limits and Stripe's 5xx: worth retrying with the same idempotency key."""
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    if isinstance(error, stripe.IdempotencyError):
        return error.code == "idempotency_key_in_use"  # the same key is still being processed
    if isinstance(error, stripe.APIError):
        return (error.http_status or 500) >= 500
    return False


def error_text(error: Exception) -> str:
    """A Stripe failure as stored in ``last_error`` (class and Stripe's message, at most 2,000 characters)."""
    message = getattr(error, "user_message", None) or str(error) or error.__class__.__name__
    return f"{error.__class__.__name__}: {message}"[:2000]
