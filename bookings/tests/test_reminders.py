"""Reminders before the start and the "how was it?" email after it (issue 13): each sent once, never when moot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import reminders
from bookings.models import Booking, BookingReminder, BookingStatus
from bookings.tests.factories import ConfirmedBookingFactory
from bookings.tests.ics_check import check_calendar, parse_utc
from bookwise.models import EmailLog
from catalog.models import SlotStatus
from catalog.tests.factories import SlotFactory, ThemeFactory
from checkout.services import booking_cancel_and_refund
from conftest import bearer_client
from reviews import review_requests
from reviews.models import Review
from tests.concurrency import run_together


def _slot(*, starts_in: timedelta, offsets=None, **kwargs):
    starts_at = (timezone.now() + starts_in).replace(microsecond=0)
    theme_kwargs = {"theme__reminder_offsets_hours": offsets} if offsets is not None else {}
    return SlotFactory(
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=60), theme__price=0, **theme_kwargs, **kwargs
    )


def _booking(slot, *, confirmed_ago=timedelta(days=3), **kwargs):
    return ConfirmedBookingFactory(slot=slot, amount=0, confirmed_at=timezone.now() - confirmed_ago, **kwargs)


def _kinds(booking) -> set[str]:
    return set(BookingReminder.objects.filter(booking=booking).values_list("kind", flat=True))


def _reminder_mails(outbox):
    return [m for m in outbox if m.subject.startswith("Your booking is")]


# --- Two sweeps at once --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_send_each_reminder_exactly_once(mailoutbox):
    slot = _slot(starts_in=timedelta(hours=1, minutes=50), capacity=10)
    bookings = [_booking(slot) for _ in range(6)]

    results = run_together([reminders.reminders_send_due, reminders.reminders_send_due])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 6  # queued once per booking, whichever sweep won it
    assert sorted(m.to[0] for m in _reminder_mails(mailoutbox)) == sorted(b.customer.email for b in bookings)
    assert EmailLog.objects.filter(kind=reminders.REMINDER_EMAIL_KIND).count() == 6
    # The nearest due offset is sent; the 24 h one, due too, is recorded as skipped so it never goes later.
    assert all(_kinds(b) == {"before:24", "before:2"} for b in bookings)

    assert reminders.reminders_send_due() == 0
    assert len(_reminder_mails(mailoutbox)) == 6


@pytest.mark.django_db(transaction=True)
def test_a_rerun_of_the_email_task_after_a_killed_worker_sends_nothing_twice(mailoutbox):
    booking = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)))
    reminders.reminders_send_due()
    assert len(_reminder_mails(mailoutbox)) == 1

    # The outbox delivers at least once: the task again, as after a worker killed before its ack.
    results = run_together([lambda: reminders.send_reminder_email(booking_id=booking.pk, kind="before:2")] * 2)

    assert results == [False, False]
    assert len(_reminder_mails(mailoutbox)) == 1


# --- When nothing is sent ------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_reminder_for_a_cancelled_booking(mailoutbox, django_capture_on_commit_callbacks):
    booking = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)))
    booking_cancel_and_refund(booking_id=booking.pk, by=booking.slot.theme.merchant.owner)
    expired = _booking(_slot(starts_in=timedelta(hours=1, minutes=40)))
    Booking.objects.filter(pk=expired.pk).update(status=BookingStatus.EXPIRED)

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due() == 0

    assert _reminder_mails(mailoutbox) == []
    assert not BookingReminder.objects.exists()


@pytest.mark.django_db
def test_a_cancel_between_the_claim_and_the_send_sends_nothing(mailoutbox, django_capture_on_commit_callbacks):
    booking = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert reminders.reminders_send_due() == 1
    assert _kinds(booking) == {"before:24", "before:2"}

    booking_cancel_and_refund(booking_id=booking.pk, by=booking.slot.theme.merchant.owner)
    for callback in callbacks:  # the outbox publishes now: the task re-reads the booking
        callback()

    assert _reminder_mails(mailoutbox) == []
    assert not EmailLog.objects.filter(kind=reminders.REMINDER_EMAIL_KIND).exists()


@pytest.mark.django_db
def test_no_reminder_for_a_cancelled_slot(mailoutbox, django_capture_on_commit_callbacks):
    booking = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)))
    type(booking.slot).objects.filter(pk=booking.slot_id).update(status=SlotStatus.CANCELLED)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due() == 0
    assert _reminder_mails(mailoutbox) == []


@pytest.mark.django_db
def test_no_reminder_when_the_customer_turned_them_off(mailoutbox, django_capture_on_commit_callbacks):
    off = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)), customer=UserFactory(reminder_emails=False))
    later_off = _booking(_slot(starts_in=timedelta(hours=1, minutes=40)))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert reminders.reminders_send_due() == 1
    assert _kinds(off) == set()
    # Turned off after the claim, before the email went: the task reads the setting again.
    type(later_off.customer).objects.filter(pk=later_off.customer_id).update(reminder_emails=False)
    for callback in callbacks:
        callback()

    assert _reminder_mails(mailoutbox) == []


@pytest.mark.django_db
def test_a_theme_without_offsets_sends_no_reminders(mailoutbox, django_capture_on_commit_callbacks):
    _booking(_slot(starts_in=timedelta(hours=1, minutes=30), offsets=[]))
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due() == 0
    assert _reminder_mails(mailoutbox) == []


# --- Which offset, when -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_booking_made_after_the_24h_moment_gets_no_24h_reminder_but_the_2h_one(
    mailoutbox, django_capture_on_commit_callbacks
):
    slot = _slot(starts_in=timedelta(hours=20))
    booking = _booking(slot, confirmed_ago=timedelta(hours=1))  # booked 21 h before the start

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due() == 0
    assert _kinds(booking) == {"before:24"}  # recorded as skipped: it never goes later
    assert _reminder_mails(mailoutbox) == []

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due(now=slot.starts_at - timedelta(hours=2) + timedelta(minutes=1)) == 1
    assert _kinds(booking) == {"before:24", "before:2"}
    assert len(_reminder_mails(mailoutbox)) == 1


@pytest.mark.django_db
def test_a_booking_made_an_hour_before_the_start_gets_no_reminder_at_all(
    mailoutbox, django_capture_on_commit_callbacks
):
    booking = _booking(_slot(starts_in=timedelta(minutes=60)), confirmed_ago=timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due() == 0
    assert _kinds(booking) == {"before:24", "before:2"}
    assert _reminder_mails(mailoutbox) == []


@pytest.mark.django_db
def test_each_offset_is_sent_at_its_moment_once(mailoutbox, django_capture_on_commit_callbacks):
    slot = _slot(starts_in=timedelta(days=3))
    booking = _booking(slot, confirmed_ago=timedelta(days=1))
    moments = [
        (slot.starts_at - timedelta(hours=25), 0, set()),
        (slot.starts_at - timedelta(hours=23), 1, {"before:24"}),
        (slot.starts_at - timedelta(hours=22), 0, {"before:24"}),
        (slot.starts_at - timedelta(hours=1), 1, {"before:24", "before:2"}),
        (slot.starts_at + timedelta(minutes=1), 0, {"before:24", "before:2"}),
    ]
    for now, queued, kinds in moments:
        with django_capture_on_commit_callbacks(execute=True):
            assert reminders.reminders_send_due(now=now) == queued
        assert _kinds(booking) == kinds
    assert len(_reminder_mails(mailoutbox)) == 2


@pytest.mark.django_db
def test_a_rescheduled_booking_gets_reminders_for_its_new_time(django_capture_on_commit_callbacks):
    booking = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)))
    with django_capture_on_commit_callbacks(execute=True):
        reminders.reminders_send_due()
    Booking.objects.filter(pk=booking.pk).update(ics_sequence=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due() == 1
    assert _kinds(booking) == {"before:24", "before:2", "before:24#1", "before:2#1"}
    # A queued reminder of the old time is dropped.
    assert reminders.send_reminder_email(booking_id=booking.pk, kind="before:2") is False


def test_the_sweep_query_is_bounded_and_batched(django_assert_num_queries, db):
    slot = _slot(starts_in=timedelta(hours=1, minutes=30), capacity=10)
    for _ in range(5):
        _booking(slot)
    _booking(_slot(starts_in=timedelta(days=8)))  # beyond every allowed offset: never read
    # Two batches of 3: per batch a savepoint and its release, one select, one insert; one row per queued email.
    with django_assert_num_queries(2 * 4 + 5):
        assert reminders.reminders_send_due(batch_size=3) == 5


# --- The email ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reminder_shows_the_local_time_across_a_dst_change_with_the_ics_and_an_opt_out_link(
    django_capture_on_commit_callbacks,
):
    # Berlin moves to summer time at 01:00 UTC on Sunday 31 March 2030: 09:00 UTC is 11:00 there (UTC+2),
    # while 24 h earlier it was 10:00 local (UTC+1). The email must say 11:00.
    starts_at = datetime(2030, 3, 31, 9, 0, tzinfo=UTC)
    slot = SlotFactory(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=90),
        theme__title="The Clockmaker",
        theme__price=0,
        theme__merchant__name="Zeitraum",
        theme__merchant__timezone="Europe/Berlin",
        theme__venue_street="Torstraße 1",
        theme__venue_postcode="10119",
        theme__venue_city="Berlin",
        theme__venue_country="DE",
    )
    booking = ConfirmedBookingFactory(slot=slot, amount=0, confirmed_at=datetime(2030, 3, 1, tzinfo=UTC))
    now = datetime(2030, 3, 30, 9, 5, tzinfo=UTC)  # 23 h 55 min before, 10:05 local
    with django_capture_on_commit_callbacks(execute=False):
        assert reminders.reminders_send_due(now=now) == 1

    assert reminders.send_reminder_email(booking_id=booking.pk, kind="before:24", now=now) is True

    (message,) = mail.outbox
    assert message.to == [booking.customer.email]
    assert message.subject == "Your booking is tomorrow at 11:00: The Clockmaker"
    assert "Sunday 31 March 2030, 11:00–12:30 (Europe/Berlin)" in message.body
    assert "Torstraße 1" in message.body
    assert "Berlin" in message.body
    assert f"/bookings/#booking-{booking.pk}" in message.body
    assert "/accounts/" in message.body  # where to turn reminders off
    ((html, _mimetype),) = message.alternatives
    assert "11:00" in html
    assert "/accounts/" in html
    ((filename, ics, mimetype),) = message.attachments
    assert (filename, mimetype) == (f"booking-{booking.pk}.ics", "text/calendar")
    (event,) = [c for c in check_calendar(ics).children if c.name == "VEVENT"]
    assert parse_utc(event.one("DTSTART")) == starts_at
    assert event.one("UID") == f"booking-{booking.pk}@bookwise"


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(hours=2), "in 2 hours"),
        (timedelta(minutes=50), "in 1 hour"),
        (timedelta(hours=30), "tomorrow at 17:00"),
        (timedelta(hours=50), "on Monday 1 April at 17:00"),
    ],
)
def test_when_words(left, words):
    starts_at = datetime(2030, 4, 1, 15, 0, tzinfo=UTC)  # 17:00 in Berlin (CEST)
    assert reminders.when_words(starts_at, now=starts_at - left, tz_name="Europe/Berlin") == words


# --- "How was it?" ------------------------------------------------------------------------------


def _attended(*, ended_ago=timedelta(hours=1), status=BookingStatus.ATTENDED, **kwargs):
    starts_at = (timezone.now() - ended_ago - timedelta(minutes=60)).replace(microsecond=0)
    slot = SlotFactory(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=60), theme__price=0)
    return ConfirmedBookingFactory(slot=slot, amount=0, status=status, **kwargs)


def _review_mails(outbox):
    return [m for m in outbox if m.subject.startswith("How was")]


@pytest.mark.django_db
def test_how_was_it_is_sent_once_after_an_attended_booking_with_the_review_link(
    mailoutbox, django_capture_on_commit_callbacks
):
    booking = _attended()
    no_show = _attended(status=BookingStatus.NO_SHOW)
    with django_capture_on_commit_callbacks(execute=True):
        assert review_requests.review_requests_send_due() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert review_requests.review_requests_send_due() == 0

    (message,) = _review_mails(mailoutbox)
    assert message.to == [booking.customer.email]
    assert message.subject == f"How was {booking.slot.theme.title}?"
    assert f"/themes/{booking.slot.theme_id}/review/" in message.body
    assert "/accounts/" in message.body
    assert _kinds(booking) == {"review"}
    assert _kinds(no_show) == set()
    # Sent again by a duplicate delivery: nothing more.
    assert review_requests.send_review_request_email(booking_id=booking.pk) is False


@pytest.mark.django_db
def test_how_was_it_skips_opted_out_reviewed_old_and_not_yet_ended(mailoutbox, django_capture_on_commit_callbacks):
    _attended(customer=UserFactory(reminder_emails=False))
    reviewed = _attended()
    Review.objects.create(author=reviewed.customer, theme=reviewed.slot.theme, rating=5)
    _attended(ended_ago=timedelta(days=8))
    _attended(ended_ago=-timedelta(minutes=30))  # started, not ended
    with django_capture_on_commit_callbacks(execute=True):
        assert review_requests.review_requests_send_due() == 0
    assert _review_mails(mailoutbox) == []


@pytest.mark.django_db
def test_how_was_it_is_asked_once_per_customer_and_theme(mailoutbox, django_capture_on_commit_callbacks):
    first = _attended(ended_ago=timedelta(days=2))
    theme = first.slot.theme
    starts_at = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    second_slot = SlotFactory(theme=theme, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1))
    ConfirmedBookingFactory(slot=second_slot, customer=first.customer, amount=0, status=BookingStatus.ATTENDED)
    with django_capture_on_commit_callbacks(execute=True):
        assert review_requests.review_requests_send_due() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert review_requests.review_requests_send_due() == 0
    assert len(_review_mails(mailoutbox)) == 1


@pytest.mark.django_db
def test_how_was_it_marked_no_show_before_the_email_went_sends_nothing(mailoutbox, django_capture_on_commit_callbacks):
    booking = _attended()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert review_requests.review_requests_send_due() == 1
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.NO_SHOW)
    for callback in callbacks:
        callback()
    assert _review_mails(mailoutbox) == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_review_sweeps_send_once(mailoutbox):
    bookings = [_attended() for _ in range(4)]
    results = run_together([review_requests.review_requests_send_due] * 2)
    assert sum(results) == 4
    assert sorted(m.to[0] for m in _review_mails(mailoutbox)) == sorted(b.customer.email for b in bookings)


# --- Offsets on the theme -----------------------------------------------------------------------


@pytest.mark.parametrize("offsets", [[0], [169], [24, 24], [48, 24, 2, 1], "24", [2.5], [True], {"hours": 2}, None])
def test_theme_api_refuses_bad_reminder_offsets(merchant, offsets):
    theme = ThemeFactory(merchant=merchant)
    response = bearer_client(merchant.owner).patch(
        f"/api/v1/themes/{theme.pk}/", {"reminder_offsets_hours": offsets}, format="json"
    )
    assert response.status_code == 400, response.content
    theme.refresh_from_db()
    assert theme.reminder_offsets_hours == [24, 2]


@pytest.mark.parametrize(("offsets", "stored"), [([2, 48], [48, 2]), ([], []), ([168, 1, 12], [168, 12, 1])])
def test_theme_api_sets_reminder_offsets(merchant, offsets, stored):
    theme = ThemeFactory(merchant=merchant)
    client = bearer_client(merchant.owner)
    response = client.patch(f"/api/v1/themes/{theme.pk}/", {"reminder_offsets_hours": offsets}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["reminder_offsets_hours"] == stored
    assert client.get(f"/api/v1/themes/{theme.pk}/").json()["reminder_offsets_hours"] == stored


def test_theme_api_new_theme_has_the_default_offsets(merchant):
    body = {"title": "Vault", "duration_minutes": 60, "price": 1000}
    response = bearer_client(merchant.owner).post("/api/v1/themes/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["reminder_offsets_hours"] == [24, 2]


def test_merchant_theme_form_edits_offsets_as_text(merchant, client):
    from merchants.forms import ThemeForm

    theme = ThemeFactory(merchant=merchant, currency="eur")
    initial = ThemeForm.initial_from(theme)
    assert initial["reminder_offsets_hours"] == "24, 2"
    data = {k: v for k, v in initial.items() if v is not None}
    client.force_login(merchant.owner)
    url = f"/merchant/themes/{theme.pk}/edit/"
    assert client.get(url).status_code == 200

    response = client.post(url, {**data, "reminder_offsets_hours": "3, 48"})
    assert response.status_code == 302, response.content.decode()[:2000]
    theme.refresh_from_db()
    assert theme.reminder_offsets_hours == [48, 3]

    response = client.post(url, {**data, "reminder_offsets_hours": "2, two"})
    assert response.status_code == 400
    assert "whole numbers of hours" in response.content.decode()
    response = client.post(url, {**data, "reminder_offsets_hours": "0"})
    assert response.status_code == 400
    assert "between 1 and 168" in response.content.decode()

    response = client.post(url, {**data, "reminder_offsets_hours": ""})
    assert response.status_code == 302
    theme.refresh_from_db()
    assert theme.reminder_offsets_hours == []


def test_admin_theme_form_refuses_bad_offsets(db):
    from catalog.admin import ThemeAdminForm

    theme = ThemeFactory()
    form = ThemeAdminForm(instance=theme)
    form.cleaned_data = {"reminder_offsets_hours": [2, 2]}
    with pytest.raises(Exception, match="different whole numbers"):
        form.clean_reminder_offsets_hours()
    form.cleaned_data = {"reminder_offsets_hours": [2, 24]}
    assert form.clean_reminder_offsets_hours() == [24, 2]


# --- The customer's account page and API -------------------------------------------------------


def test_account_page_turns_reminders_off_and_on(customer, client):
    client.force_login(customer)
    page = client.get("/accounts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert customer.email in html
    assert "/accounts/password/change/" in html
    assert 'name="reminder_emails"' in html
    assert "checked" in html
    assert 'href="/accounts/"' in html  # the nav links to it

    response = client.post("/accounts/", {})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.reminder_emails is False
    assert "checked" not in client.get("/accounts/").content.decode().split('name="reminder_emails"')[1][:80]

    client.post("/accounts/", {"reminder_emails": "on"})
    customer.refresh_from_db()
    assert customer.reminder_emails is True


def test_account_page_needs_a_login(client, db):
    response = client.get("/accounts/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_me_api_reads_and_writes_reminder_emails(customer):
    client = bearer_client(customer)
    assert client.get("/api/v1/users/me/").json()["reminder_emails"] is True
    response = client.patch("/api/v1/users/me/", {"reminder_emails": False}, format="json")
    assert response.status_code == 200
    assert response.json()["reminder_emails"] is False
    customer.refresh_from_db()
    assert customer.reminder_emails is False
    assert client.patch("/api/v1/users/me/", {"reminder_emails": "maybe"}, format="json").status_code == 400


def test_admin_shows_the_claimed_reminders_and_the_theme_offsets(admin_client, django_capture_on_commit_callbacks):
    booking = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)))
    with django_capture_on_commit_callbacks(execute=False):
        reminders.reminders_send_due()
    page = admin_client.get(f"/admin/bookings/booking/{booking.pk}/change/")
    assert page.status_code == 200
    assert "before:2" in page.content.decode()
    page = admin_client.get(f"/admin/catalog/theme/{booking.slot.theme_id}/change/")
    assert page.status_code == 200
    assert 'name="reminder_offsets_hours"' in page.content.decode()


@pytest.mark.parametrize("offsets", [["2", 2.5, {"h": 1}, None, 2], {"hours": 2}, "2", 2])
@pytest.mark.django_db
def test_offsets_stored_wrongly_by_hand_do_not_break_the_sweep(offsets, django_capture_on_commit_callbacks):
    booking = _booking(_slot(starts_in=timedelta(hours=1, minutes=30)))
    type(booking.slot.theme).objects.filter(pk=booking.slot.theme_id).update(reminder_offsets_hours=offsets)
    with django_capture_on_commit_callbacks(execute=False):
        queued = reminders.reminders_send_due()
    assert queued == (1 if isinstance(offsets, list) else 0)
