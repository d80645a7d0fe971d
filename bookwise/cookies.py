"""Cookies that work inside the booking widget's third-party iframe.

The widget's pages (portal/embed_views.py) are framed by merchants' own sites,
so BookWise is a third party there: browsers send a cookie into that frame only
when it is `SameSite=None; Secure` (settings: COOKIE_SAMESITE), and browsers
that block third-party cookies still keep one that is `Partitioned` (CHIPS):
stored per top-level site, so the session a customer opens in the widget on
rooms.example is not the one they have on BookWise itself or on another
merchant's site. Django 5.2 has no setting for that attribute (Python's
`http.cookies` learns it in 3.14), so this middleware appends it to the
session, CSRF and messages cookies when COOKIE_PARTITIONED is on.

It sits above (outside) the session, CSRF and messages middleware, which set
those cookies on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import Morsel
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class PartitionedMorsel(Morsel[str]):
    """A Morsel whose Set-Cookie value ends with `; Partitioned`."""

    def OutputString(self, attrs: Any = None) -> str:  # noqa: N802 (the stdlib's name)
        return super().OutputString(attrs) + "; Partitioned"


def partitioned_cookie_names() -> set[str]:
    # "messages": django.contrib.messages' CookieStorage.cookie_name (it has no setting).
    return {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, "messages"}


class PartitionedCookiesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if getattr(settings, "COOKIE_PARTITIONED", False):
            for name in partitioned_cookie_names() & set(response.cookies):
                morsel = response.cookies[name]
                if isinstance(morsel, PartitionedMorsel):
                    continue
                partitioned = PartitionedMorsel()
                partitioned.set(morsel.key, morsel.value, morsel.coded_value)
                partitioned.update(dict(morsel))
                dict.__setitem__(response.cookies, name, partitioned)
        return response
