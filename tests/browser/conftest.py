"""Fixtures for the browser journeys: Debian's Chromium driven by Playwright against Django's live server.

The live server (pytest-django's `live_server`, a real HTTP server in a thread
of this process, on a transactional database) talks to a real localstripe
process: the pages load localstripe's stand-in Stripe.js, our services call
its API, and it delivers signed webhooks back to the live server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 15_000
CSP_VIOLATION = "CSP violation:"
# Runs in every page and frame before its own scripts; a refused inline script or style,
# or a source outside the policy, becomes a console error the page fixture collects.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error(MARK + " " + event.effectiveDirective + " refused " + (event.blockedURI || "inline") +
    " in " + event.documentURI + " (" + (event.sourceFile || "") + ":" + event.lineNumber + ") " + event.sample);
});
""".replace("MARK", json.dumps(CSP_VIOLATION))


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium for the module: Debian's /usr/bin/chromium, never a downloaded browser.

    Playwright's sync API runs an asyncio event loop in this (the main) thread
    from `start()` to `stop()`. Django sees that loop and refuses ORM calls from
    this thread (SynchronousOnlyOperation), although the tests' ORM calls are
    plain synchronous calls made between Playwright calls, never from inside
    the loop. DJANGO_ALLOW_ASYNC_UNSAFE is Django's documented switch for that
    case; it is set only while Playwright runs, and restored after.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def is_csp_violation(text: str) -> bool:
    return text.startswith(CSP_VIOLATION) or "Content Security Policy" in text


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page.

    JavaScript errors and Content-Security-Policy violations on the page fail the test.
    `page.csp_violations` lists the violations seen so far.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    js_errors: list[str] = []
    csp_violations: list[str] = []
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    page.on("console", lambda message: is_csp_violation(message.text) and csp_violations.append(message.text))
    page.csp_violations = csp_violations
    yield page
    context.close()
    assert js_errors == [], f"JavaScript errors on the page: {js_errors}"
    assert csp_violations == [], f"Content-Security-Policy violations on the page: {csp_violations}"


@pytest.fixture
def site(live_server, localstripe, localstripe_delivers_to, settings, transactional_db):
    """The live server's base URL, wired to localstripe like a development machine.

    - pages load localstripe's stand-in Stripe.js (STRIPE_JS_URL);
    - dj-stripe's local Account/APIKey rows and the WebhookEndpoint exist
      (payments.stripe_setup), and localstripe delivers its signed events to
      `live_server.url + endpoint path`;
    - the live server speaks plain http, so the session and CSRF cookies must
      not be marked Secure (production keeps them Secure).
    Celery runs eagerly (root conftest): refunds and emails happen in the request.
    """
    from payments.stripe_setup import ensure_webhook_endpoint

    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # SameSite=None (the widget's iframe) needs Secure: plain-http pages keep Lax, unpartitioned cookies.
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "Lax"
    settings.COOKIE_PARTITIONED = False
    localstripe_delivers_to(ensure_webhook_endpoint(live_server.url))
    return live_server.url


def save_screenshot(page, name: str) -> Path:
    """The journey's last page, as a git-ignored artifact in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
