"""Task names: outbox rows and services dispatch by name, and a migration follows the tasks that moved."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from bookings import services as booking_services
from bookings import tasks as booking_tasks
from bookwise.models import OutboxMessage, OutboxState
from checkout import services, tasks
from payments import services as payment_services
from payments import tasks as payment_tasks

rename = importlib.import_module("checkout.migrations.0001_rename_outbox_task_names")


def test_the_names_services_dispatch_by_are_registered_tasks():
    assert tasks.send_booking_cancelled.name == services.SEND_CANCELLED_TASK
    assert booking_tasks.send_booking_confirmed.name == booking_services.SEND_CONFIRMED_TASK
    assert payment_tasks.process_refund.name == payment_services.PROCESS_REFUND_TASK


def test_the_migration_renames_the_moved_tasks_of_open_outbox_rows_and_back():
    assert set(rename.RENAMED.values()) == {
        tasks.send_booking_cancelled.name,
        tasks.sync_payment_intent.name,
        tasks.reconcile_pending_payments.name,
    }


@pytest.mark.django_db
def test_the_migration_renames_pending_and_sent_rows_only_and_reverses():
    old = "bookings.tasks.send_booking_cancelled"
    now = timezone.now()
    rows = {
        OutboxState.PENDING: OutboxMessage.objects.create(task_name=old, args=[1]),
        OutboxState.SENT: OutboxMessage.objects.create(task_name=old, args=[2], state=OutboxState.SENT, sent_at=now),
        OutboxState.DONE: OutboxMessage.objects.create(
            task_name=old, args=[3], state=OutboxState.DONE, sent_at=now, done_at=now
        ),
    }

    rename.forwards(apps, None)

    names = {state: OutboxMessage.objects.get(pk=row.pk).task_name for state, row in rows.items()}
    assert names == {
        OutboxState.PENDING: "checkout.tasks.send_booking_cancelled",
        OutboxState.SENT: "checkout.tasks.send_booking_cancelled",
        OutboxState.DONE: old,
    }
    rename.backwards(apps, None)
    assert set(OutboxMessage.objects.values_list("task_name", flat=True)) == {old}
