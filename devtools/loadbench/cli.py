"""The command line: subcommands, options, signals; `python -m devtools.loadbench` and scripts/loadbench.py."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Awaitable

from devtools import loadbench
from devtools.loadbench.actions import parse_mix
from devtools.loadbench.clients import CLIENTS
from devtools.loadbench.common import DEFAULT_DOMAIN, DEFAULT_MIX, DEFAULT_PASSWORD, SetupError, say
from devtools.loadbench.compare import compare_main
from devtools.loadbench.dataset import db_connect
from devtools.loadbench.hot_slot import hot_slot_main
from devtools.loadbench.mixed import mixed_main
from devtools.loadbench.servers import servers
from devtools.loadbench.service import service_main
from devtools.loadbench.wrk import SERVER_OVERRIDES, check_endpoints, wrk_main
from devtools.loadbench.wrk import add_arguments as add_wrk_arguments

# The package docstring is the --help text: what each mode does and how to read the numbers.
PACKAGE_DOC = loadbench.__doc__ or ""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def int_list(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(v < 1 or v > 2000 for v in values):
        raise argparse.ArgumentTypeError("concurrency levels must be between 1 and 2000")
    return values


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("target")
    g.add_argument(
        "--base-url",
        action="append",
        help="server to load (repeat for hot-slot's second instance); default http://127.0.0.1:8000. "
        "Ignored with --start-gunicorn. Only 127.0.0.1/localhost.",
    )
    g.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bookwise"),
        help="the database the server uses (ids are picked from it; default $DATABASE_URL)",
    )
    g.add_argument("--email-domain", default=DEFAULT_DOMAIN, help="domain of the generated users")
    g.add_argument("--password", default=DEFAULT_PASSWORD, help="the generated users' shared password")
    g.add_argument("--seed", type=int, default=1, help="seed of the id samples and of every client's choices")
    g.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    g.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="httpx",
        help="HTTP client of the virtual users (default httpx; aiohttp costs the load generator about 4x less "
        "CPU per request, which matters when it shares the machine's cores with the server)",
    )
    g.add_argument("--out", help="JSON results file (default .data/bench/<mode>-<time>.json)")
    g.add_argument("--login-concurrency", type=positive_int, default=8, help="parallel logins before the run")
    g.add_argument("--no-token-cache", action="store_true", help="log every user in; do not read/write tokens.json")
    s = common.add_argument_group("gunicorn (with --start-gunicorn)")
    s.add_argument("--start-gunicorn", action="store_true", help="start (and stop) gunicorn on 127.0.0.1 itself")
    s.add_argument("--workers", type=positive_int, default=4, help="gunicorn workers per instance (default 4)")
    s.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync, as in production)")
    s.add_argument("--threads", type=positive_int, default=1, help="threads per worker (gthread)")
    s.add_argument("--port", type=int, default=8000, help="port of the (first) instance")
    s.add_argument("--port2", type=int, help="hot-slot's second instance (default --port + 1)")
    s.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="REDIS_URL and CELERY_BROKER_URL of the servers: a Redis database of the benchmark's own",
    )
    s.add_argument("--throttle-rate", default="1000000/second", help="value of every THROTTLE_<SCOPE> of .env.example")

    parser = argparse.ArgumentParser(
        prog="loadbench.py",
        description=PACKAGE_DOC.split("\n\n", 1)[0],
        epilog=PACKAGE_DOC.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="mode", required=True)

    m = sub.add_parser("mixed", parents=[common], help="mixed traffic at several concurrency levels")
    m.add_argument("--levels", type=int_list, default=[1, 8, 32, 128], help="concurrency levels (default 1,8,32,128)")
    m.add_argument("--duration", type=float, default=30.0, help="seconds per measured phase (default 30)")
    m.add_argument(
        "--repeat", type=positive_int, default=3, help="runs per level; the report gives medians (default 3)"
    )
    m.add_argument("--warmup", type=float, default=3.0, help="unmeasured mixed traffic before each level (s)")
    m.add_argument(
        "--saturation-levels",
        type=int_list,
        help="levels at which each endpoint also runs alone for the ratio to health (default: the highest level; "
        "'none' to skip)",
    )
    m.add_argument("--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX), help=f"weights (default {DEFAULT_MIX})")
    m.add_argument(
        "--merchants", type=positive_int, default=32, help="distinct merchant logins for participants (default 32)"
    )
    m.add_argument(
        "--max-requests", type=positive_int, default=2_000_000, help="request budget per phase (a safety bound)"
    )

    sv = sub.add_parser("service", parents=[common], help="service time: one client, sequential requests")
    sv.add_argument("-n", type=positive_int, default=200, help="measured requests per endpoint (default 200)")
    sv.add_argument("--warmup-requests", type=int, default=10, help="unmeasured requests per endpoint first")

    h = sub.add_parser("hot-slot", parents=[common], help="many customers join one small slot at once")
    h.add_argument("--clients", type=positive_int, default=500, help="distinct customers joining (default 500)")
    h.add_argument("--capacity", type=positive_int, default=20, help="capacity of the new slot (default 20)")
    h.add_argument("--repeat", type=positive_int, default=1, help="rounds, each on a new slot")
    h.add_argument("--keep-slot", action="store_true", help="do not cancel the slot afterwards")

    w = sub.add_parser(
        "wrk", parents=[common], help="each endpoint alone against health, driven by wrk (devtools/loadbench/wrk.py)"
    )
    add_wrk_arguments(w, int_list, positive_int, parse_mix, DEFAULT_MIX)

    c = sub.add_parser("compare", help="scale-free check: p50 of a full-size run vs a small one")
    c.add_argument("small", help="JSON of the run on the small (1%%) dataset")
    c.add_argument("full", help="JSON of the run on the full dataset")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.mode == "compare":
        try:
            return compare_main(args)
        except (SetupError, OSError, ValueError, KeyError) as exc:
            say(f"compare: {exc}")
            return 2
    if args.mode == "mixed" and (not args.levels or args.duration <= 0):
        say("mixed needs at least one --levels value and a --duration above 0")
        return 2
    if args.mode == "mixed" and args.saturation_levels is None:
        args.saturation_levels = [max(args.levels)]
    if args.mode == "wrk":
        problem = check_endpoints(args.endpoints) or (None if args.duration > 0 else "--duration must be above 0")
        if problem or not args.connections:
            say(problem or "wrk needs at least one --connections value")
            return 2
        if args.start_gunicorn:
            os.environ.update(SERVER_OVERRIDES)  # servers.server_env copies the environment
    if args.mode == "hot-slot":
        ports = [args.port, args.port2 or args.port + 1]
        if args.clients < 1 or args.clients > 2000:
            say("--clients must be between 1 and 2000")
            return 2
    else:
        ports = [args.port]
    runner = {"mixed": mixed_main, "service": service_main, "hot-slot": hot_slot_main, "wrk": wrk_main}[args.mode]

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # Outside the event loop SIGTERM/SIGINT raise KeyboardInterrupt; inside it they cancel the
    # run (see cancellable). Either way the `servers` block stops what it started.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    conn = None
    try:
        conn = db_connect(args.database_url)
        with servers(args, ports) as base_urls:
            try:
                return asyncio.run(cancellable(runner(args, base_urls, conn)))
            finally:
                signal.signal(signal.SIGTERM, on_term)  # the loop reset both on closing
                signal.signal(signal.SIGINT, on_term)
    except SetupError as exc:
        say(f"setup failed: {exc}")
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted")
        return 130
    finally:
        if conn is not None:
            conn.close()


async def cancellable(coro: Awaitable[int]) -> int:
    """Run `coro`; SIGTERM or SIGINT cancels it (clients closed by their finally blocks)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await coro
