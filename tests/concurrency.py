"""The race-test harness: real threads released together, each on its own database connection.

A race test needs `pytest.mark.django_db(transaction=True)`: the rows it sets up
must be committed, or the threads' connections cannot see them. Assert the exact
number of winners on what `run_together` returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")

BARRIER_TIMEOUT = 10


def run_together(calls: Sequence[Callable[[], T]], *, timeout: float = 60) -> list[T | Exception]:
    """Run each call in its own thread, all released at once by a barrier; their results, in order.

    A call that raises has its exception in its place, for the test to assert on
    (losing it in the thread would hide the loser of a race). Each thread closes
    its database connection so none is left open after the test. Fails when a
    thread is still running after `timeout` seconds: a deadlock must not pass.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            results[index] = call()
        except Exception as exc:  # returned to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
    assert not any(thread.is_alive() for thread in threads), f"threads still running after {timeout} s"
    return results


def wait_for(check: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.2) -> T:
    """Poll `check` until it returns something truthy or `timeout` seconds pass; its last value.

    For effects that arrive from another process (a webhook, a worker), where
    there is nothing to join.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
