"""Booking emails: sent once after commit, to the customer, text + HTML, wording by who cancelled."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings import services, tasks
from bookings.models import BookingStatus
from bookings.notifications import send_booking_confirmed_email
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookings.tests.ics_check import check_calendar, parse_utc, unescape_text
from bookwise.models import EmailKind, EmailLog
from catalog.tests.factories import SlotFactory
from checkout import tasks as checkout_tasks
from checkout.services import booking_cancel_and_refund, slot_cancel_and_refund
from payments.models import PaymentStatus
from payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

# 22:30 UTC on 4 July 2030 is 18:30 in New York (EDT, UTC-4).
STARTS_AT = datetime(2030, 7, 4, 22, 30, tzinfo=UTC)


@pytest.fixture
def slot():
    return SlotFactory(
        starts_at=STARTS_AT,
        ends_at=STARTS_AT + timedelta(minutes=90),
        capacity=10,
        theme__title="The Lighthouse Keeper's Secret",
        theme__price=2500,
        theme__currency="usd",
        theme__merchant__name="Puzzle Works",
        theme__merchant__city="New York",
        theme__merchant__timezone="America/New_York",
    )


@pytest.fixture
def no_stripe_refunds(monkeypatch):
    """Refunds are recorded by the cancel (what the email reports); sending them to Stripe is payments' job."""
    from payments import tasks as payment_tasks

    sent = []
    # The task's body: the refund still goes through the outbox and Celery, only Stripe is left out.
    monkeypatch.setattr(payment_tasks.process_refund, "run", sent.append)
    return sent


def html_of(message) -> str:
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    return html


def paid_pending(slot, party_size=2):
    return services.booking_join(slot_id=slot.pk, customer=UserFactory(full_name="Ada Lovelace"), party_size=party_size)


def confirm_paid(booking):
    """Mark the booking paid (a succeeded payment, as the webhook would) and confirm it."""
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
    return services.booking_confirm_payment(booking_id=booking.pk)


# --- Booking confirmed --------------------------------------------------------------------------------


def test_confirmation_is_sent_once_after_commit_with_text_html_and_the_slot_in_the_merchants_timezone(
    slot, mailoutbox, django_capture_on_commit_callbacks
):
    booking = paid_pending(slot)
    with django_capture_on_commit_callbacks(execute=True):
        confirm_paid(booking)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [booking.customer.email]
    assert message.subject == "Booking confirmed: The Lighthouse Keeper's Secret"
    when = "Thursday 4 July 2030, 18:30–20:00 (America/New_York)"
    for body in (message.body, html_of(message)):
        assert when in body
        assert "Hello Ada Lovelace" in body
        assert f"#{booking.pk}" in body
        assert "$50.00" in body
        assert "Puzzle Works, New York" in body
    assert "The Lighthouse Keeper&#x27;s Secret" in html_of(message)  # escaped in HTML, plain in text
    assert "The Lighthouse Keeper's Secret" in message.body


