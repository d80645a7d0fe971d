"""Merchants told about their bookings: one email per event, an hourly digest, tomorrow's schedule."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings import merchant_notifications, services, tasks
from bookings.models import BookingStatus, MerchantBookingEvent, MerchantBookingNotice
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.models import EmailKind, EmailLog
from catalog.tests.factories import SlotFactory
from checkout.services import booking_cancel_and_refund, slot_cancel_and_refund
from merchants.models import BookingEmails
from payments.models import PaymentStatus
from payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def make_slot(*, mode=BookingEmails.EACH, schedule=False, price=2500, starts_at=None, **merchant):
    starts_at = starts_at or timezone.now() + timedelta(days=3)
    return SlotFactory(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=60),
        capacity=10,
        theme__title="The Vault",
        theme__price=price,
        theme__currency="eur",
        theme__merchant__name="Puzzle Works",
        theme__merchant__booking_emails=mode,
        theme__merchant__daily_schedule_email=schedule,
        **{f"theme__merchant__{k}": v for k, v in merchant.items()},
    )


def to_merchant(mailoutbox, merchant):
    return [m for m in mailoutbox if m.to == [merchant.owner.email]]


def html_of(message) -> str:
    ((html, _),) = message.alternatives
    return html


def join_free(slot, name="Ada Lovelace", party_size=2):
    return services.booking_join(slot_id=slot.pk, customer=UserFactory(full_name=name), party_size=party_size)


def join_and_pay(slot, name="Ada Lovelace", party_size=2):
    booking = join_free(slot, name=name, party_size=party_size)
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
    services.booking_confirm_payment(booking_id=booking.pk)
    return booking


@pytest.fixture
def no_stripe_refunds(monkeypatch):
    from payments import tasks as payment_tasks

    monkeypatch.setattr(payment_tasks.process_refund, "run", lambda *a, **k: None)


# --- each ---------------------------------------------------------------------------------------


def test_each_mode_emails_the_merchant_once_per_paid_confirmation_after_commit(
    mailoutbox, django_capture_on_commit_callbacks
):
    slot = make_slot()
    merchant = slot.theme.merchant
    with django_capture_on_commit_callbacks(execute=True):
        booking = join_free(slot)
    assert to_merchant(mailoutbox, merchant) == []  # an unpaid hold is no booking yet

    with django_capture_on_commit_callbacks(execute=True):
        PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
        services.booking_confirm_payment(booking_id=booking.pk)
        services.booking_confirm_payment(booking_id=booking.pk)  # a duplicate webhook

    (message,) = to_merchant(mailoutbox, merchant)
    assert message.subject.startswith("New booking: The Vault, ")
    for body in (message.body, html_of(message)):
        assert "Ada Lovelace" in body
        assert "2 places" in body
        assert "€50.00 paid" in body
        assert f"/merchant/slots/{slot.pk}/participants/" in body
    notice = MerchantBookingNotice.objects.get(booking=booking)
    assert notice.event == MerchantBookingEvent.CONFIRMED
    assert notice.sent_at is not None
    # The task run again (a redelivery) sends nothing more.
    assert tasks.send_merchant_booking_notice.delay(notice.pk).get() is False
    assert len(to_merchant(mailoutbox, merchant)) == 1


def test_each_mode_emails_a_free_booking_and_the_customers_cancellation(mailoutbox, django_capture_on_commit_callbacks):
    slot = make_slot(price=0)
    merchant = slot.theme.merchant
    with django_capture_on_commit_callbacks(execute=True):
        booking = join_free(slot, name="Grace Hopper", party_size=3)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    confirmed, cancelled = to_merchant(mailoutbox, merchant)
    assert confirmed.subject.startswith("New booking: The Vault")
    assert "Free" in confirmed.body
    assert cancelled.subject.startswith("Booking cancelled: The Vault")
    assert "Cancelled #" in cancelled.body
    assert "Grace Hopper" in cancelled.body
    assert "3 places" in cancelled.body


def test_a_paid_cancellation_says_refunded(mailoutbox, django_capture_on_commit_callbacks, no_stripe_refunds):
    slot = make_slot()
    booking = join_and_pay(slot)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    (message,) = [m for m in to_merchant(mailoutbox, slot.theme.merchant) if "cancelled" in m.subject]
    assert "€50.00 paid (refunded)" in message.body


def test_the_merchants_own_cancellations_are_not_reported_to_them(
    mailoutbox, django_capture_on_commit_callbacks, no_stripe_refunds
):
    slot = make_slot()
    merchant = slot.theme.merchant
    one = ConfirmedBookingFactory(slot=slot, amount=0)
    two = ConfirmedBookingFactory(slot=make_slot_for(merchant), amount=0)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel_and_refund(booking_id=one.pk, by=merchant.owner)
        slot_cancel_and_refund(slot=two.slot, by=merchant.owner)

    assert MerchantBookingNotice.objects.count() == 0
    assert to_merchant(mailoutbox, merchant) == []


def make_slot_for(merchant):
    return SlotFactory(theme__merchant=merchant, starts_at=timezone.now() + timedelta(days=5), capacity=4)


def test_off_mode_sends_nothing_and_writes_no_notice(mailoutbox, django_capture_on_commit_callbacks):
    slot = make_slot(mode=BookingEmails.OFF, price=0)
    with django_capture_on_commit_callbacks(execute=True):
        booking = join_free(slot)
        booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    merchant_notifications.send_booking_digests()

    assert MerchantBookingNotice.objects.count() == 0
    assert to_merchant(mailoutbox, slot.theme.merchant) == []
    assert not EmailLog.objects.filter(kind__startswith="merchant_").exists()


# --- hourly digest ------------------------------------------------------------------------------


def test_hourly_mode_sends_one_digest_with_every_event_then_nothing_more(
    mailoutbox, django_capture_on_commit_callbacks
):
    slot = make_slot(mode=BookingEmails.HOURLY, price=0)
    merchant = slot.theme.merchant
    with django_capture_on_commit_callbacks(execute=True):
        first = join_free(slot, name="Ada Lovelace")
        join_free(slot, name="Grace Hopper", party_size=1)
        booking_cancel_and_refund(booking_id=first.pk, by=first.customer)
    assert to_merchant(mailoutbox, merchant) == []  # nothing until the digest runs
    assert MerchantBookingNotice.objects.filter(digest=True, sent_at__isnull=True).count() == 3

    assert tasks.send_merchant_booking_digests.delay().get() == 1
    (digest,) = to_merchant(mailoutbox, merchant)
    assert digest.subject == "Puzzle Works: 2 new bookings, 1 cancellation"
    for body in (digest.body, html_of(digest)):
        assert body.count("Ada Lovelace") == 2
        assert "Grace Hopper" in body

    # A rerun (or the next hour with nothing new) sends nothing; each event was reported once.
    assert merchant_notifications.send_booking_digests() == 0
    assert len(to_merchant(mailoutbox, merchant)) == 1
    assert not MerchantBookingNotice.objects.filter(sent_at__isnull=True).exists()

    # A later event goes into the next digest, alone.
    with django_capture_on_commit_callbacks(execute=True):
        join_free(slot, name="Katherine Johnson")
    assert merchant_notifications.send_booking_digests() == 1
    later = to_merchant(mailoutbox, merchant)[-1]
    assert later.subject == "Puzzle Works: 1 new booking"
    assert "Katherine Johnson" in later.body
    assert "Ada Lovelace" not in later.body


def test_a_digest_whose_send_fails_keeps_its_events_for_the_next_run(mailoutbox, monkeypatch):
    slot = make_slot(mode=BookingEmails.HOURLY, price=0)
    join_free(slot)

    def refuse(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    assert merchant_notifications.send_booking_digests() == 0
    assert MerchantBookingNotice.objects.filter(sent_at__isnull=True).count() == 1
    monkeypatch.undo()
    assert merchant_notifications.send_booking_digests() == 1
    assert len(to_merchant(mailoutbox, slot.theme.merchant)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_digest_runs_send_each_event_once(mailoutbox, monkeypatch):
    slot = make_slot(mode=BookingEmails.HOURLY, price=0)
    for name in ("Ada", "Grace", "Katherine"):
        join_free(slot, name=name, party_size=1)

    # Both runs pass the "who has pending notices" read before either claims; the first to claim
    # is held inside its send until the second has tried, so they truly overlap.
    barrier = threading.Barrier(2, timeout=10)
    sending = threading.Event()
    original = merchant_notifications.send_email_once

    def slow_send(**kwargs):
        sending.set()
        result = original(**kwargs)
        barrier.wait()
        return result

    monkeypatch.setattr(merchant_notifications, "send_email_once", slow_send)
    results = []

    def run(wait_for_other: bool):
        try:
            if wait_for_other:
                sending.wait(10)
            results.append(merchant_notifications.send_booking_digests())
            if wait_for_other:
                barrier.wait()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(flag,)) for flag in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(results) == [0, 1]
    (digest,) = to_merchant(mailoutbox, slot.theme.merchant)
    assert all(name in digest.body for name in ("Ada", "Grace", "Katherine"))
    assert not MerchantBookingNotice.objects.filter(sent_at__isnull=True).exists()
    assert EmailLog.objects.filter(kind=EmailKind.MERCHANT_BOOKING_DIGEST).count() == 1


def test_a_merchant_who_switched_to_off_gets_no_digest_of_waiting_events(mailoutbox):
    slot = make_slot(mode=BookingEmails.HOURLY, price=0)
    join_free(slot)
    merchant = slot.theme.merchant
    merchant.booking_emails = BookingEmails.OFF
    merchant.save()

    assert merchant_notifications.send_booking_digests() == 0
    assert to_merchant(mailoutbox, merchant) == []
    assert not MerchantBookingNotice.objects.filter(sent_at__isnull=True).exists()


# --- Tomorrow's schedule ------------------------------------------------------------------------

# 2030-06-14 16:30 UTC is 18:30 in Berlin (CEST, UTC+2) and 12:30 in New York.
EVENING_IN_BERLIN = datetime(2030, 6, 14, 16, 30, tzinfo=UTC)


def schedule_merchant_slots():
    # Tomorrow in Berlin is Saturday 15 June; 10:00 local = 08:00 UTC.
    tomorrow_10 = datetime(2030, 6, 15, 8, 0, tzinfo=UTC)
    slot = make_slot(
        mode=BookingEmails.OFF, schedule=True, starts_at=tomorrow_10, timezone="Europe/Berlin", city="Berlin"
    )
    merchant = slot.theme.merchant
    ConfirmedBookingFactory(slot=slot, party_size=2, customer=UserFactory(full_name="Ada Lovelace"))
    BookingFactory(
        slot=slot,
        party_size=3,
        customer=UserFactory(full_name="Grace Hopper"),
        expires_at=EVENING_IN_BERLIN + timedelta(minutes=10),
    )
    ConfirmedBookingFactory(
        slot=slot, customer=UserFactory(full_name="Gone Person"), status=BookingStatus.CANCELLED, confirmed_at=None
    )
    # 23:30 local on Saturday (21:30 UTC) is still tomorrow; 00:30 local on Sunday is not.
    for hour in (21, 22):
        starts = datetime(2030, 6, 15, hour, 30, tzinfo=UTC)
        SlotFactory(theme=slot.theme, starts_at=starts, ends_at=starts + timedelta(minutes=45), capacity=4)
    return merchant, slot


def test_daily_schedule_lists_tomorrows_local_slots_with_who_is_coming_once_per_day(mailoutbox):
    merchant, _ = schedule_merchant_slots()

    # 17:30 in Berlin: too early.
    assert merchant_notifications.send_daily_schedules(now=EVENING_IN_BERLIN - timedelta(hours=1)) == 0
    assert merchant_notifications.send_daily_schedules(now=EVENING_IN_BERLIN) == 1
    (message,) = to_merchant(mailoutbox, merchant)
    assert message.subject == "Tomorrow at Puzzle Works: 2 slots, 5 people"
    for body in (message.body, html_of(message)):
        assert "Saturday 15 June" in body
        assert "10:00–11:00 (Europe/Berlin)" in body
        assert "23:30" in body
        assert "00:30" not in body
        assert "Ada Lovelace" in body
        assert "Grace Hopper" in body
        assert "Gone Person" not in body
    assert "paid €50.00" in message.body
    assert "held, not paid yet" in message.body

    # Later runs the same evening (hourly beat, a second beat instance) send nothing more.
    assert merchant_notifications.send_daily_schedules(now=EVENING_IN_BERLIN + timedelta(hours=1)) == 0
    assert EmailLog.objects.filter(kind=EmailKind.MERCHANT_SCHEDULE, key=f"{merchant.pk}:2030-06-15").count() == 1


def test_daily_schedule_follows_each_merchants_timezone_and_setting(mailoutbox):
    merchant, _ = schedule_merchant_slots()
    tomorrow_ny = datetime(2030, 6, 15, 14, 0, tzinfo=UTC)  # 10:00 in New York
    ny_slot = make_slot(mode=BookingEmails.OFF, schedule=True, starts_at=tomorrow_ny, timezone="America/New_York")
    quiet_slot = make_slot(mode=BookingEmails.OFF, schedule=False, starts_at=tomorrow_ny)

    # 18:30 in Berlin is 12:30 in New York: only Berlin's merchant is due.
    assert merchant_notifications.send_daily_schedules(now=EVENING_IN_BERLIN) == 1
    assert len(to_merchant(mailoutbox, merchant)) == 1
    assert to_merchant(mailoutbox, ny_slot.theme.merchant) == []
    # 18:30 in New York: now its merchant; the one who turned the email off never gets it.
    assert merchant_notifications.send_daily_schedules(now=EVENING_IN_BERLIN + timedelta(hours=6)) == 1
    assert len(to_merchant(mailoutbox, ny_slot.theme.merchant)) == 1
    assert to_merchant(mailoutbox, quiet_slot.theme.merchant) == []


def test_no_schedule_email_when_tomorrow_has_no_slots(mailoutbox):
    slot = make_slot(mode=BookingEmails.OFF, schedule=True, starts_at=EVENING_IN_BERLIN + timedelta(days=3))
    assert merchant_notifications.send_daily_schedules(now=EVENING_IN_BERLIN + timedelta(hours=6)) == 0
    assert to_merchant(mailoutbox, slot.theme.merchant) == []
