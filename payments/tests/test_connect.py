"""Stripe Connect onboarding and account status (payments.connect), against an in-process fake Stripe transport."""

from __future__ import annotations

import pytest
import stripe
from django.db import connection
from django.urls import reverse

from bookwise.errors import DomainError
from bookwise.models import OutboxMessage
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory
from payments import connect, gateway
from payments.models import ConnectedAccount, ConnectedAccountStatus
from payments.stripe_setup import ensure_webhook_endpoint
from payments.tests.fake_connect_accounts import FakeConnect
from payments.tests.stripe_helpers import post_event, stripe_event
from tests.concurrency import run_together

ENABLED_TASK = "payments.tasks.send_payouts_enabled"
RESTRICTED_TASK = "payments.tasks.send_payouts_restricted"


@pytest.fixture
def fake_stripe(monkeypatch) -> FakeConnect:
    fake = FakeConnect()
    monkeypatch.setattr(gateway, "_http_client", lambda: fake)
    return fake


def queued(task: str) -> list[list]:
    return list(OutboxMessage.objects.filter(task_name=task).values_list("args", flat=True))


@pytest.mark.django_db
def test_onboarding_creates_one_express_account_and_a_fresh_link_each_time(fake_stripe, settings):
    settings.SITE_URL = "https://bookwise.example"
    merchant = MerchantFactory(country="PT")

    first = connect.payouts_onboarding_link(merchant=merchant)
    second = connect.payouts_onboarding_link(merchant=merchant)

    account = ConnectedAccount.objects.get(merchant=merchant)
    assert account.stripe_account_id in first
    assert account.stripe_account_id in second
    assert first != second  # an Account Link is single-use: a new one per call
    [(_, _, params, key)] = fake_stripe.posts("/v1/accounts")
    assert key == f"connect-account-merchant-{merchant.pk}"
    assert params == {
        "type": "express",
        "country": "PT",
        "email": merchant.owner.email,
        "capabilities[transfers][requested]": "true",
        "metadata[merchant_id]": str(merchant.pk),
    }
    links = fake_stripe.posts("/v1/account_links")
    assert len(links) == 2
    assert links[0][2] == {
        "account": account.stripe_account_id,
        "type": "account_onboarding",
        "refresh_url": "https://bookwise.example" + reverse("merchant:payouts-refresh"),
        "return_url": "https://bookwise.example" + reverse("merchant:payouts-return"),
    }
    assert (account.status, account.payouts_enabled) == (ConnectedAccountStatus.PENDING, False)
    assert "external_account" in account.requirements_due


@pytest.mark.django_db
def test_onboarding_defaults_the_country_to_us(fake_stripe):
    connect.payouts_onboarding_link(merchant=MerchantFactory(country=""))
    assert fake_stripe.posts("/v1/accounts")[0][2]["country"] == "US"


@pytest.mark.django_db
def test_onboarding_refuses_a_merchant_that_is_not_approved_without_calling_stripe(fake_stripe):
    with pytest.raises(DomainError) as refused:
        connect.payouts_onboarding_link(merchant=PendingMerchantFactory())
    assert (refused.value.code, refused.value.http_status) == ("merchant_not_approved", 409)
    assert fake_stripe.calls == []
    assert not ConnectedAccount.objects.exists()


