"""Content-Security-Policy: django-csp's policy from settings, plus the origins Stripe.js needs.

The Stripe origins come from `settings.STRIPE_JS_URL` when each response is
built, so the policy always allows exactly the Stripe.js the pages load: the
real one (https://js.stripe.com) in production, localstripe's stand-in in
development and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

STRIPE_JS_ORIGIN = "https://js.stripe.com"
# Stripe's hosted Connect onboarding: where an Account Link's `url` points.
STRIPE_CONNECT_ORIGIN = "https://connect.stripe.com"


def stripe_sources(js_url: str) -> dict[str, list[str]]:
    """The sources Stripe.js needs, by directive.

    For the real Stripe.js these are the ones Stripe documents for Stripe.js,
    Elements and 3-D Secure (its frames load from hooks.stripe.com). A stand-in
    served from another origin (localstripe) loads, fetches and frames from
    that origin only.
    """
    parts = urlsplit(js_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin == STRIPE_JS_ORIGIN:
        return {
            "script-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com"],
            "connect-src": ["https://api.stripe.com"],
            "frame-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com", "https://hooks.stripe.com"],
        }
    return {"script-src": [origin], "connect-src": [origin], "frame-src": [origin]}


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware; the enforced policy also allows the Stripe.js of STRIPE_JS_URL."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        update = dict(parts.update or {})
        for directive, sources in stripe_sources(settings.STRIPE_JS_URL).items():
            extra = update.get(directive) or []
            update[directive] = [*sources, *([extra] if isinstance(extra, str) else extra)]
        parts.update = update
        return parts


def stripe_connect_origin() -> str:
    """The origin of Stripe's hosted onboarding: connect.stripe.com, or the stand-in's when STRIPE_API_HOST is set."""
    host = getattr(settings, "STRIPE_API_HOST", "")
    if not host:
        return STRIPE_CONNECT_ORIGIN
    parts = urlsplit(host)
    return f"{parts.scheme}://{parts.netloc}"


def allow_stripe_onboarding_form(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """For a page with a form whose answer redirects to a Stripe Account Link (the payouts page).

    Browsers check `form-action` against every redirect of a form submission,
    so with `form-action 'self'` alone the redirect to Stripe's onboarding is
    blocked. This page's policy (only this page's) also allows that origin.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response._csp_update = {"form-action": [stripe_connect_origin()]}  # type: ignore[attr-defined]
        return response

    return wrapped
