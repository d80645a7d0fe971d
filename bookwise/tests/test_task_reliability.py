"""Worker killed mid-task: every task is acked late, handed back when its worker dies, and idempotent."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts import tasks as account_tasks
from accounts.tests.factories import UserFactory
from bookings import tasks as booking_tasks
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.celery import app
from bookwise.models import EmailKind, EmailLog
from catalog.tests.factories import SlotFactory
from checkout import tasks as checkout_tasks
from checkout.services import booking_cancel_and_refund
from merchants import tasks as merchant_tasks
from merchants.tests.factories import MerchantFactory

OUR_APPS = ("accounts.", "merchants.", "catalog.", "bookings.", "reviews.", "payments.", "checkout.", "bookwise.tasks.")


def our_tasks() -> dict:
    app.autodiscover_tasks(force=True)  # the tasks modules a worker imports at start
    return {name: task for name, task in app.tasks.items() if name.startswith(OUR_APPS)}


def test_every_task_is_acked_late_and_rejected_when_its_worker_is_lost():
    tasks = our_tasks()
    assert {
        "payments.tasks.process_refund",
        "checkout.tasks.sync_payment_intent",
        "checkout.tasks.reconcile_pending_payments",
        "bookings.tasks.send_booking_confirmed",
        "checkout.tasks.send_booking_cancelled",
        "bookings.tasks.expire_due_bookings",
        "accounts.tasks.send_password_reset",
        "merchants.tasks.send_merchant_approved",
        "bookwise.tasks.outbox_sweep",
    } <= set(tasks)
    for name, task in tasks.items():
        assert task.acks_late, name
        assert task.reject_on_worker_lost, name


def test_the_visibility_timeout_exceeds_every_retry_delay():
    """A task waiting for its retry (an ETA message held unacked) must not be handed to a second worker."""
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for name, task in our_tasks().items():
        longest = max(
            getattr(task, "retry_backoff_max", 0) if getattr(task, "retry_backoff", False) else 0,
            task.default_retry_delay or 0,
        )
        assert longest < visibility, name
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["options"]["expires"] < visibility


# --- Each body run twice: one effect ------------------------------------------------------------------


@pytest.mark.django_db
def test_booking_emails_run_twice_send_once(mailoutbox):
    booking = ConfirmedBookingFactory(slot=SlotFactory(theme__price=0))
    for _ in range(2):
        booking_tasks.send_booking_confirmed.delay(booking.pk)
    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)
    for _ in range(2):
        checkout_tasks.send_booking_cancelled.delay(booking.pk)

    assert len(mailoutbox) == 2
    kinds = sorted(EmailLog.objects.filter(key=str(booking.pk)).values_list("kind", flat=True))
    assert kinds == [EmailKind.BOOKING_CANCELLED, EmailKind.BOOKING_CONFIRMED]


@pytest.mark.django_db
def test_merchant_approved_email_run_twice_sends_once(mailoutbox):
    merchant = MerchantFactory(approved_at=timezone.now())
    for _ in range(2):
        merchant_tasks.send_merchant_approved.delay(merchant.pk)
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_password_reset_email_run_twice_sends_once(mailoutbox):
    user = UserFactory()
    request_id = uuid.uuid4().hex
    for _ in range(2):
        account_tasks.send_password_reset.delay(user.pk, request_id)
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_expiring_holds_twice_expires_each_once():
    booking = BookingFactory(expires_at=timezone.now() - timedelta(minutes=1))
    assert booking_tasks.expire_due_bookings.delay().get() == 1
    assert booking_tasks.expire_due_bookings.delay().get() == 0
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert booking.status_changes.count() == 1
