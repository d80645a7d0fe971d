"""JSON in and out of the API with orjson: the same bytes as DRF's JSONRenderer/JSONParser, in a fraction of the time.

DRF's renderer runs the standard library's encoder with a Python `default()`;
orjson encodes dicts, lists, strings, numbers, UUIDs and enums natively. What
the API returns is what DRF would return, with DRF's settings as they are here
(UNICODE_JSON, COMPACT_JSON, STRICT_JSON on; serializers already turn decimals
and datetimes into strings, COERCE_DECIMAL_TO_STRING and ISO_8601):

- compact separators, UTF-8 without \\u escapes, U+2028/U+2029 escaped as DRF does;
- anything orjson does not encode itself (datetimes, dates and times included,
  so their ISO form, `Z` suffix and seconds-level offsets are DRF's; Decimal,
  timedelta, lazy translation strings, querysets, generators) goes through DRF's
  own `JSONEncoder.default`;
- whatever orjson refuses (a non-string dict key, an integer beyond 64 bits,
  text that is not valid UTF-8) and an `indent` asked for in the Accept header
  are rendered by DRF's renderer itself, so those rare cases are byte-identical too;
- one known difference: a float NaN or infinity (no field of ours produces one)
  becomes `null` where DRF's strict encoder raises.

The parser reads UTF-8 bodies with orjson and hands everything else (another
charset, a body orjson refuses, a number too long for 64 bits, where orjson
would give a float and the standard library an int) to DRF's parser, so the
data a view sees and every parse error are unchanged.
"""

from __future__ import annotations

import io
import math
import re
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_ENCODER = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()
# orjson reads an integer past 64 bits as a float; the standard library keeps it an int.
_LONG_NUMBER = re.compile(rb"\d{19}")
_UTF8 = frozenset({"utf-8", "utf8"})


def _default(obj: Any) -> Any:
    value = _ENCODER.default(obj)
    if isinstance(obj, Decimal) and not math.isfinite(value):
        raise TypeError("NaN or infinite Decimal")  # DRF's strict renderer refuses it: so does the fallback
    return value


class ORJSONRenderer(JSONRenderer):
    """A drop-in for DRF's JSONRenderer (same media type, format, charset, output)."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_default, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATOR in rendered or _PARAGRAPH_SEPARATOR in rendered:
            rendered = rendered.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
        return rendered


class ORJSONParser(JSONParser):
    """A drop-in for DRF's JSONParser: orjson on the common path, DRF's parser for everything else."""

    renderer_class = ORJSONRenderer

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        body = stream.read()
        if isinstance(encoding, str) and encoding.lower() in _UTF8 and not _LONG_NUMBER.search(body):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass  # DRF's parser gives the error (or, for what orjson alone refuses, the data)
        return super().parse(io.BytesIO(body), media_type, parser_context)
