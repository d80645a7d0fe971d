"""Transactional outbox: after-commit work survives a broker outage, is published once per claim, never lost."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import timedelta

import pytest
from celery import shared_task
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_join
from bookings.tests.factories import ConfirmedBookingFactory
from bookwise import outbox
from bookwise.models import OutboxMessage, OutboxState
from bookwise.tasks import outbox_sweep
from bookwise.tests.brokers import REFUSED_URL, HungServer, broker_at, drain_memory_queue
from catalog.tests.factories import SlotFactory
from checkout.services import booking_cancel_and_refund
from merchants.models import MerchantStatus
from merchants.services import merchant_approve
from merchants.tests.factories import PendingMerchantFactory
from payments.models import PaymentStatus, Refund
from payments.tests.factories import PaymentFactory
from tests.concurrency import run_together

CALLS: list = []
FAIL_FIRST: set = set()
CALLS_LOCK = threading.Lock()


@shared_task(name="bookwise.tests.record_call")
def record_call(key) -> None:
    """A test task: records its argument; raises the first time for keys in FAIL_FIRST."""
    with CALLS_LOCK:
        CALLS.append(key)
        if key in FAIL_FIRST:
            FAIL_FIRST.discard(key)
            raise RuntimeError(f"task failed for {key}")


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()
    FAIL_FIRST.clear()
    drain_memory_queue()
    yield
    drain_memory_queue()


class Rollback(Exception):
    pass


def run_then_roll_back(action) -> None:
    """Run `action` in a transaction that a later step then rolls back."""
    with contextlib.suppress(Rollback), transaction.atomic():
        action()
        raise Rollback


def later(minutes: int = 5):
    """A sweep's `now` past every backoff (the longest is outbox.RETRY_MAX_SECONDS)."""
    return timezone.now() + timedelta(minutes=minutes)


# --- One transaction: the change and its outbox row ---------------------------------------------


def approve(merchant):
    merchant_approve(merchant=merchant, by=AdminFactory())


@pytest.mark.django_db
def test_the_change_and_its_outbox_row_commit_together():
    merchant = PendingMerchantFactory()

    with transaction.atomic():
        approve(merchant)

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPROVED
    (queued,) = OutboxMessage.objects.all()
    assert (queued.task_name, queued.args) == ("merchants.tasks.send_merchant_approved", [merchant.pk])


@pytest.mark.django_db
def test_the_change_and_its_outbox_row_roll_back_together():
    merchant = PendingMerchantFactory()

    run_then_roll_back(lambda: approve(merchant))

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.PENDING
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_cancel_with_refund_queues_the_refund_and_the_email_in_its_own_transaction():
    booking = ConfirmedBookingFactory(slot=SlotFactory())
    PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())

    run_then_roll_back(lambda: booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer))
    assert not OutboxMessage.objects.exists()
    assert not Refund.objects.exists()

    booking_cancel_and_refund(booking_id=booking.pk, by=booking.customer)

    refund = Refund.objects.get()
    queued = sorted((m.task_name, m.args) for m in OutboxMessage.objects.all())
    assert queued == [
        ("checkout.tasks.send_booking_cancelled", [booking.pk]),
        ("payments.tasks.process_refund", [refund.pk]),
    ]


@pytest.mark.django_db
def test_a_free_join_queues_its_confirmation_inside_the_join_transaction():
    slot = SlotFactory(theme__price=0)
    customer = UserFactory()

    run_then_roll_back(lambda: booking_join(slot_id=slot.pk, customer=customer))
    assert not OutboxMessage.objects.exists()

    booking = booking_join(slot_id=slot.pk, customer=customer)
    (queued,) = OutboxMessage.objects.all()
    assert (queued.task_name, queued.args) == ("bookings.tasks.send_booking_confirmed", [booking.pk])


@pytest.mark.django_db
def test_a_password_reset_request_queues_its_email_through_the_outbox(client):
    user = UserFactory(email="dee@example.com")
    client.post(reverse("portal:password-reset"), {"email": "dee@example.com"})

    (queued,) = OutboxMessage.objects.all()
    assert queued.task_name == "accounts.tasks.send_password_reset"
    assert queued.args[0] == user.pk


# --- Fast path ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_eager_tasks_still_run_on_commit_and_the_row_is_marked_done(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queued = outbox.enqueue("bookwise.tests.record_call", "a")
        assert CALLS == []  # nothing runs before the commit

    assert CALLS == ["a"]
    queued.refresh_from_db()
    assert (queued.state, queued.attempts, queued.last_error) == (OutboxState.DONE, 1, "")
    assert queued.sent_at is not None
    assert queued.done_at is not None


