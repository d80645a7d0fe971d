"""The Django admin's Approve/Suspend actions go through the merchant services."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Role
from accounts.tests.factories import AdminFactory
from merchants.models import Merchant, MerchantStatus
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:merchants_merchant_changelist")


@pytest.fixture
def admin_web(client):
    client.force_login(AdminFactory())
    return client


def run_action(client, action: str, merchants):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [m.pk for m in merchants], "index": 0},
        follow=True,
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_approve_action_approves_pending_merchants_and_promotes_their_owners(admin_web):
    pending = PendingMerchantFactory.create_batch(2)

    response = run_action(admin_web, "approve_selected", pending)

    assert response.status_code == 200
    for merchant in pending:
        merchant.refresh_from_db()
        merchant.owner.refresh_from_db()
        assert merchant.status == MerchantStatus.APPROVED
        assert merchant.approved_at is not None
        assert merchant.owner.role == Role.MERCHANT
    assert "Approved 2 merchant(s)." in texts(response)


def test_suspend_action_suspends_and_reports_refusals(admin_web):
    approved = MerchantFactory()
    pending = PendingMerchantFactory()

    response = run_action(admin_web, "suspend_selected", [approved, pending])

    approved.refresh_from_db()
    approved.owner.refresh_from_db()
    pending.refresh_from_db()
    assert approved.status == MerchantStatus.SUSPENDED
    assert approved.owner.role == Role.CUSTOMER
    assert pending.status == MerchantStatus.PENDING
    messages = texts(response)
    assert "Suspended 1 merchant(s)." in messages
    assert any(m.startswith("1 merchant(s) refused") and pending.name in m for m in messages)


def test_changelist_lists_every_status_with_filters_and_search(admin_web):
    approved = MerchantFactory(name="Lockbox Lisbon")
    PendingMerchantFactory(name="Puzzle Porto", city="Porto")

    everything = admin_web.get(CHANGELIST)
    assert everything.context["cl"].result_count == 2

    pending_only = admin_web.get(CHANGELIST, {"status__exact": "pending"})
    assert [m.name for m in pending_only.context["cl"].result_list] == ["Puzzle Porto"]

    by_owner = admin_web.get(CHANGELIST, {"q": approved.owner.email})
    assert list(by_owner.context["cl"].result_list) == [approved]


def test_status_cannot_be_edited_in_the_change_form(admin_web):
    pending = PendingMerchantFactory()
    url = reverse("admin:merchants_merchant_change", args=[pending.pk])

    response = admin_web.post(
        url,
        {
            "owner": pending.owner.pk,
            "name": pending.name,
            "description": pending.description,
            "city": pending.city,
            "timezone": pending.timezone,
            "status": "approved",
        },
    )

    assert response.status_code == 302
    assert Merchant.objects.get(pk=pending.pk).status == MerchantStatus.PENDING


def test_change_form_refuses_a_bad_timezone(admin_web):
    merchant = MerchantFactory()
    url = reverse("admin:merchants_merchant_change", args=[merchant.pk])

    response = admin_web.post(
        url, {"owner": merchant.owner.pk, "name": merchant.name, "city": merchant.city, "timezone": "Mars/Olympus"}
    )

    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
