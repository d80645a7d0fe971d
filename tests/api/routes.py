"""Discover the API's routes and methods from the URL conf, so the API-wide tests cannot miss one."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"
# HEAD and OPTIONS are derived from these (HEAD answers like GET); TRACE is never served.
PRIMARY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def route_template(raw: str) -> str:
    """A route as a template: `api/v1/^slots/(?P<pk>\\d+)/$` -> `slots/{pk}/`, `<int:slot_id>` -> `{slot_id}`."""
    route = raw.removeprefix(API_PREFIX).replace("^", "").replace("$", "")
    route = _NAMED_GROUP.sub(r"{\1}", route)
    return _CONVERTER.sub(r"{\1}", route)


def view_methods(pattern: URLPattern) -> set[str]:
    """The methods a route answers (other than with 405): a viewset's mapped actions, an APIView's handlers."""
    callback = pattern.callback
    cls = callback.cls
    # as_view(http_method_names=...) overrides the class attribute per route.
    allowed = set(getattr(callback, "view_initkwargs", {}).get("http_method_names", cls.http_method_names))
    actions = getattr(callback, "actions", None)
    if actions:
        methods = {m for m in actions if m in allowed}
    else:
        methods = {m for m in allowed if hasattr(cls, m)} - {"options", "head", "trace"}
    methods = {m.upper() for m in methods}
    if "GET" in methods and "head" in allowed:
        methods.add("HEAD")
    if "options" in allowed:
        methods.add("OPTIONS")
    return methods


def discover_api_routes() -> dict[str, set[str]]:
    """Every route under /api/v1/ (as a template) with the methods it serves."""
    routes: dict[str, set[str]] = {}
    for raw, pattern in _walk(get_resolver().url_patterns):
        if raw.startswith(API_PREFIX):
            routes.setdefault(route_template(raw), set()).update(view_methods(pattern))
    return routes