def test_confirmation_carries_an_ics_that_parses_with_the_slots_utc_times(slot, mailoutbox):
    booking = paid_pending(slot)
    confirm_paid(booking)
    tasks.send_booking_confirmed.delay(booking.pk)

    ((filename, content, mimetype),) = mailoutbox[0].attachments
    assert filename == f"booking-{booking.pk}.ics"
    assert mimetype == "text/calendar"
    calendar = check_calendar(content)
    assert calendar.one("METHOD") == "PUBLISH"
    (event,) = calendar.children
    assert event.one("UID") == f"booking-{booking.pk}@bookwise"
    assert parse_utc(event.one("DTSTART")) == STARTS_AT
    assert parse_utc(event.one("DTEND")) == STARTS_AT + timedelta(minutes=90)
    assert event.one("DTSTART") == "20300704T223000Z"
    assert unescape_text(event.one("SUMMARY")) == "The Lighthouse Keeper's Secret"
    assert unescape_text(event.one("LOCATION")) == "Puzzle Works, New York"
    assert f"booking #{booking.pk}" in unescape_text(event.one("DESCRIPTION"))

    # On the wire: a text/calendar part with the file name.
    parts = [part for part in mailoutbox[0].message().walk() if part.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    assert parts[0].get_filename() == f"booking-{booking.pk}.ics"


def test_confirmation_ics_folds_a_long_unicode_title(mailoutbox):
    title = "Évasion nocturne 🔐 — " * 8
    booking = ConfirmedBookingFactory(slot=SlotFactory(theme__title=title))
    tasks.send_booking_confirmed.delay(booking.pk)

    ((_, content, _),) = mailoutbox[0].attachments
    (event,) = check_calendar(content).children
    assert unescape_text(event.one("SUMMARY")) == title
    assert "\r\n " in content


def test_confirmation_task_run_twice_sends_one_email(slot, mailoutbox):
    booking = ConfirmedBookingFactory(slot=slot)

    assert tasks.send_booking_confirmed.delay(booking.pk).get() is True
    assert tasks.send_booking_confirmed.delay(booking.pk).get() is False

    assert len(mailoutbox) == 1
    assert EmailLog.objects.filter(kind=EmailKind.BOOKING_CONFIRMED, key=str(booking.pk)).count() == 1


def test_a_duplicate_payment_confirmation_sends_no_second_email(slot, mailoutbox, django_capture_on_commit_callbacks):
    booking = paid_pending(slot)
    with django_capture_on_commit_callbacks(execute=True):
        confirm_paid(booking)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.booking_confirm_payment(booking_id=booking.pk) == services.ConfirmOutcome.ALREADY_CONFIRMED

    assert callbacks == []
    assert len(mailoutbox) == 1


def test_free_booking_is_confirmed_by_email_at_join(mailoutbox, django_capture_on_commit_callbacks):
    slot = SlotFactory(theme__price=0)
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=3)

    assert [m.to for m in mailoutbox] == [[booking.customer.email]]
    assert "Free" in mailoutbox[0].body
    assert "3 places" in mailoutbox[0].body


def test_no_confirmation_for_a_booking_cancelled_before_the_task_ran(mailoutbox):
    booking = BookingFactory(status=BookingStatus.CANCELLED, expires_at=None)
    assert tasks.send_booking_confirmed.delay(booking.pk).get() is False
    assert mailoutbox == []


def test_no_email_for_a_booking_that_does_not_exist(mailoutbox):
    assert tasks.send_booking_confirmed.delay(10**12).get() is False
    assert checkout_tasks.send_booking_cancelled.delay(10**12).get() is False
    assert mailoutbox == []


def test_a_failed_send_leaves_no_log_row_so_the_retry_sends(slot, mailoutbox, monkeypatch):
    booking = ConfirmedBookingFactory(slot=slot)
    real_send = EmailMultiAlternatives.send

    def smtp_down(self, fail_silently=False):
        raise ConnectionRefusedError("SMTP is down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", smtp_down)
    with pytest.raises(ConnectionRefusedError):
        send_booking_confirmed_email(booking_id=booking.pk)
    assert not EmailLog.objects.exists()

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    tasks.send_booking_confirmed.delay(booking.pk)
    assert len(mailoutbox) == 1


# --- Booking cancelled -------------------------------------------------------------------------------


def test_customer_cancel_of_a_paid_booking_says_a_refund_was_issued(
    slot, mailoutbox, django_capture_on_commit_callbacks, no_stripe_refunds
):
    booking = paid_pending(slot)
    confirm_paid(booking)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    assert len(no_stripe_refunds) == 1
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [booking.customer.email]
    assert message.subject == "Booking cancelled: The Lighthouse Keeper's Secret"
    for body in (message.body, html_of(message)):
        assert "As you asked, your booking is cancelled." in body
        assert "A full refund of $50.00 has been issued" in body
        assert "Thursday 4 July 2030, 18:30–20:00 (America/New_York)" in body
        assert "Puzzle Works has cancelled" not in body
    assert message.attachments == []