@pytest.mark.django_db
def test_onboarding_while_stripe_is_down_is_a_503_and_stores_nothing(fake_stripe):
    fake_stripe.down = True
    merchant = MerchantFactory()
    with pytest.raises(DomainError) as refused:
        connect.payouts_onboarding_link(merchant=merchant)
    assert (refused.value.code, refused.value.http_status) == ("payment_provider_unavailable", 503)
    assert not ConnectedAccount.objects.exists()

    fake_stripe.down = False
    connect.payouts_onboarding_link(merchant=merchant)
    keys = {key for _, _, _, key in fake_stripe.posts("/v1/accounts")}
    assert keys == {f"connect-account-merchant-{merchant.pk}"}  # the retry used the same key
    assert ConnectedAccount.objects.filter(merchant=merchant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_onboardings_end_with_one_account_row(fake_stripe):
    merchant = MerchantFactory()

    def onboard():
        try:
            return connect.payouts_onboarding_link(merchant=merchant)
        finally:
            connection.close()

    results = run_together([onboard] * 4)

    assert all(isinstance(url, str) for url in results), results
    account = ConnectedAccount.objects.get(merchant=merchant)
    assert all(account.stripe_account_id in url for url in results)
    assert {key for _, _, _, key in fake_stripe.posts("/v1/accounts")} == {f"connect-account-merchant-{merchant.pk}"}
    assert len(fake_stripe.accounts) == 1


@pytest.fixture
def onboarded(fake_stripe):
    merchant = MerchantFactory()
    connect.payouts_onboarding_link(merchant=merchant)
    return ConnectedAccount.objects.get(merchant=merchant)


@pytest.mark.django_db
def test_account_enabled_stamps_the_time_and_queues_one_email(fake_stripe, onboarded):
    stripe_account = fake_stripe.complete_onboarding(onboarded.stripe_account_id)

    account = connect.connected_account_apply(account=stripe_account)
    again = connect.connected_account_apply(account=stripe_account)

    assert account.status == ConnectedAccountStatus.ENABLED
    assert (account.payouts_enabled, account.charges_enabled, account.requirements_due) == (True, True, [])
    assert account.payouts_enabled_at is not None
    assert again.payouts_enabled_at == account.payouts_enabled_at
    assert queued(ENABLED_TASK) == [[onboarded.merchant_id]]
    assert queued(RESTRICTED_TASK) == []


@pytest.mark.django_db
def test_account_restricted_after_onboarding_lists_what_is_due_and_queues_the_email(fake_stripe, onboarded):
    fake_stripe.complete_onboarding(onboarded.stripe_account_id)
    connect.connected_account_apply(account=fake_stripe.accounts[onboarded.stripe_account_id])
    stripe_account = fake_stripe.update(
        onboarded.stripe_account_id,
        payouts_enabled=False,
        requirements={
            "currently_due": ["individual.verification.document", "external_account"],
            "past_due": ["external_account"],
            "disabled_reason": "requirements.past_due",
        },
    )

    account = connect.connected_account_apply(account=stripe_account)
    connect.connected_account_apply(account=stripe_account)

    assert account.status == ConnectedAccountStatus.RESTRICTED
    assert account.payouts_enabled is False
    assert account.requirements_due == ["individual.verification.document", "external_account"]
    assert account.disabled_reason == "requirements.past_due"
    assert queued(RESTRICTED_TASK) == [[onboarded.merchant_id]]
    assert connect.requirement_words(account.requirements_due) == [
        "Stripe needs a photo of your identity document",
        "Stripe needs your bank details",
    ]


@pytest.mark.django_db
def test_a_new_account_with_past_due_onboarding_fields_is_pending_not_restricted(fake_stripe, onboarded):
    account = connect.connected_account_apply(account=fake_stripe.accounts[onboarded.stripe_account_id])
    assert account.status == ConnectedAccountStatus.PENDING
    assert queued(RESTRICTED_TASK) == []


@pytest.mark.django_db
def test_submitted_details_under_verification_stay_pending(fake_stripe, onboarded):
    stripe_account = fake_stripe.update(
        onboarded.stripe_account_id,
        details_submitted=True,
        requirements={"currently_due": [], "past_due": [], "disabled_reason": "requirements.pending_verification"},
    )
    assert connect.connected_account_apply(account=stripe_account).status == ConnectedAccountStatus.PENDING


@pytest.mark.django_db
def test_an_account_that_is_not_ours_changes_nothing(fake_stripe):
    assert connect.connected_account_apply(account={"id": "acct_unknown", "payouts_enabled": True}) is None
    assert connect.connected_account_sync(stripe_account_id="acct_unknown") is None
    assert fake_stripe.calls == []


@pytest.mark.django_db
def test_refresh_rereads_the_account_from_stripe(fake_stripe, onboarded):
    fake_stripe.complete_onboarding(onboarded.stripe_account_id)

    account = connect.connected_account_refresh(merchant=onboarded.merchant)

    assert account.status == ConnectedAccountStatus.ENABLED
    assert connect.connected_account_refresh(merchant=MerchantFactory()) is None


@pytest.mark.django_db
def test_refresh_while_stripe_is_down_is_a_503_and_keeps_the_state(fake_stripe, onboarded):
    fake_stripe.down = True
    with pytest.raises(DomainError) as refused:
        connect.connected_account_refresh(merchant=onboarded.merchant)
    assert refused.value.http_status == 503
    onboarded.refresh_from_db()
    assert onboarded.status == ConnectedAccountStatus.PENDING


@pytest.mark.django_db
def test_account_updated_webhook_rereads_the_account_rather_than_trusting_the_payload(
    fake_stripe, onboarded, monkeypatch
):
    # dj-stripe syncs its own copy of the account with the SDK's module-level client: the same fake.
    monkeypatch.setattr(stripe, "default_http_client", fake_stripe)
    endpoint = ensure_webhook_endpoint("http://testserver")
    fake_stripe.complete_onboarding(onboarded.stripe_account_id)
    # The payload claims nothing is enabled: Stripe's current state wins.
    payload = {**fake_stripe.accounts[onboarded.stripe_account_id], "payouts_enabled": False}

    response = post_event(endpoint, stripe_event("account.updated", payload))

    assert response.status_code == 200, response.content
    onboarded.refresh_from_db()
    assert onboarded.status == ConnectedAccountStatus.ENABLED
    assert ("GET", f"/v1/accounts/{onboarded.stripe_account_id}") in {(m, p) for m, p, _, _ in fake_stripe.calls}


@pytest.mark.django_db
def test_account_updated_webhook_answers_503_while_stripe_is_down(fake_stripe, onboarded, monkeypatch):
    monkeypatch.setattr(stripe, "default_http_client", fake_stripe)
    endpoint = ensure_webhook_endpoint("http://testserver")
    payload = fake_stripe.complete_onboarding(onboarded.stripe_account_id)
    fake_stripe.down = True

    response = post_event(endpoint, stripe_event("account.updated", payload))

    assert response.status_code == 503
    onboarded.refresh_from_db()
    assert onboarded.status == ConnectedAccountStatus.PENDING


@pytest.mark.django_db
def test_the_connect_endpoint_has_its_own_secret_and_applies_account_updated(
    fake_stripe, onboarded, monkeypatch, settings
):
    """Events on connected accounts come to a second endpoint, signed with its own secret (README, Getting paid)."""
    monkeypatch.setattr(stripe, "default_http_client", fake_stripe)
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect_endpoint_secret_0123456789"
    platform = ensure_webhook_endpoint("http://testserver")
    endpoint = ensure_webhook_endpoint("http://testserver", connect=True)
    assert endpoint.pk != platform.pk
    assert endpoint.enabled_events == ["account.updated"]
    assert ensure_webhook_endpoint("http://testserver", connect=True).pk == endpoint.pk  # a stable URL
    payload = fake_stripe.complete_onboarding(onboarded.stripe_account_id)
    event = {**stripe_event("account.updated", payload), "account": onboarded.stripe_account_id}

    signed_for_the_platform = post_event(endpoint, event, secret=settings.STRIPE_WEBHOOK_SECRET)
    assert signed_for_the_platform.status_code == 400
    onboarded.refresh_from_db()
    assert onboarded.status == ConnectedAccountStatus.PENDING

    assert post_event(endpoint, event).status_code == 200
    onboarded.refresh_from_db()
    assert onboarded.status == ConnectedAccountStatus.ENABLED


@pytest.mark.django_db
def test_the_connect_endpoint_needs_its_secret(settings):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    with pytest.raises(ValueError, match="STRIPE_CONNECT_WEBHOOK_SECRET"):
        ensure_webhook_endpoint(connect=True)


def test_requirement_words_are_sentences_one_per_kind():
    assert connect.requirement_words(
        ["external_account", "individual.dob.day", "individual.dob.month", "tos_acceptance.date", "something_new"]
    ) == [
        "Stripe needs your bank details",
        "Stripe needs your date of birth",
        "Stripe needs you to accept its terms of service",
        "Stripe needs more information",
    ]
