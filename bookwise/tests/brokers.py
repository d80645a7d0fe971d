"""Point the Celery app at a real broker for a test: refused, hung, or kombu's in-process memory transport.

The session runs tasks eagerly (conftest.py); these helpers switch that off for
one test so that publishing really goes through kombu, with the transport
options of bookwise/settings.py (no connection retries, short socket timeouts).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from kombu.transport import memory

from bookwise import outbox
from bookwise.celery import app

REFUSED_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once


def _reset_pools() -> None:
    # kombu keeps its pools per broker URL (kombu.pools): dropping the app's
    # references is enough for it to pick the pools of the new URL.
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Publish to `url` instead of running tasks eagerly, until the block ends."""
    conf = app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = url, False
    _reset_pools()
    outbox.resume_fast_path()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        _reset_pools()
        outbox.resume_fast_path()


@dataclass(frozen=True)
class Published:
    task: str
    task_id: str
    args: list


def drain_memory_queue(queue: str = "celery") -> list[Published]:
    """Take every message published to the memory transport's `queue` (what a worker would receive)."""
    messages = memory.Channel.queues.pop(queue, None)
    found = []
    while messages is not None and not messages.empty():
        message = messages.get_nowait()
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append(Published(task=message["headers"]["task"], task_id=message["headers"]["id"], args=args))
    return found


class HungServer:
    """A TCP server that accepts connections and never answers: a Redis that hangs (SIGSTOP, a dead peer)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._socket.close()
        for conn in self._held:
            conn.close()
