"""Card-payment throttles (card testing): per user and per client IP, rate THROTTLE_PAY (scope ``pay``).

One budget for both ways to try a card: the API's ``POST /payments/create/``
(DRF ``throttle_classes``) and the portal's ``/bookings/<id>/pay/``
(:func:`pay_attempt_wait`), so switching from one to the other gains nothing.
Built on accounts.throttles' bases: the rate is read per request and counted
in Django's cache like the login throttles, and whatever those bases do when
the cache is unreachable applies here too.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.throttles import _PerIPThrottle, _SettingsRateThrottle


class PayUserThrottle(_SettingsRateThrottle):
    scope = "pay"

    def get_cache_key(self, request: Request | HttpRequest, view) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # the view refuses anonymous callers; the per-IP bucket still counts them
        return self.cache_format % {"scope": self.scope, "ident": f"user-{user.pk}"}


class PayIPThrottle(_PerIPThrottle):
    scope = "pay"

    def get_cache_key(self, request: Request | HttpRequest, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": f"ip-{self.get_ident(request)}"}


PAY_THROTTLES = (PayUserThrottle, PayIPThrottle)


def pay_attempt_wait(request: HttpRequest) -> int:
    """Count a portal card payment in the API's buckets; seconds to wait, 0 if allowed.

    DRF's throttles only read ``request.META`` (the client address) and
    ``request.user``, which a Django request has as well.
    """
    for throttle_class in PAY_THROTTLES:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            return max(int(throttle.wait() or 1), 1)
    return 0
