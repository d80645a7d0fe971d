"""The OpenAPI description of the error bodies `bookwise.errors.api_exception_handler` writes.

Every API module documents its refusals with these, so the schema has one
`Error` component, named once, instead of one copy per app.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """`{"detail": message, "code": code}`: a refused request (DomainError, permission, not found, throttled)."""

    # Not read-only: drf-spectacular would list read-only fields as required, and DRF's own
    # refusals (401, 404, 429) carry no `code`.
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="Machine-readable reason, when there is one.")


def error_response(description: str = "") -> OpenApiResponse:
    """A documented refusal with the `Error` body; `description` names its codes."""
    return OpenApiResponse(ErrorSerializer, description=description)


# Field errors: `{"field": ["message"]}` (a service's InvalidInput adds `"code"`), or `{"detail": "..."}`.
VALIDATION_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT, description='Validation error: `{"field": ["message"]}` or `{"detail": "..."}`.'
)
