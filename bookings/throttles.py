"""The join throttle: slot joins per user (THROTTLE_JOIN), one bucket for the API and the portal.

POST /api/v1/slots/{id}/join/ and the portal's book form count in the same
cache key (`throttle_join_<user id>`, the key DRF's ScopedRateThrottle uses),
so switching from one to the other buys no extra joins.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.settings import api_settings

from bookwise.throttling import OneRoundTripRateThrottle


class JoinThrottle(OneRoundTripRateThrottle):
    """Per signed-in user. The rate is read per request, not at import, so overrides apply."""

    scope = "join"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # joining needs a signed-in user: refused before any seat is counted
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


def join_attempt_wait(request: HttpRequest) -> int:
    """Count a portal booking attempt in the user's join bucket; seconds to wait, 0 if allowed."""
    throttle = JoinThrottle()
    if throttle.allow_request(request, None):
        return 0
    return max(int(throttle.wait() or 1), 1)
