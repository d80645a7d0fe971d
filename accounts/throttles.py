"""Throttles for the credential endpoints and password resets: per client IP and per target email.

Each counts every attempt, successful or not, in Django's cache (Redis in
production, shared by every web process; one round trip per throttle, see
bookwise.throttling). Once a bucket is full, requests are refused with 429
before any password is checked, so during a lockout the right password is
refused too. The per-email buckets stop password guessing against
one account from many IPs; the per-IP buckets stop one client spraying many
accounts.

Rates are read from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` when a throttle
is instantiated (once per request), not when the class is defined as DRF's
`SimpleRateThrottle.THROTTLE_RATES` does, so a settings override applies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.services import email_normalize
from bookwise.throttling import OneRoundTripRateThrottle


class _SettingsRateThrottle(OneRoundTripRateThrottle):
    def get_rate(self) -> str | None:
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}.") from exc


class _PerIPThrottle(_SettingsRateThrottle):
    def get_cache_key(self, request: Request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _PerEmailThrottle(_SettingsRateThrottle):
    """Keyed on the normalised `email` of the request body, hashed so no address lands in the cache.

    Normalised exactly as the login looks users up (`email_normalize`: NFKC, trimmed,
    lowercased), so `Ａlice@Example.com` (fullwidth A) and `ALICE@example.com` spend
    alice@example.com's budget instead of opening buckets of their own.
    """

    def get_cache_key(self, request: Request, view) -> str | None:
        data = request.data  # malformed JSON raises ParseError here: a 400, not a 500
        email = data.get("email") if isinstance(data, Mapping) else None
        if not isinstance(email, str) or not email.strip():
            return None  # the serializer will refuse the request; the per-IP throttle still counts it
        digest = hashlib.sha256(email_normalize(email).encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class LoginIPThrottle(_PerIPThrottle):
    scope = "login"


class LoginEmailThrottle(_PerEmailThrottle):
    scope = "login_email"


class RegisterIPThrottle(_PerIPThrottle):
    scope = "register"


class RegisterEmailThrottle(_PerEmailThrottle):
    scope = "register_email"


class RefreshIPThrottle(_PerIPThrottle):
    scope = "refresh"


class PasswordResetIPThrottle(_PerIPThrottle):
    scope = "password_reset"


class PasswordResetEmailThrottle(_PerEmailThrottle):
    scope = "password_reset_email"


class _FormAttempt:
    """What the throttles read from a request (client address, `email`), for a portal form POST."""

    def __init__(self, request: HttpRequest, email: str) -> None:
        self.META = request.META
        self.headers = request.headers
        self.data = {"email": email}


def form_attempt_wait(request: HttpRequest, *, email: str, throttles: tuple[type[SimpleRateThrottle], ...]) -> int:
    """Count a form POST (portal or admin login, sign-up, password reset) in its buckets; seconds to wait, 0 if allowed.

    The portal, the admin and the API share one budget per IP and per email, so a
    guesser cannot switch from one to the other.
    """
    attempt = _FormAttempt(request, email)
    for throttle_class in throttles:
        throttle = throttle_class()
        if not throttle.allow_request(attempt, None):
            return max(int(throttle.wait() or 1), 1)
    return 0
