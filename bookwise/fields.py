"""Serializer fields shared by the API: times must carry an offset."""

from __future__ import annotations

from datetime import datetime

from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an explicit offset; a naive time is refused (400), never guessed."""

    default_error_messages = {
        "naive": "Give the time with a UTC offset, e.g. 2030-05-01T10:00:00+02:00.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        elif isinstance(value, datetime) and value.tzinfo is None:
            self.fail("naive")
        return super().to_internal_value(value)


def parse_aware_query_param(request, name: str) -> datetime | None:
    """Read an optional datetime query parameter with the same rule; raise 400 when bad."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    field = AwareDateTimeField()
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from exc