def test_customer_cancel_of_an_unpaid_hold_says_nothing_was_charged(
    slot, mailoutbox, django_capture_on_commit_callbacks
):
    booking = paid_pending(slot)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    assert len(mailoutbox) == 1
    assert "No payment was taken for this booking, so there is nothing to refund." in mailoutbox[0].body
    assert "refund of" not in mailoutbox[0].body


def test_merchant_cancel_of_one_booking_uses_the_merchants_wording(
    slot, mailoutbox, django_capture_on_commit_callbacks, no_stripe_refunds
):
    booking = paid_pending(slot)
    confirm_paid(booking)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=slot.theme.merchant.owner)

    message = mailoutbox[0]
    assert message.subject == "Puzzle Works cancelled your booking: The Lighthouse Keeper's Secret"
    assert "We are sorry: Puzzle Works has cancelled your booking." in message.body
    assert "A full refund of $50.00 has been issued" in message.body
    assert "Find another time:" in message.body


def test_admin_cancel_uses_the_platforms_wording(slot, mailoutbox, django_capture_on_commit_callbacks):
    booking = ConfirmedBookingFactory(slot=slot, amount=0)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=AdminFactory())

    message = mailoutbox[0]
    assert message.subject == "Your booking was cancelled: The Lighthouse Keeper's Secret"
    assert "the BookWise team has cancelled your booking" in message.body
    assert "This booking was free: there is nothing to refund." in message.body


def test_cancel_task_run_twice_sends_one_email(slot, mailoutbox, django_capture_on_commit_callbacks):
    booking = paid_pending(slot)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    checkout_tasks.send_booking_cancelled.delay(booking.pk)
    checkout_tasks.send_booking_cancelled.delay(booking.pk)

    assert len(mailoutbox) == 1


def test_no_cancel_email_for_a_booking_that_is_not_cancelled(slot, mailoutbox):
    booking = ConfirmedBookingFactory(slot=slot)
    assert checkout_tasks.send_booking_cancelled.delay(booking.pk).get() is False
    assert mailoutbox == []


# --- Slot cancelled by the merchant ------------------------------------------------------------------


def test_slot_cancel_emails_each_affected_customer_once_with_the_merchants_slot_wording(
    slot, mailoutbox, django_capture_on_commit_callbacks, no_stripe_refunds
):
    paid = paid_pending(slot)
    confirm_paid(paid)
    unpaid = services.booking_join(slot_id=slot.pk, customer=UserFactory(), party_size=1)
    confirmed_unpaid = ConfirmedBookingFactory(slot=slot)  # e.g. paid elsewhere: no payment row
    already_cancelled = BookingFactory(slot=slot, status=BookingStatus.CANCELLED, expires_at=None)
    other_slot_booking = ConfirmedBookingFactory()

    with django_capture_on_commit_callbacks(execute=True):
        _, count = slot_cancel_and_refund(slot=slot, by=slot.theme.merchant.owner)
    # A duplicated delivery of every email task changes nothing.
    for booking in (paid, unpaid, confirmed_unpaid):
        checkout_tasks.send_booking_cancelled.delay(booking.pk)

    assert count == 3
    assert sorted(m.to[0] for m in mailoutbox) == sorted(b.customer.email for b in (paid, unpaid, confirmed_unpaid))
    assert already_cancelled.customer.email not in {m.to[0] for m in mailoutbox}
    assert other_slot_booking.customer.email not in {m.to[0] for m in mailoutbox}
    by_recipient = {m.to[0]: m for m in mailoutbox}
    for message in mailoutbox:
        assert message.subject == "Session cancelled by Puzzle Works: The Lighthouse Keeper's Secret"
        assert "Puzzle Works has cancelled the session you booked" in message.body
        assert "Puzzle Works has cancelled the session you booked" in html_of(message)
        assert "As you asked" not in message.body
    assert "A full refund of $50.00 has been issued" in by_recipient[paid.customer.email].body
    assert "No payment was taken" in by_recipient[unpaid.customer.email].body
    assert len(no_stripe_refunds) == 1
