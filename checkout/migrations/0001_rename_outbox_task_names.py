"""Pending outbox rows name their task: follow the tasks that moved to checkout.tasks.

Rows still ``pending`` or ``sent`` (a sent row is published again if its task
never reported done) would otherwise name a task no worker knows any more.
Done rows are history and keep their names. Reversible.
"""

from django.db import migrations

RENAMED = {
    "bookings.tasks.send_booking_cancelled": "checkout.tasks.send_booking_cancelled",
    "payments.tasks.sync_payment_intent": "checkout.tasks.sync_payment_intent",
    "payments.tasks.reconcile_pending_payments": "checkout.tasks.reconcile_pending_payments",
}
OPEN_STATES = ("pending", "sent")


def _rename(apps, mapping: dict[str, str]) -> None:
    OutboxMessage = apps.get_model("bookwise", "OutboxMessage")
    for old, new in mapping.items():
        OutboxMessage.objects.filter(task_name=old, state__in=OPEN_STATES).update(task_name=new)


def forwards(apps, schema_editor):
    _rename(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [("bookwise", "0004_outbox_done_state")]

    operations = [migrations.RunPython(forwards, backwards)]
