"""The database unreachable: a 503 that says so, never a 500 with a traceback.

When PostgreSQL is down (stopped, restarting, failing over, out of
connections) Django raises its ``OperationalError`` (or ``InterfaceError`` for
a connection that is already closed). ``DatabaseUnavailableMiddleware`` turns
that into 503 with ``Retry-After``:

- JSON ``{"detail": ..., "code": "service_unavailable"}`` under ``/api/`` and
  ``/stripe/`` and for any request that asks for JSON (the checkout page's
  ``fetch`` calls): clients parse it, Stripe delivers the webhook again later;
- ``templates/503.html`` elsewhere: a standalone page rendered without a
  request context, because the context processors and the session/auth
  middleware would query the database that is gone.

Where the error is raised decides how it is caught:

- in a DRF view: ``bookwise.errors.api_exception_handler`` answers (the same body);
- in any other view or while rendering a template response: ``process_exception``;
- in a middleware inside this one (the session, the user, CSRF, messages):
  Django has already turned the exception into a 500 by the time the response
  comes back here, so ``got_request_exception`` notes the error on the request
  and ``__call__`` replaces that 500.

Place it after SecurityMiddleware and before SessionMiddleware, so every
session/auth middleware is inside it and the 503 still gets the security headers.

Back to normal needs no restart: Django closes a connection that raised such an
error at the end of the request (``close_old_connections`` on
``request_finished``: the connection is tested and dropped when unusable), and
the next request connects again. A connection broken while idle (a restart
between two requests) is caught by ``CONN_HEALTH_CHECKS`` before the first query
of the next request, or else fails that one request with a 503 and is then
dropped (see docs/RELIABILITY.md, ``DB_CONN_HEALTH_CHECKS``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import get_template

logger = logging.getLogger(__name__)

DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
SERVICE_UNAVAILABLE_CODE = "service_unavailable"
SERVICE_UNAVAILABLE_DETAIL = "The service is temporarily unavailable. Try again in a moment."
# Seconds a client should wait before retrying: a restart or failover takes about that long.
RETRY_AFTER_SECONDS = 5

_JSON_PATH_PREFIXES = ("/api/", "/stripe/")
_REQUEST_FLAG = "_bookwise_database_error"
_FALLBACK_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>BookWise is briefly unavailable</title>'
    "</head><body><h1>BookWise is briefly unavailable</h1>"
    "<p>We could not reach our database. Nothing you did caused this. Please try again in a minute.</p>"
    "</body></html>"
)


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def service_unavailable_body() -> dict[str, str]:
    return {"detail": SERVICE_UNAVAILABLE_DETAIL, "code": SERVICE_UNAVAILABLE_CODE}


def log_database_unavailable(exc: BaseException, request: Any) -> None:
    """One line per refused request.

    The traceback only when the server answered (a timeout, a deadlock: code to read), not for a refused connection.
    """
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    method = getattr(request, "method", "?")
    path = getattr(request, "path", "?")
    logger.warning(
        "database unavailable, answered 503: %s %s: %s: %s",
        method,
        path,
        exc.__class__.__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
        exc_info=exc if sqlstate else None,
    )


def wants_json(request: HttpRequest) -> bool:
    if request.path.startswith(_JSON_PATH_PREFIXES):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def service_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for a request the database could not serve. Touches neither the database nor the session."""
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(service_unavailable_body(), status=503)
    else:
        try:
            html = get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
        except Exception:  # a broken static manifest must not turn the 503 into a 500
            logger.exception("could not render 503.html")
            html = _FALLBACK_HTML
        response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # A proxy or browser must not keep the outage page in place of the real one.
    response["Cache-Control"] = "no-store"
    return response


def _note_database_error(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """got_request_exception: Django is turning an uncaught exception into a 500; remember a database one.

    Sent from inside Django's ``except`` block, so ``sys.exc_info()`` is that exception.
    """
    exc = sys.exc_info()[1]
    if request is not None and is_database_unavailable(exc):
        setattr(request, _REQUEST_FLAG, exc)


got_request_exception.connect(_note_database_error, dispatch_uid="bookwise.middleware.note_database_error")


class DatabaseUnavailableMiddleware:
    """Answer 503 (JSON or a friendly page) when the database is unreachable. See the module docstring."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        exc = getattr(request, _REQUEST_FLAG, None)
        if exc is not None and response.status_code == 500:
            log_database_unavailable(exc, request)
            return service_unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        log_database_unavailable(exception, request)
        return service_unavailable_response(request)
