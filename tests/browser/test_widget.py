"""The booking widget on a merchant's own site, in a real browser.

The merchant's page is served by a tiny HTTP server on 127.0.0.1, while BookWise
(the live server) answers on localhost: another site, not only another port, so
BookWise runs as a third party in the page's frames, with third-party cookie
rules (SameSite=None; Secure; Partitioned, as in production) and the merchant's
allowed origins enforced by CSP frame-ancestors.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookings.models import Booking, BookingStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.tests.stripe_helpers import CARD_OK
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)

# Stores what the merchant's page hears: the DOM events of the widget, and every raw message.
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Harbour Games</title></head>
<body>
<h1>Harbour Games: book a room</h1>
<script>
  window.bookwiseEvents = [];
  window.rawMessages = [];
  document.addEventListener("bookwise:booking", function (event) { window.bookwiseEvents.push(event.detail); });
  window.addEventListener("message", function (event) {
    window.rawMessages.push({ origin: event.origin, type: event.data && event.data.type });
  });
</script>
{body}
</body></html>
"""


class HostSite:
    """A web server for the merchant's own pages, on 127.0.0.1 (BookWise is on localhost)."""

    def __init__(self) -> None:
        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, path: str, body: str) -> str:
        self.pages[path] = HOST_PAGE.replace("{body}", body)
        return self.origin + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.stop()


@pytest.fixture
def third_party_cookies(site, settings):
    """Production's cookies: SameSite=None; Secure; Partitioned (Chromium keeps Secure cookies on http://localhost)."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.COOKIE_PARTITIONED = True
    return site


def test_a_customer_books_and_pays_inside_the_widget_and_the_merchants_page_is_told(
    third_party_cookies, host_site, page
):
    site = third_party_cookies
    assert site.startswith("http://localhost:")
    merchant = MerchantFactory(name="Harbour Games", widget_origins=[host_site.origin])
    theme = ThemeFactory(merchant=merchant, title="Harbour Lights Escape Room", price=2500, currency="usd")
    slot = SlotFactory(theme=theme, capacity=6, starts_at=timezone.now() + timedelta(days=2))
    customer = UserFactory(email="ada@example.com")
    url = host_site.page(
        "/rooms.html", f'<script src="{site}/static/js/widget.js" data-theme="{theme.pk}" async></script>'
    )

    page.goto(url)
    times = page.frame_locator("bookwise-widget iframe")
    expect(times.get_by_role("heading", name=theme.title)).to_be_visible()
    save_screenshot(page, "widget-times-on-the-merchants-page")
    times.get_by_role("link", name=re.compile(r"6 seats left · \$25\.00 per person")).click()

    dialog = page.get_by_role("dialog", name="Book on BookWise")
    expect(dialog).to_be_visible()
    # Modal: focus is in the dialog (its close button, then the booking frame once loaded).
    page.wait_for_function("document.querySelector('[role=dialog]').contains(document.activeElement)")
    booking_frame = page.frame_locator("iframe[title='Booking and payment (BookWise)']")
    booking_frame.get_by_role("link", name="Log in").click()
    booking_frame.get_by_label("Email").fill(customer.email)
    booking_frame.get_by_label("Password").fill(DEFAULT_PASSWORD)
    booking_frame.get_by_role("button", name="Log in").click()

    booking_frame.locator("input[name=party_size]").fill("2")
    booking_frame.get_by_role("button", name="Book and continue").click()
    expect(booking_frame.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    card = booking_frame.locator("#card-element")
    card.locator("input[placeholder=number]").fill(CARD_OK)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10001")
    booking_frame.get_by_role("button", name="Pay $50.00").click()
    expect(booking_frame.locator("#payment-done-heading")).to_have_text("Booking confirmed")

    booking = Booking.objects.get(customer=customer)
    assert (booking.status, booking.slot_id, booking.party_size) == (BookingStatus.CONFIRMED, slot.pk, 2)
    page.wait_for_function("window.bookwiseEvents.length > 0")
    assert page.evaluate("window.bookwiseEvents") == [
        {"status": "confirmed", "booking": booking.pk, "theme": str(theme.pk)}
    ]
    # Every message the page got came from BookWise's origin.
    assert {m["origin"] for m in page.evaluate("window.rawMessages")} == {site}
    save_screenshot(page, "widget-booked-in-the-overlay")

    # Escape (pressed inside the frame) closes the dialog; focus goes back to the page.
    booking_frame.locator("#payment-done-heading").press("Escape")
    expect(dialog).to_have_count(0)


def test_a_site_that_is_not_allowed_cannot_frame_the_booking_pages(third_party_cookies, host_site, page):
    site = third_party_cookies
    merchant = MerchantFactory(widget_origins=["https://rooms.example"])
    theme = ThemeFactory(merchant=merchant, title="Harbour Lights Escape Room")
    slot = SlotFactory(theme=theme, starts_at=timezone.now() + timedelta(days=2))
    url = host_site.page(
        "/elsewhere.html",
        f'<iframe id="times" title="times" src="{site}/embed/themes/{theme.pk}/"></iframe>'
        f'<iframe id="book" title="book" src="{site}/embed/themes/{theme.pk}/book/?slot={slot.pk}"></iframe>'
        f'<iframe id="portal" title="portal" src="{site}/themes/{theme.pk}/"></iframe>',
    )

    page.goto(url)
    page.wait_for_load_state("load")

    for frame_id in ("times", "book", "portal"):
        frame = page.locator(f"#{frame_id}").element_handle().content_frame()
        # The browser refused to render BookWise there: an error page, none of BookWise's markup.
        assert frame.locator("main, [data-embed-origins]").count() == 0, frame_id
        assert theme.title not in frame.content()
    # frame-ancestors refusals are reported as CSP violations: expected here, and the point of this test.
    assert any("frame-ancestors" in v or "Content Security Policy" in v for v in page.csp_violations)
    page.csp_violations.clear()


def test_on_a_phone_the_widget_books_in_a_new_tab_which_tells_the_merchants_page(
    third_party_cookies, host_site, browser
):
    site = third_party_cookies
    merchant = MerchantFactory(widget_origins=[host_site.origin])
    theme = ThemeFactory(merchant=merchant, title="Open Day Tour", price=0)
    SlotFactory(theme=theme, capacity=6, starts_at=timezone.now() + timedelta(days=2))
    customer = UserFactory()
    url = host_site.page(
        "/phone.html",
        f'<bookwise-widget theme="{theme.pk}"></bookwise-widget>'
        f'<script src="{site}/static/js/widget.js" async></script>',
    )
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        times = page.frame_locator("bookwise-widget iframe")
        with context.expect_page() as opened:
            times.get_by_role("link", name=re.compile(r"seats left · free")).click()
        tab = opened.value
        expect(page.get_by_role("dialog")).to_have_count(0)  # no overlay on a phone: a tab instead
        tab.get_by_role("link", name="Log in").click()
        tab.get_by_label("Email").fill(customer.email)
        tab.get_by_label("Password").fill(DEFAULT_PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        tab.get_by_role("button", name="Book and continue").click()
        expect(tab.get_by_role("heading", name="Booking confirmed")).to_be_visible()

        booking = Booking.objects.get(customer=customer)
        assert booking.status == BookingStatus.CONFIRMED
        page.wait_for_function("window.bookwiseEvents.length > 0")
        assert page.evaluate("window.bookwiseEvents") == [
            {"status": "confirmed", "booking": booking.pk, "theme": str(theme.pk)}
        ]
        save_screenshot(tab, "widget-phone-tab-booked")
    finally:
        context.close()
    assert errors == []
