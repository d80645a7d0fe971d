import os
from typing import TypedDict

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookwise.settings")

app = Celery("bookwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class ReliableTaskOptions(TypedDict):
    """Typed, so that ``shared_task(**RELIABLE_TASK_OPTIONS)`` type-checks against Celery's keyword arguments."""

    acks_late: bool
    reject_on_worker_lost: bool


# For every task whose body is idempotent (all of BookWise's): the message is
# acknowledged only after the task finished, and a worker process that dies
# mid-task (SIGKILL, out of memory) hands it back to the broker at once instead
# of dropping it. The task then runs again and finds its work done or finishes
# it. A whole worker killed (not one of its pool processes) leaves its messages
# unacknowledged: Redis redelivers them after the broker's visibility timeout.
RELIABLE_TASK_OPTIONS: ReliableTaskOptions = {"acks_late": True, "reject_on_worker_lost": True}
