"""The payouts journey in a real browser: a merchant onboards through the Stripe stand-in and sees a transfer.

Headless Chromium, Django's live server and the Stripe stand-in (localstripe
plus Connect, devtools/stripe_standin) as in test_journeys.py. The onboarding
is clicked through: the portal's button creates the Express account and
redirects to the Account Link, whose stand-in URL completes onboarding and
sends the browser back to the portal's return page. What happens between
(a customer pays, the slot ends, the merchant marks attendance, the transfer
sweep runs) is set up with the same services and task the site uses.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.services import booking_join, booking_mark_attendance
from catalog.models import Slot
from catalog.services import slot_create
from catalog.tests.factories import ThemeFactory
from merchants.tests.factories import MerchantFactory
from payments.models import ConnectedAccount, ConnectedAccountStatus, LedgerEntry, LedgerKind, Transfer, TransferStatus
from payments.tasks import transfer_due_bookings
from tests.browser.conftest import CHROMIUM, TIMEOUT_MS, save_screenshot
from tests.browser.test_journeys import log_in, pay_by_card

pytestmark = [
    pytest.mark.browser,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=(
            f"Debian's Chromium is not installed at {CHROMIUM}: `python scripts/dev.py test` installs it "
            "(apt-get install chromium chromium-driver). Playwright's own browsers are never downloaded."
        ),
    ),
]

expect.set_options(timeout=TIMEOUT_MS)


def test_journey_payouts_a_merchant_onboards_on_stripe_and_sees_an_attended_booking_transferred(
    site, page, settings, localstripe
):
    # Stripe's return and refresh URLs are absolute (SITE_URL): they must lead back to this live server.
    settings.SITE_URL = site
    settings.PAYOUT_DELAY_HOURS = 24
    merchant = MerchantFactory(name="Harbour Games", city="Porto", timezone="Europe/Lisbon")
    theme = ThemeFactory(merchant=merchant, title="Lighthouse Cipher", price=2500, currency="usd")

    log_in(page, site, merchant.owner.email, next_path="/merchant/")
    page.get_by_role("link", name="Payouts").click()
    expect(page.get_by_role("heading", name="Payouts", exact=True)).to_be_visible()
    expect(page.locator("[data-payouts-status]")).to_have_attribute("data-payouts-status", "none")
    expect(page.get_by_text("No paid bookings yet.")).to_be_visible()

    # Onboarding: the button goes to the stand-in's Account Link, which completes onboarding and
    # sends the browser back to the portal's return page.
    stripe_pages: list[str] = []
    page.on("request", lambda request: request.url.startswith(localstripe) and stripe_pages.append(request.url))
    page.get_by_role("button", name="Set up payouts with Stripe").click()

    expect(page.get_by_text("Your Stripe account is ready: payouts are on.")).to_be_visible()
    assert page.url.startswith(f"{site}/merchant/payouts/")
    assert [url for url in stripe_pages if re.search(r"/_standin/onboarding/acctlink_\w+$", url)], stripe_pages
    expect(page.locator("[data-payouts-status]")).to_have_attribute("data-payouts-status", "enabled")
    expect(page.locator(".badge-payouts-enabled")).to_have_text("Payouts on")
    expect(page.get_by_role("button", name=re.compile("Stripe"))).to_have_count(0)  # nothing left to set up
    account = ConnectedAccount.objects.get(merchant=merchant)
    assert account.stripe_account_id.startswith("acct_")
    assert (account.status, account.payouts_enabled) == (ConnectedAccountStatus.ENABLED, True)

    # A customer books 2 places and pays by card at the stand-in; the experience takes place, ends more
    # than PAYOUT_DELAY_HOURS ago (the ORM moves the slot into the past: no service opens a past slot),
    # and the merchant marks the customer attended.
    customer = UserFactory(full_name="Grace Hopper")
    now = timezone.now()
    slot = slot_create(theme=theme, starts_at=now + timedelta(hours=3), capacity=6)
    booking = booking_join(slot_id=slot.pk, customer=customer, party_size=2)
    pay_by_card(booking)
    starts_at = now - timedelta(hours=26)
    Slot.objects.filter(pk=slot.pk).update(starts_at=starts_at, ends_at=starts_at + timedelta(hours=1))
    booking_mark_attendance(booking_id=booking.pk, status=BookingStatus.ATTENDED, by=merchant.owner)

    # The transfer sweep (Celery beat's task; eager here: the transfer is sent to the stand-in at once).
    assert transfer_due_bookings() == 1
    transfer = Transfer.objects.get(booking=booking)
    assert transfer.status == TransferStatus.PAID, transfer.last_error
    assert transfer.stripe_transfer_id.startswith("tr_")
    # $50.00 paid, the 10 % fee kept: $45.00 to the merchant.
    assert (transfer.amount, transfer.currency) == (4500, "usd")
    assert LedgerEntry.objects.get(booking=booking, kind=LedgerKind.TRANSFER).amount == -4500

    page.reload()
    balances = page.locator(".balances-table tbody tr")
    expect(balances).to_have_count(1)
    expect(balances.locator('[data-label="Currency"]')).to_have_text("USD")
    expect(balances.locator('[data-label="Transferred"]')).to_have_text("$45.00")
    expect(balances.locator('[data-label="Owed to you"]')).to_have_text("$0.00")
    expect(balances.locator('[data-label="Fees"]')).to_have_text("$5.00")

    # The statement of the days around the experience (the merchant's calendar): one line, transferred.
    local_day = timezone.localtime(starts_at, merchant.tzinfo).date()
    page.get_by_label("From").fill((local_day - timedelta(days=1)).isoformat())
    page.get_by_label("To").fill((local_day + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Show").click()
    lines = page.locator(".statement-table tbody tr")
    expect(lines).to_have_count(1)
    line = lines.first
    expect(line.locator('[data-label="Booking"]')).to_have_text(f"#{booking.pk}")
    expect(line.locator('[data-label="Theme"]')).to_have_text("Lighthouse Cipher")
    expect(line.locator('[data-label="Paid"]')).to_have_text("$50.00")
    expect(line.locator('[data-label="Net"]')).to_have_text("$45.00")
    expect(line.locator(".badge-transfer-paid")).to_have_text("Transferred")
    expect(line.locator(".transfer-id")).to_have_text(transfer.stripe_transfer_id)
    save_screenshot(page, "journey-payouts-transferred")