@pytest.mark.django_db(transaction=True)
def test_broker_down_at_commit_leaves_the_row_pending_and_the_request_succeeds(customer_client, mailoutbox, caplog):
    slot = SlotFactory(theme__price=0)

    with broker_at(REFUSED_URL), caplog.at_level(logging.WARNING, logger="bookwise.outbox"):
        started = time.monotonic()
        response = customer_client.post(f"/api/v1/slots/{slot.pk}/join/", {}, format="json")
        elapsed = time.monotonic() - started

    assert response.status_code == 201, response.content
    booking = Booking.objects.get(pk=response.json()["id"])
    assert booking.status == BookingStatus.CONFIRMED
    queued = OutboxMessage.objects.get()
    assert (queued.task_name, queued.args, queued.state) == (
        "bookings.tasks.send_booking_confirmed",
        [booking.pk],
        OutboxState.PENDING,
    )
    assert queued.attempts == 1
    assert "OperationalError" in queued.last_error
    assert queued.available_at > timezone.now()  # backoff
    assert "publish attempt 1 failed" in caplog.text
    assert elapsed < 5  # the publish itself: see test_publishing_to_a_down_or_hung_broker_gives_up_fast
    assert mailoutbox == []

    # The broker is back: the sweeper publishes it, a worker sends the email.
    with broker_at("memory://"):
        result = outbox.sweep(now=later())
    assert (result.published, result.failed) == (1, 0)
    (published,) = drain_memory_queue()
    assert (published.task, published.args, published.task_id) == (
        "bookings.tasks.send_booking_confirmed",
        [booking.pk],
        f"outbox-{queued.pk}",
    )
    queued.refresh_from_db()
    assert (queued.state, queued.attempts) == (OutboxState.SENT, 2)

    from bookwise.celery import app

    app.tasks[published.task].apply(args=published.args)  # what the worker does with it
    assert [m.to for m in mailoutbox] == [[booking.customer.email]]
    assert outbox.sweep(now=later()).published == 0  # and nothing is published twice


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("hung", [False, True], ids=["refused", "hung"])
def test_publishing_to_a_down_or_hung_broker_gives_up_fast(hung):
    server = HungServer() if hung else None
    try:
        with broker_at(server.url if server else REFUSED_URL):
            outbox.enqueue("bookwise.tests.record_call", "warm-up")  # imports and pools, outside the timing
            outbox.resume_fast_path()
            started = time.monotonic()
            queued = outbox.enqueue("bookwise.tests.record_call", "timed")  # autocommit: published right here
            elapsed = time.monotonic() - started
    finally:
        if server:
            server.close()

    queued.refresh_from_db()
    assert (queued.state, queued.attempts) == (OutboxState.PENDING, 1)
    # REDIS_SOCKET_TIMEOUT is 0.5 s; the rest is slack for a loaded test machine.
    assert elapsed < 1.5


@pytest.mark.django_db(transaction=True)
def test_after_a_broker_failure_the_fast_path_pauses_and_the_sweeper_publishes_everything():
    with broker_at(REFUSED_URL):
        first = outbox.enqueue("bookwise.tests.record_call", 1)
        second = outbox.enqueue("bookwise.tests.record_call", 2)  # no second wait for the dead broker
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.attempts, second.attempts) == (1, 0)
    assert outbox.pending_count() == 2

    with broker_at("memory://"):
        assert outbox.sweep(now=later()).published == 2
    assert sorted(p.args[0] for p in drain_memory_queue()) == [1, 2]
    assert outbox.pending_count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_sweep_with_the_broker_still_down_stops_at_the_first_failure():
    OutboxMessage.objects.bulk_create(OutboxMessage(task_name="bookwise.tests.record_call", args=[n]) for n in range(5))

    with broker_at(REFUSED_URL):
        result = outbox.sweep(now=later())

    assert (result.published, result.failed) == (0, 1)
    attempts = sorted(OutboxMessage.objects.values_list("attempts", flat=True))
    assert attempts == [0, 0, 0, 0, 1]  # one attempt paid for the broker's answer; the rest wait for the next run
    assert outbox.pending_count() == 5


# --- Sweeper ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweepers_publish_each_row_once():
    rows = 40
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name="bookwise.tests.record_call", args=[n]) for n in range(rows)
    )
    with broker_at("memory://"):
        results = run_together([lambda: outbox.sweep(now=later(), batch_size=3)] * 2)

    assert [result for result in results if isinstance(result, Exception)] == []
    published = drain_memory_queue()
    assert sorted(p.args[0] for p in published) == list(range(rows))  # each exactly once
    assert sum(r.published for r in results) == rows
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {(OutboxState.SENT, 1)}


@pytest.mark.django_db(transaction=True)
def test_a_row_whose_task_raised_stays_pending_and_runs_again(caplog):
    FAIL_FIRST.add("flaky")

    with caplog.at_level(logging.WARNING, logger="bookwise.outbox"):
        queued = outbox.enqueue("bookwise.tests.record_call", "flaky")  # eager: runs (and fails) at commit

    queued.refresh_from_db()
    assert CALLS == ["flaky"]
    assert (queued.state, queued.attempts) == (OutboxState.PENDING, 1)
    assert queued.last_error == "RuntimeError: task failed for flaky"
    assert "retry in 5s" in caplog.text

    assert outbox.sweep().published == 0  # not due yet: backoff
    assert outbox.sweep(now=later()).published == 1
    queued.refresh_from_db()
    assert (queued.state, queued.attempts) == (OutboxState.DONE, 2)
    assert CALLS == ["flaky", "flaky"]


