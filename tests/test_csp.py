"""Content-Security-Policy: the header, and no inline script or style in any template or key page.

A browser refuses inline <script>, <style>, style="" and on*="" handlers under
this policy, so none may exist: pages load static/js and static/css and pass
values in data- attributes. tests/browser/test_csp.py checks the same pages in
Chromium (no `securitypolicyviolation` event).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.tests.factories import AdminFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
# Emails are not web pages: no CSP applies to them, and mail clients need inline styles.
NOT_WEB_PAGES = {TEMPLATES / "emails"}

TAG = re.compile(r"<(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?P<attrs>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.DOTALL)
HANDLER = re.compile(r"""(?:^|\s)on[a-z]+\s*=""", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""(?:^|\s)style\s*=""", re.IGNORECASE)
SRC = re.compile(r"""(?:^|\s)src\s*=""", re.IGNORECASE)
# A data block (json_script): never executed, so the CSP does not apply to it.
DATA_BLOCK = re.compile(r"""(?:^|\s)type\s*=\s*["']application/json["']""", re.IGNORECASE)


def inline_code(html: str) -> list[str]:
    """Every inline script, style, style attribute, event handler or javascript: URL in `html`."""
    found = []
    for tag in TAG.finditer(html):
        name, attrs = tag["name"].lower(), tag["attrs"]
        snippet = tag.group(0)[:120]
        if name == "style":
            found.append(snippet)
        if name == "script" and not SRC.search(attrs) and not DATA_BLOCK.search(attrs):
            found.append(snippet)
        if STYLE_ATTRIBUTE.search(attrs) or HANDLER.search(attrs) or "javascript:" in attrs.lower():
            found.append(snippet)
    return found


TEMPLATE_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.DOTALL)


def web_templates() -> list[Path]:
    return sorted(
        path
        for path in TEMPLATES.rglob("*.html")
        if not any(path.is_relative_to(excluded) for excluded in NOT_WEB_PAGES)
    )


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


# --- The scanner itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<script type="text/javascript">x()</script>',
        "<style>p{}</style>",
        '<p style="color:red">',
        "<p\n  class='a' style='x'>",
        '<button onclick="x()">',
        '<body onload="x()">',
        '<a href="javascript:void(0)">',
    ],
)
def test_the_scanner_finds_inline_code(html):
    assert inline_code(html) != []


@pytest.mark.parametrize(
    "html",
    [
        '<script src="/static/js/app.js" defer></script>',
        '<script id="x" type="application/json">{}</script>',
        '<link rel="stylesheet" href="/static/css/a.css">',
        '<p class="styled" data-onclick="x" data-style="y">',
        '<input name="one" value="style=on">',
    ],
)
def test_the_scanner_accepts_external_code_and_data_attributes(html):
    assert inline_code(html) == []


# --- Templates ------------------------------------------------------------------------------------


def test_every_web_template_is_free_of_inline_script_and_style():
    templates = web_templates()
    assert len(templates) > 30, "templates/ not found"

    offenders = {
        str(path.relative_to(ROOT)): inline_code(TEMPLATE_COMMENT.sub("", path.read_text())) for path in templates
    }

    assert {path: found for path, found in offenders.items() if found} == {}


def test_no_admin_turns_off_both_action_bars():
    """Django's changelist inlines a <style> when a ModelAdmin hides the actions at top and bottom."""
    hiding = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not (model_admin.actions_on_top or model_admin.actions_on_bottom)
    ]

    assert hiding == []


# --- The header -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_and_the_api_send_the_policy_without_unsafe_sources(client, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"

    for path in ("/", "/accounts/login/", "/api/v1/themes/"):
        header = client.get(path)["Content-Security-Policy"]
        policy = directives(header)

        assert "unsafe" not in header, path
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
        assert policy["style-src"] == ["'self'"]
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
        assert policy["frame-src"] == ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"]


@pytest.mark.django_db
def test_the_policy_follows_stripe_js_url(client, settings):
    settings.STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/"

    policy = directives(client.get("/")["Content-Security-Policy"])

    assert policy["script-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert policy["frame-src"] == ["http://127.0.0.1:8420"]


# --- Rendered pages -------------------------------------------------------------------------------


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.django_db
def test_key_pages_render_without_inline_script_or_style(client):
    slot = SlotFactory(theme=ThemeFactory(merchant=MerchantFactory()))
    theme = slot.theme
    anonymous = ["/", f"/themes/{theme.pk}/", "/accounts/login/", "/accounts/register/", "/accounts/password/reset/"]
    anonymous += ["/api/v1/docs/"]
    merchant = ["/merchant/", "/merchant/themes/", f"/merchant/themes/{theme.pk}/slots/", "/bookings/"]

    rendered = {}
    for path in [*anonymous, None, *merchant]:
        if path is None:
            client.force_login(theme.merchant.owner)
            continue
        response = client.get(path)
        assert response.status_code == 200, path
        rendered[path] = inline_code(response.content.decode())

    assert {path: found for path, found in rendered.items() if found} == {}


@pytest.mark.django_db
def test_admin_pages_render_without_inline_script_or_style(client):
    """The index, and every registered model's changelist and add page (ours, dj-stripe's, celery beat's)."""
    superuser = AdminFactory(is_superuser=True, is_staff=True)
    client.force_login(superuser)
    SlotFactory()
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        pages.append(admin_url(model, "changelist"))
        pages.append(admin_url(model, "add"))
    from catalog.models import Slot, Theme

    pages += [admin_url(Theme, "change", Theme.objects.get().pk), admin_url(Slot, "change", Slot.objects.get().pk)]

    rendered = {}
    for path in pages:
        response = client.get(path)
        if response.status_code == 403:  # no add permission on service-owned rows
            continue
        assert response.status_code == 200, path
        rendered[path] = inline_code(response.content.decode())

    assert {path: found for path, found in rendered.items() if found} == {}
