"""The owner hears once that their merchant application is approved, after the approval commits."""

import pytest
from django.urls import reverse

from accounts.tests.factories import AdminFactory
from checkout.services import merchant_suspend
from merchants import tasks
from merchants.services import merchant_approve
from merchants.tests.factories import PendingMerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "http://testserver.example"


@pytest.fixture
def pending():
    return PendingMerchantFactory(
        name="Puzzle Works", city="Porto", timezone="Europe/Lisbon", owner__full_name="Grace Hopper"
    )


def test_approval_emails_the_owner_once_after_commit(pending, mailoutbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        merchant_approve(merchant=pending, by=admin)
    assert mailoutbox == []  # nothing leaves before the commit
    queued = [c for c in callbacks if getattr(c, "__name__", "") != "forget_user_cache_entry"]  # accounts.user_cache
    assert len(queued) == 1
    queued[0]()

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [pending.owner.email]
    assert message.subject == "Welcome to BookWise: Puzzle Works is approved"
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    portal = "http://testserver.example/merchant/"
    for body in (message.body, html):
        assert "Hello Grace Hopper" in body
        assert "your merchant application for" in body
        assert portal in body
        assert "Europe/Lisbon" in body


def test_approving_twice_or_running_the_task_twice_sends_one_email(
    pending, mailoutbox, django_capture_on_commit_callbacks
):
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=True):
        merchant_approve(merchant=pending, by=admin)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        merchant_approve(merchant=pending, by=admin)  # already approved: no change, no dispatch
    tasks.send_merchant_approved.delay(pending.pk)

    assert callbacks == []
    assert len(mailoutbox) == 1


def test_a_reapproval_after_a_suspension_sends_no_second_welcome(
    pending, mailoutbox, django_capture_on_commit_callbacks
):
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=True):
        merchant_approve(merchant=pending, by=admin)
    first_approved_at = pending.__class__.objects.get(pk=pending.pk).approved_at
    with django_capture_on_commit_callbacks(execute=True):
        merchant_suspend(merchant=pending, by=admin, reason="Unpaid fees")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        merchant = merchant_approve(merchant=pending, by=admin)

    # Nothing queued by the re-approval (the owner's cached API user is dropped, as on every save).
    assert [c for c in callbacks if getattr(c, "__name__", "") != "forget_user_cache_entry"] == []
    assert [m.subject for m in mailoutbox] == [
        "Welcome to BookWise: Puzzle Works is approved",
        "Puzzle Works is suspended on BookWise",
    ]
    assert merchant.approved_at == first_approved_at
    assert (merchant.suspended_at, merchant.suspension_reason) == (None, "")


def test_suspension_emails_the_owner_the_reason_once(pending, mailoutbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    merchant_approve(merchant=pending, by=admin)
    with django_capture_on_commit_callbacks(execute=True):
        merchant_suspend(merchant=pending, by=admin, reason="Rooms not as described.", keep_bookings=True)
    tasks.send_merchant_suspended.delay(pending.pk)  # a redelivered task sends nothing more

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [pending.owner.email]
    assert message.subject == "Puzzle Works is suspended on BookWise"
    ((html, _),) = message.alternatives
    for body in (message.body, html):
        assert "Rooms not as described." in body
        assert "mark attendance" in body


def test_no_email_when_the_merchant_was_suspended_before_the_task_ran(pending, mailoutbox):
    admin = AdminFactory()
    merchant_approve(merchant=pending, by=admin)
    merchant_suspend(merchant=pending, by=admin, reason="Unpaid fees")

    assert tasks.send_merchant_approved.delay(pending.pk).get() is False
    assert mailoutbox == []


def test_the_admin_approve_action_sends_the_email(client, pending, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(AdminFactory())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:merchants_merchant_changelist"),
            {"action": "approve_selected", "_selected_action": [pending.pk], "index": 0},
        )

    assert [m.to for m in mailoutbox] == [[pending.owner.email]]
