"""The orjson renderer and parser give exactly what DRF's JSONRenderer and JSONParser give."""

from __future__ import annotations

import datetime
import io
import uuid
import zoneinfo
from collections import OrderedDict
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from bookwise.renderers import ORJSONParser, ORJSONRenderer
from catalog.tests.factories import SlotFactory
from conftest import bearer_client

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _both(data, accepted_media_type=None):
    return (
        ORJSONRenderer().render(data, accepted_media_type, {}),
        JSONRenderer().render(data, accepted_media_type, {}),
    )


TRICKY = {
    "decimal": Decimal("12.50"),
    "decimals": [Decimal("0"), Decimal("-3.1"), Decimal("1E+2")],
    "utc": datetime.datetime(2026, 11, 30, 8, 0, tzinfo=datetime.UTC),
    "utc_micro": datetime.datetime(2026, 11, 30, 8, 0, 0, 1234, tzinfo=datetime.UTC),
    "paris": datetime.datetime(2026, 7, 1, 9, 30, tzinfo=PARIS),
    "paris_1800": datetime.datetime(1800, 1, 1, tzinfo=PARIS),  # LMT, an offset with seconds
    "naive": datetime.datetime(2026, 1, 2, 3, 4, 5),
    "date": datetime.date(2026, 2, 28),
    "time": datetime.time(7, 45, 1, 5),
    "timedelta": datetime.timedelta(minutes=90, microseconds=5),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "lazy": gettext_lazy("This field is required."),
    "error": [ErrorDetail("Too many.", code="throttled")],
    "ordered": OrderedDict([("z", 1), ("a", 2)]),
    "return_dict": ReturnDict({"b": 1, "a": [1, 2]}, serializer=None),
    "return_list": ReturnList([{"x": None}], serializer=None),
    "tuple": (1, "two", 3.5),
    "set": {7},
    "generator": (n for n in range(3)),
    "text": 'café 東京 🎉 "quoted" back\\slash \n\t\x01 \x7f </script>',
    "separators": "a\u2028b\u2029c",
    "numbers": [0, -1, 2**63 - 1, -(2**63), 0.1, 1.5, -2.25, 1e-3, True, False, None],
    "empty": [{}, [], ""],
}


def test_tricky_payloads_render_byte_for_byte_like_drf():
    generator_free = {key: value for key, value in TRICKY.items() if key != "generator"}
    ours, drf = _both(generator_free)
    assert ours == drf
    ours, _ = _both({"generator": (n for n in range(3))})
    assert ours == JSONRenderer().render({"generator": (0, 1, 2)})


@pytest.mark.parametrize(
    "data",
    [
        {1: "an int key", None: "a None key"},  # orjson refuses non-string keys: DRF renders these
        {"huge": 2**80},  # beyond 64 bits
    ],
)
def test_what_orjson_refuses_is_rendered_by_drf(data):
    ours, drf = _both(data)
    assert ours == drf


def test_nan_decimal_is_refused_as_drf_refuses_it():
    with pytest.raises(ValueError):
        JSONRenderer().render([Decimal("NaN")])
    with pytest.raises(ValueError):
        ORJSONRenderer().render([Decimal("NaN")])
    with pytest.raises(ValueError):
        ORJSONRenderer().render([Decimal("1E+400")])  # a float infinity for DRF's encoder


def test_indent_asked_in_the_accept_header_is_honoured_like_drf():
    ours, drf = _both({"a": [1, {"b": 2}]}, "application/json; indent=4")
    assert ours == drf
    assert b"\n    " in ours


def test_none_renders_as_an_empty_body_and_the_media_type_is_drfs():
    assert ORJSONRenderer().render(None) == b""
    assert (ORJSONRenderer.media_type, ORJSONRenderer.format, ORJSONRenderer.charset) == (
        JSONRenderer.media_type,
        JSONRenderer.format,
        JSONRenderer.charset,
    )


BODIES = [
    b'{"party_size": 2, "note": "caf\xc3\xa9", "nested": {"a": [1, 2.5, null, true]}}',
    b'{"a": 1, "a": 2}',
    b'{"big": 123456789012345678901234567890}',
    b'{"neg_zero": -0, "exp": 1e3}',
    b'{"s": "\\ud800"}',
    b"[1, 2, 3]",
    b'"just a string"',
]
BAD_BODIES = [b"{", b'{"a": NaN}', b'{"a": Infinity}', b"\xef\xbb\xbf{}", b"\xff\xfe", b"", b'{"a": 1e400}']


def _parse(parser, body, encoding="utf-8"):
    return parser.parse(io.BytesIO(body), "application/json", {"encoding": encoding})


@pytest.mark.parametrize("body", BODIES)
def test_parsed_data_is_drfs(body):
    ours, drf = _parse(ORJSONParser(), body), _parse(JSONParser(), body)
    assert ours == drf
    assert type(ours) is type(drf)
    if isinstance(drf, dict):
        assert list(ours) == list(drf)
        assert all(type(ours[k]) is type(drf[k]) for k in drf)


@pytest.mark.parametrize("body", BAD_BODIES)
def test_parse_errors_and_odd_numbers_are_drfs(body):
    try:
        expected = ("ok", _parse(JSONParser(), body))
    except ParseError as exc:
        expected = ("error", str(exc.detail))
    try:
        got = ("ok", _parse(ORJSONParser(), body))
    except ParseError as exc:
        got = ("error", str(exc.detail))
    assert got == expected


def test_another_charset_is_parsed_by_drf():
    body = '{"name": "café"}'.encode("latin-1")
    assert _parse(ORJSONParser(), body, "latin-1") == {"name": "café"}


@pytest.mark.django_db
def test_real_api_responses_are_byte_for_byte_drfs(customer, django_capture_on_commit_callbacks):
    """Every response of a short session rendered by orjson equals DRF's rendering of the same data."""
    slot = SlotFactory(theme__price=Decimal("19.90"))
    client = bearer_client(customer)
    responses = [
        client.get("/api/v1/themes/"),
        client.get(f"/api/v1/themes/{slot.theme_id}/"),
        client.get(f"/api/v1/themes/{slot.theme_id}/slots/"),
        client.get(f"/api/v1/slots/{slot.pk}/"),
        client.post(f"/api/v1/slots/{slot.pk}/join/", {"party_size": 1}, format="json"),
        client.get("/api/v1/bookings/"),
        client.get("/api/v1/users/me/"),
        client.get("/api/v1/themes/999999999/"),  # 404 error body
        client.post(f"/api/v1/slots/{slot.pk}/join/", {"party_size": "many"}, format="json"),  # 400
        client.post(f"/api/v1/slots/{slot.pk}/join/", b"{", content_type="application/json"),  # parse error
        bearer_client(customer).get("/api/v1/themes/?ordering=nonsense"),
    ]
    anonymous = type(client)()
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    responses.append(anonymous.get("/api/v1/users/me/"))  # 401 with the token error body

    assert [r.status_code for r in responses[:8]] == [200, 200, 200, 200, 201, 200, 200, 404]
    assert responses[8].status_code == 400
    assert responses[9].status_code == 400
    assert responses[-1].status_code == 401
    for response in responses:
        assert response["Content-Type"] == "application/json"
        assert response.content == JSONRenderer().render(response.data), response.request
