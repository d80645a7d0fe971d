"""The one domain error type and the one DRF exception handler that maps it.

Services raise `DomainError(code, message)`; the API answers
`{"detail": message, "code": code}` with the error's HTTP status (409 unless
the rule is about permission, then 403). Template views show `message`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from bookwise.middleware import (
    RETRY_AFTER_SECONDS,
    is_database_unavailable,
    log_database_unavailable,
    service_unavailable_body,
)


class DomainError(Exception):
    """A business rule refused the request."""

    def __init__(self, code: str, message: str, *, http_status: int = status.HTTP_409_CONFLICT) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """Input a service refuses as invalid (400), e.g. a party size out of range."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(code, message, http_status=status.HTTP_400_BAD_REQUEST)
        self.field = field


class Forbidden(DomainError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, http_status=status.HTTP_403_FORBIDDEN)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidInput) and exc.field:
        return Response({exc.field: [exc.message], "code": exc.code}, status=exc.http_status)
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if is_database_unavailable(exc):
        # PostgreSQL unreachable (or timed out) inside a view: 503, retry later; never a 500.
        log_database_unavailable(exc, context.get("request"))
        return Response(
            service_unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )
    if isinstance(exc, DataError):
        # Values PostgreSQL refuses (numbers out of range, ...) that slipped past
        # a serializer: still the client's fault, never a 500.
        return Response({"detail": "A value is out of range."}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return exception_handler(exc, context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: a URL no route matches answers JSON under /api/ (clients parse it), HTML elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
