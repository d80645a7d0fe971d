"""Where the time of a request goes: split a py-spy profile of gunicorn workers into named parts.

Record the profile in py-spy's collapsed format while a load drives one endpoint::

    .venv/bin/py-spy record --subprocesses --pid <gunicorn master> --duration 15 --rate 200 \\
        --format raw -o join.collapsed

then::

    .venv/bin/python -m devtools.loadbench.flame join.collapsed --requests 3000 --rate 200 --cpu-ms 11.5

Only samples of a worker handling a request count (a stack through gunicorn's
``SyncWorker.handle``/``ThreadWorker.handle``): idle workers, the arbiter and its threads are
left out. Each sample goes to the first part of ``PARTS`` whose rule matches its stack, so a
query sent while authenticating counts as authentication, one sent by a serializer's lazy
queryset as "PostgreSQL: waiting". Waiting parts (a reply from PostgreSQL or Redis) are wall
time, not CPU. ``--cpu-ms`` (worker CPU per request, e.g. from ``loadbench.py wrk``) spreads
the measured CPU over the CPU parts in proportion to their samples; ``--requests`` (requests
served during the recording) turns samples into wall milliseconds per request.

On a busy machine a runnable process waiting for a core is sampled where it stands, so the
sampled wall time exceeds the CPU time; the shares stay meaningful.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REQUEST_MARKERS = ("SyncWorker.handle ", "ThreadWorker.handle ", "SyncWorker.handle_request ")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class Frame:
    func: str
    file: str


def parse_frame(text: str) -> Frame:
    m = _FRAME.match(text)
    return Frame(m.group("func"), m.group("file")) if m else Frame(text, "")


def has(frames: list[Frame], *funcs: str) -> bool:
    return any(f.func in funcs for f in frames)


def in_file(frames: list[Frame], *prefixes: str) -> bool:
    return any(f.file.startswith(prefixes) for f in frames)


def leaf_waits(frames: list[Frame]) -> bool:
    """The sample blocks on a socket: PostgreSQL (psycopg's wait) or Redis (a socket read)."""
    leaf = frames[-1]
    if leaf.file.startswith("psycopg/"):
        return leaf.func in ("Connection.wait", "ClientCursorMixin._execute_send", "BaseConnection._exec_command")
    return leaf.file.startswith(("socket.py", "redis/connection.py", "redis/_parsers")) or leaf.func in (
        "SocketBuffer._read_from_socket",
        "SocketBuffer.readline",
    )


Rule = Callable[[list[Frame]], bool]

# (name, rule): the first match wins; order matters (see the module docstring).
PARTS: list[tuple[str, Rule]] = [
    ("gunicorn: parse request, write response", lambda f: not has(f, "WSGIHandler.__call__")),
    ("logging", lambda f: in_file(f, "logging/")),
    (
        "CONN_HEALTH_CHECKS: SELECT 1 per request",
        lambda f: has(f, "DatabaseWrapper.is_usable", "BaseDatabaseWrapper.close_if_health_check_failed"),
    ),
    ("connecting to PostgreSQL", lambda f: has(f, "BaseDatabaseWrapper.connect")),
    ("authentication: JWT + user lookup", lambda f: has(f, "Request._authenticate", "APIView.perform_authentication")),
    ("throttles (Redis)", lambda f: has(f, "APIView.check_throttles")),
    (
        "after-commit hooks: outbox, Celery",
        lambda f: (
            has(f, "BaseDatabaseWrapper.run_and_clear_commit_hooks")
            or in_file(f, "bookwise/outbox.py", "celery/", "kombu/")
        ),
    ),
    ("PostgreSQL: waiting (in the view)", lambda f: leaf_waits(f) and in_file(f[-1:], "psycopg/")),
    ("Redis: waiting (in the view)", lambda f: leaf_waits(f)),
    ("psycopg: adapt parameters, load rows", lambda f: in_file(f[-1:], "psycopg/")),
    ("transaction: BEGIN/COMMIT", lambda f: has(f, "Atomic.__enter__", "Atomic.__exit__")),
    ("ORM: compile SQL", lambda f: in_file(f, "django/db/models/sql/compiler.py", "django/db/models/expressions.py")),
    (
        "ORM: rows to model instances",
        lambda f: has(f, "ModelIterable.__iter__", "Model.from_db", "Model.__init__", "ValuesIterable.__iter__"),
    ),
    ("ORM: build querysets", lambda f: in_file(f, "django/db/")),
    ("DRF serializers", lambda f: in_file(f, "rest_framework/serializers.py", "rest_framework/fields.py")),
    ("JSON rendering", lambda f: in_file(f, "rest_framework/renderers.py", "json/", "bookwise/renderers.py")),
    (
        "middleware and Django's handler (outside the view)",
        lambda f: not has(f, "BaseHandler._get_response"),
    ),
    ("DRF request/response, view dispatch", lambda f: in_file(f, "rest_framework/")),
    ("app code: views, selectors, services", lambda f: True),
]
WAIT_PARTS = {"PostgreSQL: waiting (in the view)", "Redis: waiting (in the view)"}


def load_collapsed(text: str) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def split(stacks: Counter[tuple[str, ...]]) -> tuple[Counter[str], Counter[str], int]:
    """Samples per part, of which blocked on a socket, and the request samples in all."""
    parts: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    total = 0
    for stack, n in stacks.items():
        if not any(m in s for s in stack for m in REQUEST_MARKERS):
            continue
        frames = [parse_frame(s) for s in stack if not s.startswith(("process ", "thread "))]
        total += n
        for name, rule in PARTS:
            if rule(frames):
                parts[name] += n
                if leaf_waits(frames):
                    waiting[name] += n
                break
    return parts, waiting, total


def table(
    parts: Counter[str], waiting: Counter[str], total: int, *, rate: float, requests: int | None, cpu_ms: float | None
) -> str:
    cpu_samples = sum(n - waiting[name] for name, n in parts.items() if name not in WAIT_PARTS)
    lines = [
        "| part | samples | % of request samples | of which waiting on a socket | sampled wall ms/request "
        "| CPU ms/request |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, _rule in PARTS:
        n = parts.get(name, 0)
        if not n:
            continue
        wall = f"{n / rate * 1000.0 / requests:.2f}" if requests else "-"
        cpu = "-"
        if cpu_ms is not None and cpu_samples and name not in WAIT_PARTS:
            cpu = f"{cpu_ms * (n - waiting[name]) / cpu_samples:.2f}"
        lines.append(f"| {name} | {n:,} | {100.0 * n / total:.1f} | {waiting[name]:,} | {wall} | {cpu} |")
    wall_total = f"{total / rate * 1000.0 / requests:.2f}" if requests else "-"
    cpu_total = f"{cpu_ms:.2f}" if cpu_ms is not None else "-"
    lines.append(f"| **all** | {total:,} | 100.0 | {sum(waiting.values()):,} | {wall_total} | {cpu_total} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.loadbench.flame", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("collapsed", help="py-spy record --format raw output")
    parser.add_argument("--rate", type=float, default=200.0, help="py-spy --rate of the recording (default 200)")
    parser.add_argument("--requests", type=int, help="requests served during the recording")
    parser.add_argument("--cpu-ms", type=float, help="measured worker CPU ms per request, spread over the CPU parts")
    args = parser.parse_args(argv)
    parts, waiting, total = split(load_collapsed(Path(args.collapsed).read_text()))
    if not total:
        print("no request samples (no stack through a gunicorn worker's handle)", file=sys.stderr)
        return 1
    print(table(parts, waiting, total, rate=args.rate, requests=args.requests, cpu_ms=args.cpu_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