@pytest.mark.django_db(transaction=True)
def test_a_row_claimed_by_a_publisher_that_died_is_taken_again_after_the_lease():
    queued = OutboxMessage.objects.create(task_name="bookwise.tests.record_call", args=["orphan"])
    (claimed,) = outbox._claim(now=timezone.now(), limit=10)  # then the process dies
    assert claimed.pk == queued.pk

    assert outbox.sweep(now=later(1)).published == 0  # within the lease
    assert outbox.sweep(now=timezone.now() + outbox.LEASE + timedelta(seconds=1)).published == 1
    assert CALLS == ["orphan"]


@pytest.mark.django_db
def test_the_sweeper_deletes_done_rows_after_the_retention_period(settings):
    settings.OUTBOX_RETENTION_HOURS = 24
    settings.OUTBOX_REDELIVER_SECONDS = 30 * 24 * 3600
    now = timezone.now()
    day_ago = now - timedelta(hours=25)
    old, recent, sent, pending = OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(task_name="x", state=OutboxState.DONE, sent_at=day_ago, done_at=day_ago),
            OutboxMessage(task_name="x", state=OutboxState.DONE, sent_at=day_ago, done_at=now - timedelta(hours=23)),
            # Taken by the broker a day ago but never done: kept (redelivery decides about it).
            OutboxMessage(task_name="x", state=OutboxState.SENT, sent_at=day_ago),
            OutboxMessage(task_name="x", available_at=now + timedelta(days=30)),  # never deleted
        ]
    )

    assert outbox.sweep(now=now).deleted == 1

    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, sent.pk, pending.pk}


@pytest.mark.django_db(transaction=True)
def test_a_message_the_broker_lost_is_published_again_until_its_task_reports_done(settings):
    settings.OUTBOX_REDELIVER_SECONDS = 600
    with broker_at("memory://"):
        queued = outbox.enqueue("bookwise.tests.record_call", "lost")
        outbox.sweep()  # whether the fast path or the sweeper published it: the broker has it now
        drain_memory_queue()  # ... and loses it (Redis restarted without its data)
    queued.refresh_from_db()
    assert queued.state == OutboxState.SENT
    assert CALLS == []

    with broker_at("memory://"):
        assert outbox.sweep(now=timezone.now() + timedelta(seconds=60)).published == 0  # not yet
        assert outbox.sweep(now=timezone.now() + timedelta(seconds=601)).published == 1
        (again,) = drain_memory_queue()
    assert (again.task, again.args, again.task_id) == ("bookwise.tests.record_call", ["lost"], f"outbox-{queued.pk}")

    from bookwise.celery import app

    app.tasks[again.task].apply(args=again.args, task_id=again.task_id)  # a worker runs it this time
    queued.refresh_from_db()
    assert queued.state == OutboxState.DONE
    assert queued.done_at is not None
    assert CALLS == ["lost"]
    with broker_at("memory://"):
        assert outbox.sweep(now=timezone.now() + timedelta(days=1)).published == 0  # done: never again


@pytest.mark.django_db
def test_redelivery_stops_after_the_maximum_number_of_attempts(settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    long_ago = timezone.now() - timedelta(days=1)
    given_up = OutboxMessage.objects.create(task_name="x", state=OutboxState.SENT, sent_at=long_ago, attempts=3)
    retried = OutboxMessage.objects.create(task_name="x", state=OutboxState.SENT, sent_at=long_ago, attempts=2)

    assert outbox.requeue_lost(now=timezone.now()) == 1

    given_up.refresh_from_db()
    retried.refresh_from_db()
    assert (given_up.state, retried.state) == (OutboxState.SENT, OutboxState.PENDING)


@pytest.mark.django_db
def test_the_sweeper_task_is_periodic_and_safe_to_run_twice(settings):
    from bookwise.celery import app

    schedule = settings.CELERY_BEAT_SCHEDULE["outbox-sweep"]
    assert schedule["task"] == outbox_sweep.name == "bookwise.tasks.outbox_sweep"
    assert schedule["schedule"] == float(settings.OUTBOX_SWEEP_SECONDS)
    OutboxMessage.objects.create(task_name="bookwise.tests.record_call", args=["once"])

    assert outbox_sweep.delay().get() == 1
    assert outbox_sweep.delay().get() == 0
    assert CALLS == ["once"]
    assert app.tasks["bookwise.tasks.outbox_sweep"].acks_late


# --- Admin --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_lists_outbox_messages_read_only_with_the_pending_count(client):
    OutboxMessage.objects.create(task_name="payments.tasks.process_refund", args=[7])
    OutboxMessage.objects.create(task_name="x", state=OutboxState.SENT, sent_at=timezone.now())
    client.force_login(AdminFactory())

    page = client.get(reverse("admin:bookwise_outboxmessage_changelist"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Outbox messages: 1 pending, oldest queued" in html
    assert "payments.tasks.process_refund" in html
    assert client.get(reverse("admin:bookwise_outboxmessage_add")).status_code == 403
