"""Onboarding end to end against the Stripe stand-in (devtools/stripe_standin), with its signed webhooks.

The merchant asks the API for an Account Link, opens it (the stand-in's hosted page
completes onboarding and sends the browser to our return URL), and the stand-in
sends `account.updated` to the live server: the account becomes enabled.
"""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from payments.models import ConnectedAccount, ConnectedAccountStatus
from payments.stripe_setup import ensure_webhook_endpoint
from tests.concurrency import wait_for

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]


def test_onboarding_through_the_standins_link_enables_the_account(
    localstripe, localstripe_delivers_to, live_server, settings
):
    settings.SITE_URL = live_server.url
    localstripe_delivers_to(ensure_webhook_endpoint())
    merchant = MerchantFactory(country="PT")
    owner = bearer_client(merchant.owner)

    response = owner.post(f"/api/v1/merchants/{merchant.pk}/payouts/onboarding/")

    assert response.status_code == 200, response.content
    account = ConnectedAccount.objects.get(merchant=merchant)
    assert account.status == ConnectedAccountStatus.PENDING
    opened = requests.get(response.json()["url"], allow_redirects=False, timeout=10)
    assert opened.status_code == 302
    assert opened.headers["Location"] == live_server.url + reverse("merchant:payouts-return")

    def enabled():
        account.refresh_from_db()
        return account.status == ConnectedAccountStatus.ENABLED

    assert wait_for(enabled, timeout=15), "account.updated never enabled the account"
    body = owner.get(f"/api/v1/merchants/{merchant.pk}/payouts/").json()
    assert (body["account_id"], body["status"], body["payouts_enabled"]) == (account.stripe_account_id, "enabled", True)
    assert account.payouts_enabled_at is not None
    # A second onboarding call makes a new link for the same account.
    again = owner.post(f"/api/v1/merchants/{merchant.pk}/payouts/onboarding/")
    assert again.status_code == 200
    assert again.json()["url"] != response.json()["url"]
    assert ConnectedAccount.objects.filter(merchant=merchant).count() == 1
