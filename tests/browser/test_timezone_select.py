"""The merchant application's timezone select pre-selects the browser's own zone (static/js/timezone_select.js)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from merchants.tests.factories import MerchantFactory
from tests.browser.conftest import CHROMIUM, REPORT_CSP_VIOLATIONS, TIMEOUT_MS, is_csp_violation
from tests.browser.test_journeys import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

expect.set_options(timeout=TIMEOUT_MS)


def page_in_zone(browser, zone: str):
    context = browser.new_context(timezone_id=zone, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: is_csp_violation(message.text) and problems.append(message.text))
    return context, page, problems


def test_apply_form_preselects_the_browsers_timezone(browser, live_server):
    user = UserFactory()
    context, page, problems = page_in_zone(browser, "Asia/Tokyo")
    try:
        log_in(page, live_server.url, user.email, next_path="/merchant/")
        select = page.get_by_label("Timezone")
        expect(select).to_have_value("Asia/Tokyo")
    finally:
        context.close()
    assert problems == []


def test_settings_keep_the_saved_timezone_whatever_the_browser_says(browser, live_server):
    merchant = MerchantFactory(timezone="Europe/Lisbon")
    context, page, problems = page_in_zone(browser, "America/New_York")
    try:
        log_in(page, live_server.url, merchant.owner.email, next_path="/merchant/settings/")
        page.wait_for_load_state("networkidle")
        expect(page.get_by_label("Timezone")).to_have_value("Europe/Lisbon")
    finally:
        context.close()
    assert problems == []
