"""The booking widget's allowed origins: the merchant's own sites that may frame BookWise's embed pages.

Each origin ends up in a `Content-Security-Policy: frame-ancestors` header
(portal/embed_views.py) and is the `targetOrigin` the embed pages post their
messages to, so only plain origins are accepted: `https://host[:port]`, or
`http://` for this machine (localhost, 127.0.0.1, [::1]) while developing. No
path, query, user name, wildcard or CSP keyword; the host is normalised
(lower case, IDN to punycode, default port dropped) so one site is stored once.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bookwise.errors import InvalidInput

MAX_WIDGET_ORIGINS = 10
MAX_ORIGIN_LENGTH = 200
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DEFAULT_PORTS = {"https": 443, "http": 80}
FIELD = "widget_origins"


def _refuse(value: str, reason: str) -> InvalidInput:
    shown = value if len(value) <= 60 else value[:57] + "..."
    return InvalidInput("invalid_widget_origin", f"“{shown}” is not an allowed site: {reason}", field=FIELD)


def _host(value: str, raw_host: str) -> str:
    if raw_host in LOCAL_HOSTS:
        return raw_host
    try:
        host = raw_host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise _refuse(value, "the host name is not valid.") from exc
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _refuse(value, "give a full host name, e.g. https://www.example.com.")
    return host


def widget_origin_normalize(value: str) -> str:
    """`" HTTPS://Rooms.Example:443/ "` -> `"https://rooms.example"`; InvalidInput (in words) for anything else."""
    text = value.strip()
    if not text:
        raise _refuse(value, "it is empty.")
    if len(text) > MAX_ORIGIN_LENGTH:
        raise _refuse(text, f"use at most {MAX_ORIGIN_LENGTH} characters.")
    if "*" in text:
        raise _refuse(text, "wildcards are not allowed; list each site.")
    if any(ch.isspace() or ch in ";,'\"\\" for ch in text):
        raise _refuse(text, "an origin has no spaces, quotes, commas or semicolons.")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise _refuse(text, "start it with https://, e.g. https://www.example.com.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise _refuse(text, "give the site's origin only, without a path (e.g. https://www.example.com).")
    if "@" in parts.netloc:
        raise _refuse(text, "an origin has no user name or password.")
    try:
        port = parts.port
    except ValueError as exc:
        raise _refuse(text, "the port is not a number from 1 to 65535.") from exc
    hostname = parts.hostname or ""
    host = _host(text, f"[{hostname}]" if ":" in hostname else hostname)
    if scheme == "http" and host not in LOCAL_HOSTS:
        raise _refuse(text, "use https:// (plain http:// only for localhost or 127.0.0.1 while developing).")
    if port == 0:
        raise _refuse(text, "the port is not a number from 1 to 65535.")
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{suffix}"


def widget_origins_normalize(values: list[str]) -> list[str]:
    """Each origin normalised, duplicates dropped (first kept), at most MAX_WIDGET_ORIGINS."""
    origins: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput("invalid_widget_origin", "Each allowed site must be text.", field=FIELD)
        origin = widget_origin_normalize(value)
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_WIDGET_ORIGINS:
        raise InvalidInput(
            "too_many_widget_origins", f"At most {MAX_WIDGET_ORIGINS} sites may embed the widget.", field=FIELD
        )
    return origins


def widget_script_url(*, site_url: str, static_url: str) -> str:
    """The stable (unhashed) address of static/js/widget.js on the public site: what merchants paste."""
    base = site_url.rstrip("/")
    static = static_url if static_url.startswith(("http://", "https://")) else base + "/" + static_url.lstrip("/")
    return static.rstrip("/") + "/js/widget.js"


def widget_snippet(*, theme_id: int, script_url: str) -> str:
    """The HTML a merchant pastes where the theme's next open times should appear on their own site."""
    return f'<script src="{script_url}" data-theme="{int(theme_id)}" async></script>'
