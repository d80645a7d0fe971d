"""Password reset: the form queues a Celery task with no secret in it; the worker builds and sends the link."""

import re

import pytest
from django.urls import reverse

from accounts import tasks
from accounts.tests.factories import UserFactory
from bookwise.models import EmailKind, EmailLog, OutboxMessage

pytestmark = pytest.mark.django_db

RESET_URL = reverse("portal:password-reset")
NEW_PASSWORD = "a-brand-new-passphrase-77"
LINK_RE = re.compile(r"https://bookwise\.example(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://bookwise.example"


def test_reset_request_queues_a_task_with_the_user_id_and_a_request_id_only(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(email="cy@example.com")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(RESET_URL, {"email": "cy@example.com"})

    assert mailoutbox == []  # the request does not talk to SMTP
    assert len(callbacks) == 1  # the outbox's after-commit publish
    (queued,) = OutboxMessage.objects.all()
    assert queued.task_name == tasks.send_password_reset.name
    user_id, request_id = queued.args
    assert user_id == user.pk
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # a random id, not a token


def test_reset_email_goes_through_the_task_once_and_its_link_sets_a_new_password(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(email="cy@example.com", full_name="Cy Rose")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RESET_URL, {"email": "CY@example.com"})  # the address matches case-insensitively
    (queued,) = OutboxMessage.objects.all()
    tasks.send_password_reset.delay(*queued.args)  # a duplicated delivery of the same request

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["cy@example.com"]
    assert message.subject == "Reset your BookWise password"
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    link = LINK_RE.search(message.body).group(1)
    assert link in html
    assert EmailLog.objects.filter(kind=EmailKind.PASSWORD_RESET, key__startswith=f"{user.pk}:").count() == 1

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert done.redirect_chain[-1][0] == reverse("portal:password-reset-complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_two_reset_requests_send_two_emails(client, mailoutbox, django_capture_on_commit_callbacks):
    UserFactory(email="cy@example.com")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(RESET_URL, {"email": "cy@example.com"})

    assert len(mailoutbox) == 2


def test_no_reset_email_for_an_account_deactivated_before_the_task_ran(mailoutbox):
    user = UserFactory(is_active=False)
    assert tasks.send_password_reset.delay(user.pk, "a" * 32).get() is False
    assert mailoutbox == []


def test_no_reset_email_for_an_inactive_account_or_one_without_a_usable_password(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(email="off@example.com", is_active=False)
    no_password = UserFactory(email="sso@example.com")
    no_password.set_unusable_password()
    no_password.save()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for email in ("off@example.com", "sso@example.com"):
            client.post(RESET_URL, {"email": email})

    assert callbacks == []
    assert mailoutbox == []
