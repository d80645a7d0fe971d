"""bookwise.emails: one helper renders every email; a (kind, key) is sent at most once, even by racing tasks."""

from datetime import UTC, datetime

import pytest
from django.core import mail

from bookwise.emails import local_time_range, render_email, send_email_once
from bookwise.models import EmailKind, EmailLog
from tests.concurrency import run_together


@pytest.mark.django_db
def test_render_email_builds_a_one_line_subject_a_plain_text_part_and_an_escaped_html_part(settings):
    settings.SITE_URL = "https://bookwise.example/"
    user = type("U", (), {"email": "a&b@example.com"})()
    rendered = render_email(
        "password_reset", {"user": user, "user_name": "O'Hara <Jo>", "reset_url": "https://x.example/r/1/"}
    )

    assert rendered.subject == "Reset your BookWise password"
    assert "Hello O'Hara <Jo>," in rendered.text  # plain text is never HTML-escaped
    assert rendered.text.rstrip().endswith("BookWise - https://bookwise.example")
    assert "Hello O&#x27;Hara &lt;Jo&gt;," in rendered.html
    assert rendered.html.lstrip().startswith("<!doctype html>")


def test_local_time_range_names_the_zone_and_follows_daylight_saving():
    summer = local_time_range(
        datetime(2030, 7, 1, 17, 0, tzinfo=UTC), datetime(2030, 7, 1, 18, 0, tzinfo=UTC), "Europe/Lisbon"
    )
    winter = local_time_range(
        datetime(2030, 1, 7, 17, 0, tzinfo=UTC), datetime(2030, 1, 7, 18, 0, tzinfo=UTC), "Europe/Lisbon"
    )
    overnight = local_time_range(
        datetime(2030, 1, 7, 22, 0, tzinfo=UTC), datetime(2030, 1, 8, 1, 0, tzinfo=UTC), "Europe/Lisbon"
    )
    assert summer == "Monday 1 July 2030, 18:00–19:00 (Europe/Lisbon)"
    assert winter == "Monday 7 January 2030, 17:00–18:00 (Europe/Lisbon)"
    assert overnight == "Monday 7 January 2030, 22:00 – Tuesday 8 January 2030, 01:00 (Europe/Lisbon)"


def send(key="k-1"):
    return send_email_once(
        kind=EmailKind.PASSWORD_RESET,
        key=key,
        to="cy@example.com",
        template="password_reset",
        context={"user": {"email": "cy@example.com"}, "user_name": "Cy", "reset_url": "https://x.example/"},
    )


@pytest.mark.django_db
def test_send_email_once_sends_a_key_once_and_another_key_again(mailoutbox):
    assert send() is True
    assert send() is False
    assert send(key="k-2") is True
    assert len(mailoutbox) == 2
    assert set(EmailLog.objects.values_list("key", "recipient")) == {
        ("k-1", "cy@example.com"),
        ("k-2", "cy@example.com"),
    }


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_a_task_racing_send_exactly_one_email(mailoutbox):
    """Both insert the log row at once: the second waits on the unique index, then finds it committed."""
    copies = 4

    results = run_together([lambda: send(key="race")] * copies)

    assert [result for result in results if isinstance(result, Exception)] == []
    assert sorted(results) == [False] * (copies - 1) + [True]
    assert len(mail.outbox) == 1
    assert EmailLog.objects.filter(key="race").count() == 1


@pytest.mark.django_db
def test_email_log_admin_is_read_only_and_finds_an_exact_key(client):
    from django.urls import reverse

    from accounts.tests.factories import AdminFactory

    EmailLog.objects.create(kind=EmailKind.BOOKING_CONFIRMED, key="41", recipient="a@example.com")
    EmailLog.objects.create(kind=EmailKind.BOOKING_CANCELLED, key="42", recipient="b@example.com")
    client.force_login(AdminFactory())
    changelist = reverse("admin:bookwise_emaillog_changelist")

    assert client.get(changelist).context["cl"].result_count == 2
    found = client.get(changelist, {"q": "42"}).context["cl"].result_list
    assert [log.recipient for log in found] == ["b@example.com"]
    assert client.get(reverse("admin:bookwise_emaillog_add")).status_code == 403
