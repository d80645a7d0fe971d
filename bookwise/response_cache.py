"""A short cache of anonymous catalog reads: the catalog page's HTML and the catalog API's GETs.

For CATALOG_CACHE_SECONDS (5 by default; 0 turns it off), an anonymous GET of
the same URL (scheme, host, path and query string) is answered from the cache
without touching the database. Only what every anonymous visitor would see
alike is stored:

- never for a signed-in user (session or token), nor a request carrying
  messages to show (they belong to one browser);
- never a response that sets a cookie, or whose rendering asked for a CSRF
  token (`get_token`: the page embeds a per-visitor token and the CSRF cookie
  must be sent with it). This is why the theme page is not cached: its book
  form carries a CSRF token, and a token copied to other visitors would fail
  their POSTs against their own cookie;
- only status 200.

Why a few seconds of staleness is safe: the catalog only advertises seats.
Booking re-reads and re-counts the slot's seats under its row lock
(`bookings.services.booking_join`), so a cached "3 seats left" can never sell a
fourth; at worst a visitor sees a full slot as open for a few seconds and the
join answers `slot_full`.

The cache is the project's fail-open Redis cache (`bookwise.cache`): Redis down
means a per-process in-memory cache, never a failed request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

KEY_PREFIX = "anon-page"
CACHED_METHODS = ("GET", "HEAD")


def cache_seconds() -> int:
    return int(getattr(settings, "CATALOG_CACHE_SECONDS", 0))


def request_key(request: HttpRequest, *, kind: str) -> str:
    """The cache key of a request: what the response may depend on for an anonymous visitor.

    The full URL (scheme and host too: pagination and photo links are absolute) and, for
    HTML, the Accept-Language header (a translated page is another page).
    """
    parts = [kind, request.build_absolute_uri(), request.headers.get("Accept-Language", "")]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"


def _has_messages(request: HttpRequest) -> bool:
    storage = getattr(request, "_messages", None)
    if storage is None:
        return False
    # len() counts the stored and queued messages without marking them as seen.
    return len(get_messages(request)) > 0


def _is_anonymous(request: Any) -> bool:
    user = getattr(request, "user", None)
    return user is None or not user.is_authenticated


def cache_anonymous_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Cache a template view's rendered HTML for anonymous GETs (see the module docstring)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seconds = cache_seconds()
        if seconds <= 0 or request.method not in CACHED_METHODS or not _is_anonymous(request) or _has_messages(request):
            return view(request, *args, **kwargs)
        key = request_key(request, kind="html")
        hit = cache.get(key)
        if hit is not None:
            status, content_type, content = hit
            return HttpResponse(content, status=status, content_type=content_type)
        response = view(request, *args, **kwargs)
        if (
            response.status_code == 200
            and not response.cookies
            and not getattr(response, "streaming", False)
            # The page embeds a per-visitor CSRF token (a form): never shared.
            and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
            and not _has_messages(request)
        ):
            cache.set(key, (response.status_code, response["Content-Type"], response.content), seconds)
        return response

    return wrapped


class AnonymousCachedReadsMixin:
    """For DRF viewsets: anonymous GETs of the `anonymous_cached_actions` are served from the cache.

    The handler is wrapped after DRF's `initial()`, that is after authentication,
    permissions and throttles: anonymous clients are still counted by their
    throttle, and a token that fails authentication is still a 401. The
    serialized data is stored, not the rendered bytes, so content negotiation
    (the Accept header) and the renderer stay per request.
    """

    anonymous_cached_actions: tuple[str, ...] = ()

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        method = request.method.lower()
        if getattr(self, "action", None) in self.anonymous_cached_actions and hasattr(self, method):
            handler = getattr(self, method)

            def cached(req: Any, *a: Any, **kw: Any) -> Any:
                return self.cached_read(req, handler, *a, **kw)

            setattr(self, method, cached)

    def cached_read(self, request: Any, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from rest_framework.response import Response

        seconds = cache_seconds()
        if seconds <= 0 or request.method not in CACHED_METHODS or not _is_anonymous(request):
            return handler(request, *args, **kwargs)
        key = request_key(request._request, kind="api")
        hit = cache.get(key)
        if hit is not None:
            return Response(hit)
        response = handler(request, *args, **kwargs)
        if response.status_code == 200 and not response.cookies and not getattr(response, "exception", False):
            cache.set(key, response.data, seconds)
        return response
