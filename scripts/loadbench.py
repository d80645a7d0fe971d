#!/usr/bin/env python
"""BookWise load benchmark (issue 6): an asyncio httpx load generator against gunicorn.

Run it from the repository root with the virtualenv's Python, against a database
filled by ``manage.py load_scale_data`` (its users share the password
``bookwise-scale``; customers are ``customer<N>@scale.bookwise.test``, merchant
owners ``merchant<N>@scale.bookwise.test``)::

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bw_scale_full

    # Mixed traffic at 1, 8, 32, 128 clients, 30 s each, 3 repeats (medians), plus the
    # /api/v1/health/ ceiling at each level and each endpoint alone at the top level:
    .venv/bin/python scripts/loadbench.py mixed --start-gunicorn --workers 4

    # Service time: one client, sequential requests, 200 per endpoint:
    .venv/bin/python scripts/loadbench.py service --start-gunicorn --workers 2 -n 200

    # Hot slot: 500 customers join one new slot of capacity 20 at once, across two
    # gunicorn instances (ports 8000 and 8001); asserts exactly 20 seats taken, no 5xx:
    .venv/bin/python scripts/loadbench.py hot-slot --start-gunicorn --workers 2

    # Scale-free check: service-time p50 of a full-size run vs a 1% run (<= 1.5x):
    .venv/bin/python scripts/loadbench.py compare .data/bench/service-small.json .data/bench/service-full.json

Modes (subcommands):

- ``mixed``: every virtual user (one ``httpx.AsyncClient`` each, HTTP/1.1, keep-alive
  when the server allows it: gunicorn's default sync workers close every connection,
  ``--worker-class gthread`` keeps them) loops over a weighted mix of catalog browsing (random
  filters incl. ``available_from/to`` and ``ordering``), theme detail, a theme's slots,
  join + cancel of a future open slot, my bookings, and (as a merchant owning the slot)
  a slot's participants, for ``--duration`` seconds at each ``--levels`` concurrency.
  The same clients then hit ``/api/v1/health/`` alone (the stack's ceiling), and, at
  ``--saturation-levels``, each endpoint alone, so each endpoint's throughput is also a
  ratio to health. Reports per endpoint: count, p50/p95/p99 ms, req/s, errors, refused
  joins (409 ``slot_full``/``already_booked``), 5xx, the medians of ``--repeat`` runs.
- ``service``: one client, sequential requests, ``-n`` per endpoint; p50/p95/p99 against
  the targets (p95 <= 30 ms reads, <= 60 ms join).
- ``hot-slot``: creates (as its merchant, through the API) a slot of capacity 20 about 100
  days ahead, then ``--clients`` distinct customers join it at once, half on each of two
  base URLs; asserts with SQL that exactly 20 seats are held and that no 5xx came back,
  then cancels the slot (``--keep-slot`` keeps it).
- ``compare``: the scale-free check between two ``service`` (or ``mixed``) result files.

Users log in before the measured window (``POST /api/v1/auth/token/``: one PBKDF2 hash
each, about 0.5 s of server CPU); their refresh tokens are cached in
``.data/bench/tokens.json`` so later runs only refresh (``--no-token-cache`` to skip).
Ids come from the database up front (psycopg, ``--database-url`` or ``DATABASE_URL``,
sampled with ``TABLESAMPLE ... REPEATABLE(--seed)``), so requests hit real rows.

With ``--start-gunicorn`` the script starts ``gunicorn bookwise.wsgi`` itself on
127.0.0.1 (``--workers``, ``--worker-class``, ``--threads``, ``--port``) with
DEBUG=False, ALLOWED_HOSTS=127.0.0.1,localhost, a SECRET_KEY kept in
``.data/bench/secret_key`` (or ``$SECRET_KEY``), REDIS_URL/CELERY_BROKER_URL =
``--redis-url`` (a Redis database of its own: the notification tasks queued by joins and
cancels land there, and the queue is emptied at the end), and every ``THROTTLE_<SCOPE>``
of ``.env.example`` raised to ``--throttle-rate`` so the benchmark measures the app, not
the limiter; it stops the servers at the end. Without it, point ``--base-url`` at a
server started that way (the throttles must be raised there too).

Reading the numbers: every phase also reports CPU use in percent of one core for the
load generator, the gunicorn processes started here, our database's backends, "other"
(the rest of the machine: publish nothing measured when it is not near 0) and the whole
machine, plus the load generator's CPU milliseconds per request. httpx costs about 1 ms
of CPU per request (0.25 ms with ``--client aiohttp``); on a 2-core machine that is a
large share of the health ceiling, so say which client produced published figures.

Bounded: only 127.0.0.1/localhost targets; every loop stops by time and by count
(``--max-requests`` per phase); results go to ``--out`` (default
``.data/bench/<mode>-<time>.json``, git-ignored) and a Markdown table on stdout.
Exit status: 0 when clean, 1 on any error/5xx (or a failed hot-slot assertion), 2 on a
setup problem.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

try:
    import psutil
except ImportError:  # optional: the CPU columns are then left out
    psutil = None
try:
    import aiohttp
except ImportError:  # optional: only for --client aiohttp
    aiohttp = None
try:
    import httpx
    import psycopg
except ImportError as exc:  # pragma: no cover - a setup message, not logic
    sys.exit(f"loadbench needs httpx and psycopg: .venv/bin/pip install -r requirements-dev.txt ({exc})")

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".data" / "bench"
API = "/api/v1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_DOMAIN = "scale.bookwise.test"  # as in bookwise/management/commands/load_scale_data.py
DEFAULT_PASSWORD = "bookwise-scale"

MIXED_ENDPOINTS = ("catalog", "theme", "slots", "join", "cancel", "my_bookings", "participants")
READS = ("catalog", "theme", "slots", "my_bookings", "participants")
# A saturation phase runs one action alone; join's action is join + cancel (two endpoints).
ACTIONS = ("catalog", "theme", "slots", "join", "my_bookings", "participants")
DEFAULT_MIX = "catalog=30,theme=20,slots=20,join=10,my_bookings=12,participants=8"
SERVICE_P95_TARGET_MS = {**dict.fromkeys(READS, 30.0), "join": 60.0}
SATURATION_TARGET = {**dict.fromkeys(READS, 0.5), "join": 0.25}
SCALE_FREE_FACTOR = 1.5
# Expected refusals of a join under contention: counted apart, not as errors.
HOT_SLOT_MIN_TIMEOUT = 120.0
REFUSED_CODES = frozenset({"slot_full", "already_booked"})
SEARCH_TERMS = (
    "escape", "cooking", "tour", "pottery", "wine", "kayak", "yoga", "photography",
    "pasta", "sushi", "haunted", "sunset", "street art", "night", "beginners", "chef",
)  # fmt: skip
ORDERINGS = ("price", "-price", "-rating_avg", "title")
PRICE_FLOORS = (0, 1000, 2000, 5000)
PRICE_SPANS = (1000, 3000, 10000)

# --- SQL: pick realistic ids up front --------------------------------------------------------------
# A booking holds seats when confirmed/attended/no_show, or pending_payment before expires_at.
THEMES_SQL = """
SELECT t.id FROM catalog_theme t JOIN merchants_merchant m ON m.id = t.merchant_id
 WHERE t.is_active AND m.status = 'approved' ORDER BY t.id
"""
CITIES_SQL = "SELECT DISTINCT city FROM merchants_merchant WHERE status = 'approved' ORDER BY city"
MERCHANT_IDS_SQL = "SELECT id FROM merchants_merchant WHERE status = 'approved' ORDER BY id"
JOIN_SLOTS_SQL = """
SELECT s.id, t.min_party,
       s.capacity - COALESCE((SELECT sum(b.party_size) FROM bookings_booking b
                               WHERE b.slot_id = s.id
                                 AND (b.status IN ('confirmed', 'attended', 'no_show')
                                      OR (b.status = 'pending_payment' AND b.expires_at > now()))), 0)
  FROM catalog_slot s TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)
  JOIN catalog_theme t ON t.id = s.theme_id
  JOIN merchants_merchant m ON m.id = t.merchant_id
 WHERE s.status = 'open' AND s.starts_at > now() + interval '2 days'
   AND t.is_active AND m.status = 'approved'
"""
CUSTOMERS_SQL = """
SELECT u.id, u.email FROM accounts_user u TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)
 WHERE u.role = 'customer' AND u.is_active AND u.email LIKE %s
   AND NOT EXISTS (SELECT 1 FROM bookings_booking b
                    WHERE b.customer_id = u.id AND b.status = 'pending_payment' AND b.expires_at > now())
"""
# Slots a merchant looks at: last week to next month, with at least one booking.
MERCHANT_SLOTS_SQL = """
SELECT u.id, u.email, s.id
  FROM catalog_slot s TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)
  JOIN catalog_theme t ON t.id = s.theme_id
  JOIN merchants_merchant m ON m.id = t.merchant_id
  JOIN accounts_user u ON u.id = m.owner_id
 WHERE m.status = 'approved' AND u.is_active AND u.email LIKE %s
   AND s.starts_at BETWEEN now() - interval '7 days' AND now() + interval '30 days'
   AND EXISTS (SELECT 1 FROM bookings_booking b WHERE b.slot_id = s.id)
"""
HOT_THEME_SQL = """
SELECT t.id, u.id, u.email FROM catalog_theme t
  JOIN merchants_merchant m ON m.id = t.merchant_id
  JOIN accounts_user u ON u.id = m.owner_id
 WHERE t.is_active AND m.status = 'approved' AND u.is_active AND u.email LIKE %s
   AND t.min_party = 1 AND t.price > 0
 ORDER BY t.id LIMIT 200
"""
SEATS_HELD_SQL = """
SELECT COALESCE(sum(party_size), 0), count(*) FROM bookings_booking
 WHERE slot_id = %s AND (status IN ('confirmed', 'attended', 'no_show')
                         OR (status = 'pending_payment' AND expires_at > now()))
"""
RELTUPLES_SQL = "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'"
DATASET_TABLES = (
    "accounts_user", "merchants_merchant", "catalog_theme", "catalog_slot", "bookings_booking", "reviews_review",
    "payments_payment",
)  # fmt: skip
BACKEND_PIDS_SQL = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


class SetupError(Exception):
    """A problem before measuring (server, data, logins): exit status 2."""


def say(text: str = "") -> None:
    print(text, flush=True)


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


# --- Statistics ----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def median_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass
class EndpointStats:
    """What one endpoint did in one phase."""

    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    refused: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # "status code" or exception name -> count
    server_errors: int = 0
    in_window: int = 0  # completions before the deadline: the throughput numerator
    error_examples: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.ok + sum(self.refused.values()) + sum(self.errors.values())

    def summary(self, window_s: float) -> dict:
        lat = sorted(self.latencies_ms)
        return {
            "count": self.count,
            "ok": self.ok,
            "refused": sum(self.refused.values()),
            "refused_by_code": dict(self.refused),
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "server_errors": self.server_errors,
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99),
            "max_ms": lat[-1] if lat else None,
            "rps": self.in_window / window_s if window_s > 0 else None,
            "error_examples": self.error_examples,
        }


class Recorder:
    """Collects every response of one phase, per endpoint."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self.endpoints: dict[str, EndpointStats] = {}

    def stats(self, endpoint: str) -> EndpointStats:
        return self.endpoints.setdefault(endpoint, EndpointStats())

    def record(
        self,
        endpoint: str,
        started: float,
        ended: float,
        status: int | None,
        *,
        code: str | None = None,
        detail: str = "",
    ) -> None:
        st = self.stats(endpoint)
        if self.deadline is None or ended <= self.deadline:
            st.in_window += 1
        if status is None:  # transport error or timeout: no latency
            st.errors[detail or "exception"] += 1
            kind = "error"
        else:
            st.latencies_ms.append((ended - started) * 1000.0)
            if 200 <= status < 300:
                st.ok += 1
                return
            if endpoint == "join" and status == 409 and code in REFUSED_CODES:
                st.refused[code] += 1
                return
            if status >= 500:
                st.server_errors += 1
            st.errors[f"{status} {code}" if code else str(status)] += 1
            kind = str(status)
        if len(st.error_examples) < 5:
            st.error_examples.append(f"{kind}: {detail[:200]}")


# --- HTTP -----------------------------------------------------------------------------------------


def check_local(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or (parts.hostname or "") not in LOCAL_HOSTS:
        raise SetupError(f"{url}: only http://127.0.0.1 / localhost targets are allowed")
    return url.rstrip("/")


def new_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    # One connection per virtual user: keep-alive when the server keeps it (gthread),
    # a new connection per request with gunicorn's sync workers (they always close).
    return httpx.AsyncClient(
        base_url=base_url,
        http1=True,
        http2=False,
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        headers={"Accept": "application/json", "User-Agent": "bookwise-loadbench"},
        trust_env=False,  # never through a proxy
        follow_redirects=False,
    )


def bearer(token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {token}"} if token else None


@dataclass
class Reply:
    """The part of a response the benchmark reads, whichever HTTP client fetched it."""

    status_code: int
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class HttpxUser:
    """A virtual user's HTTP client: one httpx.AsyncClient, one connection."""

    errors: tuple[type[BaseException], ...] = (httpx.HTTPError,)

    def __init__(self, base_url: str, timeout: float) -> None:
        self.client = new_client(base_url, timeout)

    async def request(
        self, method: str, path: str, *, params: dict | None, json_body: dict | None, headers: dict | None
    ) -> Reply:
        resp = await self.client.request(method, path, params=params, json=json_body, headers=headers)
        return Reply(resp.status_code, resp.content)

    async def aclose(self) -> None:
        await self.client.aclose()


class AiohttpUser:
    """The same with aiohttp (--client aiohttp): about a quarter of httpx's CPU per request."""

    def __init__(self, base_url: str, timeout: float) -> None:
        if aiohttp is None:
            raise SetupError("--client aiohttp needs aiohttp (requirements-dev.txt)")
        self.errors = (aiohttp.ClientError, asyncio.TimeoutError)
        self.session = aiohttp.ClientSession(
            base_url=base_url,
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"Accept": "application/json", "User-Agent": "bookwise-loadbench"},
            trust_env=False,  # never through a proxy
        )

    async def request(
        self, method: str, path: str, *, params: dict | None, json_body: dict | None, headers: dict | None
    ) -> Reply:
        async with self.session.request(
            method, path, params=params, json=json_body, headers=headers, allow_redirects=False
        ) as resp:
            return Reply(resp.status, await resp.read())

    async def aclose(self) -> None:
        await self.session.close()


VuClient = HttpxUser | AiohttpUser
CLIENTS: dict[str, Callable[[str, float], VuClient]] = {"httpx": HttpxUser, "aiohttp": AiohttpUser}


def error_code(resp: Reply) -> str | None:
    if resp.status_code < 400:
        return None
    with contextlib.suppress(ValueError, AttributeError):
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return body["code"]
    return None


async def timed(
    rec: Recorder,
    client: VuClient,
    endpoint: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    params: dict | None = None,
    json_body: dict | None = None,
) -> Reply | None:
    """One request, recorded under `endpoint`; latency includes reading the whole body."""
    started = time.perf_counter()
    try:
        resp = await client.request(method, path, params=params, json_body=json_body, headers=bearer(token))
    except client.errors as exc:
        rec.record(endpoint, started, time.perf_counter(), None, detail=type(exc).__name__)
        return None
    ended = time.perf_counter()
    code = error_code(resp)
    detail = "" if resp.is_success else f"{method} {path} -> {resp.text[:160]}"
    rec.record(endpoint, started, ended, resp.status_code, code=code, detail=detail)
    return resp


# --- Accounts and tokens --------------------------------------------------------------------------


@dataclass
class Account:
    user_id: int
    email: str
    access: str = ""
    refresh: str = ""

    @property
    def access_expires(self) -> float:
        try:
            payload = self.access.split(".")[1]
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return float(data["exp"])
        except (IndexError, ValueError, KeyError, TypeError):
            return 0.0


class TokenCache:
    """Refresh tokens by email, so a second run refreshes instead of hashing passwords again."""

    def __init__(self, path: Path | None, scope: str) -> None:
        self.path, self.scope = path, scope
        self.tokens: dict[str, str] = {}
        if path and path.is_file():
            with contextlib.suppress(ValueError, OSError):
                data = json.loads(path.read_text())
                if data.get("scope") == scope:
                    self.tokens = dict(data.get("tokens", {}))

    def save(self, accounts: list[Account]) -> None:
        if not self.path:
            return
        for acc in accounts:
            if acc.refresh:
                self.tokens[acc.email] = acc.refresh
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"scope": self.scope, "tokens": self.tokens}))
        tmp.chmod(0o600)  # live refresh tokens of the benchmark accounts
        tmp.replace(self.path)


async def _post_json(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    """POST with a bounded wait on 429 (the server's throttles were not raised enough)."""
    for _attempt in range(3):
        resp = await client.post(path, json=body)
        if resp.status_code != 429:
            return resp
        wait = min(float(resp.headers.get("Retry-After", "5") or 5), 30.0)
        await asyncio.sleep(wait)
    raise SetupError(f"{path} stays throttled (429): raise THROTTLE_LOGIN / THROTTLE_LOGIN_EMAIL / THROTTLE_REFRESH")


async def authenticate(
    base_urls: list[str],
    accounts: list[Account],
    *,
    password: str,
    cache: TokenCache,
    concurrency: int,
    timeout: float,
) -> None:
    """Give every account a fresh access token: refresh a cached token, else log in.

    `concurrency` workers, one client each, spread over the base URLs; progress every 10 s
    (a login costs a PBKDF2 hash, about half a second of server CPU).
    """
    queue: asyncio.Queue[Account] = asyncio.Queue()
    for acc in accounts:
        queue.put_nowait(acc)
    done = Counter()
    started = last = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal last
        while True:
            try:
                acc = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            cached = acc.refresh or cache.tokens.get(acc.email)
            resp = None
            if cached:
                resp = await _post_json(client, f"{API}/auth/token/refresh/", {"refresh": cached})
                done["refreshes" if resp.status_code == 200 else "stale tokens"] += 1
            if resp is None or resp.status_code != 200:
                resp = await _post_json(client, f"{API}/auth/token/", {"email": acc.email, "password": password})
                if resp.status_code != 200:
                    raise SetupError(f"login {acc.email}: {resp.status_code} {resp.text[:200]}")
                done["logins"] += 1
            body = resp.json()
            acc.access, acc.refresh = body["access"], body["refresh"]
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                say(f"  auth: {len(accounts) - queue.qsize()} of {len(accounts)} accounts ...")

    workers = max(1, min(concurrency, len(accounts)))
    clients = [new_client(base_urls[i % len(base_urls)], timeout) for i in range(workers)]
    try:
        await asyncio.gather(*(worker(c) for c in clients))
    finally:
        cache.save(accounts)
        await asyncio.gather(*(c.aclose() for c in clients))
    if done:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(done.items()))
        say(f"  auth: {counts} in {time.monotonic() - started:.1f} s")


async def keep_tokens_fresh(
    base_urls: list[str], accounts: list[Account], *, seconds: float, password: str, cache: TokenCache, timeout: float
) -> None:
    """Refresh (outside the measured window) every access token that would expire within `seconds`."""
    limit = time.time() + seconds + 30
    stale = [a for a in accounts if a.access_expires < limit]
    if stale:
        await authenticate(base_urls, stale, password=password, cache=cache, concurrency=8, timeout=timeout)


# --- Dataset ----------------------------------------------------------------------------------------


@dataclass
class Dataset:
    theme_ids: list[int]
    cities: list[str]
    merchant_ids: list[int]
    join_slots: list[tuple[int, int]]  # (slot id, party size)
    customers: list[Account]
    merchants: list[tuple[Account, list[int]]]  # owner, slots with participants
    sizes: dict[str, int]


def db_connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise SetupError(f"cannot connect to {url}: {exc}") from exc


def sample_rows(conn: psycopg.Connection, sql: str, table: str, want: int, seed: int, *extra) -> list[tuple]:
    """Rows of a TABLESAMPLE query, widening the sample until `want` rows came back (or all)."""
    with conn.cursor() as cur:
        cur.execute(RELTUPLES_SQL, [[table]])
        row = cur.fetchone()
        total = max(int(row[1]) if row else 0, 1)
        pct = min(100.0, want * 100.0 / total)
        while True:
            cur.execute(sql, [pct, seed, *extra])
            rows = cur.fetchall()
            if len(rows) >= want or pct >= 100.0:
                return rows
            pct = min(100.0, pct * 4)


def stable_pick(rows: list[tuple], seed: int) -> list[tuple]:
    """Rows in a seeded pseudo-random order of their id that a few rows more or less do not reshuffle.

    The same customers come back run after run (their cached tokens stay useful) even though
    unpaid holds come and go between runs.
    """
    return sorted(rows, key=lambda r: hashlib.blake2b(f"{seed}:{r[0]}".encode(), digest_size=8).digest())


def table_sizes(conn: psycopg.Connection) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute(RELTUPLES_SQL, [list(DATASET_TABLES)])
        return {name: int(n) for name, n in cur.fetchall()}


def load_dataset(
    conn: psycopg.Connection, *, customers: int, merchants: int, domain: str, seed: int, join_slots: int = 5000
) -> Dataset:
    rng = random.Random(seed)
    started = time.monotonic()
    with conn.cursor() as cur:
        cur.execute(THEMES_SQL)
        theme_ids = [r[0] for r in cur.fetchall()]
        cur.execute(CITIES_SQL)
        cities = [r[0] for r in cur.fetchall()]
        cur.execute(MERCHANT_IDS_SQL)
        merchant_ids = [r[0] for r in cur.fetchall()]
    if not theme_ids:
        raise SetupError("no public themes: load the data first (manage.py load_scale_data)")

    # A third of the slots lie in the future: sample about 6x what is needed, keep the ones with seats.
    rows = sample_rows(conn, JOIN_SLOTS_SQL, "catalog_slot", join_slots * 6, seed)
    slots = [(sid, min_party) for sid, min_party, left in rows if left >= min_party]
    rng.shuffle(slots)
    slots = slots[:join_slots]
    if not slots:
        raise SetupError("no future open slot with seats left (slots start > 2 days from now)")

    pattern = f"customer%@{domain}"
    rows = stable_pick(sample_rows(conn, CUSTOMERS_SQL, "accounts_user", customers * 2, seed, pattern), seed)
    if len(rows) < customers:
        raise SetupError(f"only {len(rows)} active {pattern} customers without unpaid holds; need {customers}")
    accounts = [Account(uid, email) for uid, email in rows[:customers]]

    by_owner: dict[tuple[int, str], list[int]] = {}
    if merchants:
        rows = sample_rows(conn, MERCHANT_SLOTS_SQL, "catalog_slot", 3000, seed, f"merchant%@{domain}")
        for uid, email, sid in rows:
            by_owner.setdefault((uid, email), []).append(sid)
        if not by_owner:
            raise SetupError("no merchant owns a slot with bookings between a week ago and a month ahead")
    owners = sorted(by_owner.items(), key=lambda kv: (-len(kv[1]), kv[0][0]))[:merchants]
    merchant_list = [(Account(uid, email), sorted(sids)) for (uid, email), sids in owners]
    say(
        f"dataset: {len(theme_ids):,} public themes, {len(slots):,} joinable slots, {len(accounts)} customers, "
        f"{len(merchant_list)} merchants picked in {time.monotonic() - started:.1f} s"
    )
    return Dataset(theme_ids, cities, merchant_ids, slots, accounts, merchant_list, table_sizes(conn))


# --- Virtual users and their actions --------------------------------------------------------------


@dataclass
class VirtualUser:
    index: int
    client: VuClient
    customer: Account
    merchant: Account | None
    merchant_slots: list[int]
    rng: random.Random


def catalog_params(rng: random.Random, ds: Dataset) -> dict[str, str]:
    """A random, plausible catalog query: each filter with its own probability."""
    p: dict[str, str] = {}
    if rng.random() < 0.4:
        start = now_utc().replace(minute=0, second=0, microsecond=0) + timedelta(hours=rng.randrange(0, 60 * 24))
        p["available_from"] = iso(start)
        p["available_to"] = iso(start + timedelta(days=rng.choice((1, 2, 3, 7))))
    if ds.cities and rng.random() < 0.3:
        p["city"] = rng.choice(ds.cities)
    if rng.random() < 0.2:
        p["search"] = rng.choice(SEARCH_TERMS)
    if rng.random() < 0.2:
        floor = rng.choice(PRICE_FLOORS)
        p["min_price"] = str(floor)
        p["max_price"] = str(floor + rng.choice(PRICE_SPANS))
    if ds.merchant_ids and rng.random() < 0.1:
        p["merchant"] = str(rng.choice(ds.merchant_ids))
    if rng.random() < 0.6:
        p["ordering"] = rng.choice(ORDERINGS)
    return p


async def act_catalog(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "catalog", "GET", f"{API}/themes/", params=catalog_params(vu.rng, ds))


async def act_theme(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "theme", "GET", f"{API}/themes/{vu.rng.choice(ds.theme_ids)}/")


async def act_slots(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    params = None
    if vu.rng.random() < 0.3:
        start = now_utc().replace(microsecond=0)
        params = {"from": iso(start), "to": iso(start + timedelta(days=14))}
    await timed(rec, vu.client, "slots", "GET", f"{API}/themes/{vu.rng.choice(ds.theme_ids)}/slots/", params=params)


async def act_join(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    """Join a future open slot, then cancel the hold at once (no payment): seats come back."""
    slot_id, party = vu.rng.choice(ds.join_slots)
    token = vu.customer.access
    resp = await timed(
        rec, vu.client, "join", "POST", f"{API}/slots/{slot_id}/join/", token=token, json_body={"party_size": party}
    )
    if resp is not None and resp.status_code == 201:
        booking_id = resp.json()["id"]
        await timed(rec, vu.client, "cancel", "POST", f"{API}/bookings/{booking_id}/cancel/", token=token)


async def act_my_bookings(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "my_bookings", "GET", f"{API}/bookings/", token=vu.customer.access)


async def act_participants(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    if vu.merchant is None or not vu.merchant_slots:
        return
    slot_id = vu.rng.choice(vu.merchant_slots)
    await timed(rec, vu.client, "participants", "GET", f"{API}/slots/{slot_id}/participants/", token=vu.merchant.access)


async def act_health(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "health", "GET", f"{API}/health/")


Action = Callable[[VirtualUser, Recorder, Dataset], Awaitable[None]]
ACTION_FUNCS: dict[str, Action] = {
    "catalog": act_catalog,
    "theme": act_theme,
    "slots": act_slots,
    "join": act_join,
    "my_bookings": act_my_bookings,
    "participants": act_participants,
    "health": act_health,
}


def parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in ACTIONS:
            raise argparse.ArgumentTypeError(f"unknown action {name!r} in --mix (known: {', '.join(ACTIONS)})")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in --mix: {part!r}") from None
    if sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("--mix weights must add up to more than 0")
    return mix


# --- Server-side CPU (best effort, psutil) -------------------------------------------------------


class CpuProbe:
    """CPU seconds of the machine, of the gunicorn processes we started and of our database's backends.

    Best effort (psutil): a backend that ends during a phase loses its share. "Other" is the
    machine's busy time minus loadgen, gunicorn and postgres: anything above a few percent means
    the machine was not quiet and the figures are not worth publishing.
    """

    def __init__(self, server_pids: list[int], conn: psycopg.Connection | None) -> None:
        self.server_pids, self.conn = server_pids, conn

    @staticmethod
    def _proc_cpu(pids: list[int], children: bool) -> dict[int, float]:
        out: dict[int, float] = {}
        if psutil is None:
            return out
        procs = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                procs.append(p)
                if children:
                    procs.extend(p.children(recursive=True))
        for p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
        return out

    def snapshot(self) -> dict:
        db_pids: list[int] = []
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error), self.conn.cursor() as cur:
                cur.execute(BACKEND_PIDS_SQL)
                db_pids = [r[0] for r in cur.fetchall()]
        machine = None
        if psutil is not None:
            t = psutil.cpu_times()
            machine = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        return {
            "server": self._proc_cpu(self.server_pids, True),
            "db": self._proc_cpu(db_pids, False),
            "machine": machine,
            "client": time.process_time(),
        }

    @staticmethod
    def _delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(max(0.0, v - before.get(pid, 0.0)) for pid, v in after.items())

    def usage(self, before: dict, after: dict, wall: float) -> dict[str, float | None]:
        """Percent of one core over `wall` seconds."""

        def pct(seconds: float | None) -> float | None:
            return None if seconds is None or wall <= 0 else round(100.0 * seconds / wall, 1)

        client = after["client"] - before["client"]
        server = self._delta(before["server"], after["server"]) if after["server"] else None
        db = self._delta(before["db"], after["db"]) if after["db"] else None
        machine = after["machine"] - before["machine"] if after["machine"] is not None else None
        other = None
        if machine is not None:
            other = max(0.0, machine - client - (server or 0.0) - (db or 0.0))
        return {
            "loadgen": pct(client),
            "gunicorn": pct(server),
            "postgres": pct(db),
            "other": pct(other),
            "machine": pct(machine),
        }


# --- Phases ----------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    clients: int
    duration_s: float
    endpoints: dict[str, dict]
    total_rps: float
    cpu_pct: dict[str, float | None]  # loadgen, gunicorn, postgres, other, machine (100 = one core)
    loadgen_cpu_ms_per_request: float | None


async def run_phase(
    name: str,
    vus: list[VirtualUser],
    ds: Dataset,
    *,
    duration: float,
    max_requests: int,
    choose: Callable[[random.Random], str],
    probe: CpuProbe,
) -> PhaseResult:
    """Every virtual user loops until the deadline or until the phase's request budget is spent."""
    budget = max_requests
    before = probe.snapshot()
    wall0 = time.perf_counter()
    deadline = wall0 + duration
    rec = Recorder(deadline)

    async def loop(vu: VirtualUser) -> None:
        nonlocal budget
        while budget > 0 and time.perf_counter() < deadline:
            budget -= 1
            await ACTION_FUNCS[choose(vu.rng)](vu, rec, ds)

    await asyncio.gather(*(loop(vu) for vu in vus))
    wall = time.perf_counter() - wall0
    after = probe.snapshot()
    window = min(duration, wall)
    endpoints = {ep: st.summary(window) for ep, st in sorted(rec.endpoints.items())}
    total_in_window = sum(st.in_window for st in rec.endpoints.values())
    total = sum(st.count for st in rec.endpoints.values())
    client_s = after["client"] - before["client"]
    return PhaseResult(
        name=name,
        clients=len(vus),
        duration_s=round(wall, 3),
        endpoints=endpoints,
        total_rps=total_in_window / window if window > 0 else 0.0,
        cpu_pct=probe.usage(before, after, wall),
        loadgen_cpu_ms_per_request=round(1000.0 * client_s / total, 3) if total else None,
    )


def weighted_chooser(mix: dict[str, float]) -> Callable[[random.Random], str]:
    names = list(mix)
    cum = []
    total = 0.0
    for n in names:
        total += mix[n]
        cum.append(total)

    def choose(rng: random.Random) -> str:
        x = rng.random() * total
        for n, c in zip(names, cum, strict=True):
            if x < c:
                return n
        return names[-1]

    return choose


def fixed_chooser(action: str) -> Callable[[random.Random], str]:
    return lambda _rng: action


def describe_phase(r: PhaseResult) -> str:
    errs = sum(e["errors"] for e in r.endpoints.values())
    five = sum(e["server_errors"] for e in r.endpoints.values())
    return (
        f"{r.name:<22} {r.clients:>4} clients {r.total_rps:8.1f} req/s  errors {errs}  5xx {five}  "
        f"cpu% {cpu_text(r.cpu_pct)}"
    )


def cpu_text(cpu: dict[str, float | None]) -> str:
    return " ".join(f"{k} {fmt_num(v, 0)}" for k, v in cpu.items() if v is not None)


def loud_5xx(r: PhaseResult) -> None:
    for ep, e in r.endpoints.items():
        if e["server_errors"]:
            say(f"!!! 5xx: {e['server_errors']} server errors on {ep} in {r.name} ({r.clients} clients)")
            for ex in e["error_examples"]:
                say(f"!!!   {ex}")


# --- gunicorn ---------------------------------------------------------------------------------------


def throttle_scopes() -> list[str]:
    """Every THROTTLE_<SCOPE> documented in .env.example (the settings read exactly those)."""
    scopes = {"LOGIN", "LOGIN_EMAIL", "REGISTER", "REGISTER_EMAIL", "REFRESH", "JOIN"}
    example = ROOT / ".env.example"
    if example.is_file():
        scopes |= set(re.findall(r"^#?\s*THROTTLE_([A-Z0-9_]+)=", example.read_text(), flags=re.MULTILINE))
    return sorted(scopes)


def bench_secret_key() -> str:
    """$SECRET_KEY, else one kept in .data/bench so cached refresh tokens stay valid across runs."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    if path.is_file() and len(path.read_text().strip()) >= 50:
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def server_env(args: argparse.Namespace, secret_key: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_READ_DOT_ENV_FILE="False",  # .env is for development (DEBUG=True)
        DEBUG="False",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SITE_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        CELERY_BROKER_URL=args.redis_url,
        PYTHONUNBUFFERED="1",
    )
    for scope in throttle_scopes():
        env[f"THROTTLE_{scope}"] = args.throttle_rate
    # DEBUG=False refuses the public development Stripe keys; the benchmark never pays.
    for name, prefix in (("STRIPE_SECRET_KEY", "sk_test_"), ("STRIPE_PUBLISHABLE_KEY", "pk_test_")):
        env.setdefault(name, prefix + secrets.token_hex(16))
    env.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_" + secrets.token_hex(16))
    return env


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Gunicorn:
    """One gunicorn master (and its workers) started by this script, stopped by its pid."""

    def __init__(self, args: argparse.Namespace, port: int, secret_key: str) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = server_env(args, secret_key, port)
        self.cmd = [
            sys.executable, "-m", "gunicorn", "bookwise.wsgi:application",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers),
            "--worker-class", args.worker_class,
            "--threads", str(args.threads),
            "--timeout", "60",
            "--graceful-timeout", "10",
            "--backlog", "2048",
        ]  # fmt: skip
        self.log_path = DATA_DIR / f"gunicorn-{port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not port_free(self.port):
            raise SetupError(f"port {self.port} is in use: pick another with --port")
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        say(f"gunicorn pid {self.proc.pid} on {self.url}: {' '.join(self.cmd[3:])} (log {self.log_path})")

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self.log_path.read_text()[-3000:]
                    raise SetupError(f"gunicorn on {self.url} exited ({self.proc.returncode}):\n{tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{API}/health/").status_code == 200:
                        return
                time.sleep(0.3)
        raise SetupError(f"gunicorn on {self.url} not healthy after {timeout:.0f} s (log {self.log_path})")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # the master stops its workers
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: master and workers only
            self.proc.wait(timeout=10)
        say(f"gunicorn pid {self.proc.pid} stopped")


@contextlib.contextmanager
def servers(args: argparse.Namespace, ports: list[int]):
    """Start one gunicorn per port (with --start-gunicorn) and always stop them; yields base URLs."""
    if not args.start_gunicorn:
        yield [check_local(u) for u in args.base_url or ["http://127.0.0.1:8000"]]
        return
    key = bench_secret_key()
    started: list[Gunicorn] = []
    try:
        for port in ports:
            g = Gunicorn(args, port, key)
            started.append(g)
            g.start()
        for g in started:
            g.wait_ready()
        args.server_pids = [g.proc.pid for g in started if g.proc]
        yield [g.url for g in started]
    finally:
        for g in started:
            g.stop()
        purge_task_queue(args.redis_url)


def purge_task_queue(redis_url: str) -> None:
    """Drop the notification tasks the run queued (no worker consumes the bench Redis database)."""
    with contextlib.suppress(Exception):
        import redis

        r = redis.Redis.from_url(redis_url, socket_timeout=5)
        n = r.llen("celery")
        if n:
            r.delete("celery")
            say(f"dropped {n} queued notification tasks from {redis_url}")


# --- Results ----------------------------------------------------------------------------------------


def machine_info(conn: psycopg.Connection | None) -> dict:
    info: dict = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    if conn is not None:
        with contextlib.suppress(psycopg.Error), conn.cursor() as cur:
            cur.execute("SELECT version(), current_database()")
            info["postgres"], info["database"] = cur.fetchone()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        info["git_commit"] = out.stdout.strip()
    return info


def write_json(args: argparse.Namespace, mode: str, payload: dict) -> Path:
    path = Path(args.out) if args.out else DATA_DIR / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    say(f"results written to {path}")
    return path


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def fmt_num(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def public_config(args: argparse.Namespace) -> dict:
    hidden = {"func", "server_pids", "password"}
    return {k: v for k, v in vars(args).items() if k not in hidden}


# --- mode: mixed ------------------------------------------------------------------------------------


def cpu_medians(phases: list[dict]) -> dict[str, float | None]:
    keys = ("loadgen", "gunicorn", "postgres", "other", "machine")
    return {k: median_of([p["cpu_pct"].get(k) for p in phases]) for k in keys}


def summarise_level(runs: list[dict]) -> dict:
    """Medians over repeats of one level's per-run figures; counts and errors are summed."""

    def health_of(phase: dict) -> dict:
        return phase["endpoints"].get("health", {})

    health = median_of([health_of(r["health"]).get("rps") for r in runs])
    mixed = [r["mixed"] for r in runs]
    out: dict = {
        "runs": len(runs),
        "health_rps": health,
        "health_p50_ms": median_of([health_of(r["health"]).get("p50_ms") for r in runs]),
        "health_errors": sum(health_of(r["health"]).get("errors", 0) for r in runs),
        "health_cpu_pct": cpu_medians([r["health"] for r in runs]),
        "health_loadgen_cpu_ms_per_request": median_of([r["health"]["loadgen_cpu_ms_per_request"] for r in runs]),
        "mixed_total_rps": median_of([m["total_rps"] for m in mixed]),
        "mixed_cpu_pct": cpu_medians(mixed),
        "mixed_loadgen_cpu_ms_per_request": median_of([m["loadgen_cpu_ms_per_request"] for m in mixed]),
        "endpoints": {},
    }
    out["mixed_ratio_to_health"] = out["mixed_total_rps"] / health if health and out["mixed_total_rps"] else None
    saturated = [r for r in runs if r.get("saturation")]
    sat_health = median_of([health_of(r["saturation_health"]).get("rps") for r in saturated])
    out["saturation_health_rps"] = sat_health
    out["saturation_health_errors"] = sum(health_of(r["saturation_health"]).get("errors", 0) for r in saturated)
    for ep in MIXED_ENDPOINTS:
        per = [p for p in (m["endpoints"].get(ep) for m in mixed) if p]
        row: dict = {
            "count": sum(p["count"] for p in per),
            "errors": sum(p["errors"] for p in per),
            "refused": sum(p["refused"] for p in per),
            "server_errors": sum(p["server_errors"] for p in per),
            "p50_ms": median_of([p["p50_ms"] for p in per]),
            "p95_ms": median_of([p["p95_ms"] for p in per]),
            "p99_ms": median_of([p["p99_ms"] for p in per]),
            "mixed_rps": median_of([p["rps"] for p in per]),
        }
        # Saturation: the endpoint alone at this concurrency (join's phase is join + cancel pairs).
        action = "join" if ep == "cancel" else ep
        phases = [r["saturation"][action] for r in saturated if action in r["saturation"]]
        alone = [a for a in (ph["endpoints"].get(ep) for ph in phases) if a]
        if alone:
            row.update(
                alone_count=sum(a["count"] for a in alone),
                alone_rps=median_of([a["rps"] for a in alone]),
                alone_p50_ms=median_of([a["p50_ms"] for a in alone]),
                alone_p95_ms=median_of([a["p95_ms"] for a in alone]),
                alone_p99_ms=median_of([a["p99_ms"] for a in alone]),
                alone_errors=sum(a["errors"] for a in alone),
                alone_refused=sum(a["refused"] for a in alone),
                alone_server_errors=sum(a["server_errors"] for a in alone),
                alone_cpu_pct=cpu_medians(phases),
            )
            row["ratio_to_health"] = row["alone_rps"] / sat_health if sat_health and row["alone_rps"] else None
            if ep == "join":
                # The server also served one cancel per join: the pair rate bounds a join-only rate.
                pair = median_of([ph["total_rps"] for ph in phases])
                row["alone_join_plus_cancel_rps"] = pair
                row["join_plus_cancel_ratio_to_health"] = pair / sat_health if sat_health and pair else None
            target = SATURATION_TARGET.get(ep)
            if target is not None and row["ratio_to_health"] is not None:
                row["ratio_target"] = target
                row["ratio_ok"] = row["ratio_to_health"] >= target
        out["endpoints"][ep] = row
    return out


def print_level(level: int, s: dict, args: argparse.Namespace) -> None:
    say()
    say(f"### {level} concurrent client{'s' if level > 1 else ''} (medians of {s['runs']} x {args.duration:g} s)")
    say()
    say(
        f"- health alone: {fmt_num(s['health_rps'])} req/s, p50 {fmt_ms(s['health_p50_ms'])} ms "
        f"(cpu% {cpu_text(s['health_cpu_pct'])}; loadgen {fmt_num(s['health_loadgen_cpu_ms_per_request'], 2)} "
        "ms CPU per request)"
    )
    say(
        f"- mixed total: {fmt_num(s['mixed_total_rps'])} req/s = {fmt_num(s['mixed_ratio_to_health'], 2)} of health "
        f"(cpu% {cpu_text(s['mixed_cpu_pct'])}; 100 = one core)"
    )
    if s.get("saturation_health_rps"):
        say(f"- health right before the endpoints ran alone: {fmt_num(s['saturation_health_rps'])} req/s")
        join = s["endpoints"].get("join", {})
        if join.get("alone_join_plus_cancel_rps"):
            say(
                f"- join alone ran join + cancel pairs: {fmt_num(join['alone_join_plus_cancel_rps'])} req/s together "
                f"= {fmt_num(join['join_plus_cancel_ratio_to_health'], 2)} of health"
            )
    say()
    say(
        "| endpoint | requests | p50 ms | p95 ms | p99 ms | req/s in mix | errors | refused | 5xx "
        "| alone req/s | alone p50 / p95 ms | ratio to health |"
    )
    say("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for ep, r in s["endpoints"].items():
        ratio_txt = "-"
        if r.get("ratio_to_health") is not None:
            mark = "" if r.get("ratio_ok", True) else f" (MISS: target {r['ratio_target']})"
            ratio_txt = f"{r['ratio_to_health']:.2f}{mark}"
        errors = r["errors"] + r.get("alone_errors", 0)
        five = r["server_errors"] + r.get("alone_server_errors", 0)
        alone_lat = f"{fmt_ms(r['alone_p50_ms'])} / {fmt_ms(r['alone_p95_ms'])}" if "alone_p50_ms" in r else "-"
        say(
            f"| {ep} | {r['count']:,} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r['p95_ms'])} | {fmt_ms(r['p99_ms'])} | "
            f"{fmt_num(r['mixed_rps'])} | {errors} | {r['refused'] + r.get('alone_refused', 0)} | "
            f"{five}{' !!!' if five else ''} | {fmt_num(r.get('alone_rps'))} | {alone_lat} | {ratio_txt} |"
        )
    other = [v for v in (s["health_cpu_pct"].get("other"), s["mixed_cpu_pct"].get("other")) if v is not None]
    if other and max(other) > 15:
        say()
        say(f"note: other processes used up to {max(other):.0f}% of a core during these phases: not a quiet machine")


async def mixed_main(args: argparse.Namespace, base_urls: list[str], conn: psycopg.Connection) -> int:
    levels = args.levels
    top = max(levels)
    sat_levels = [lv for lv in args.saturation_levels if lv in levels] if args.saturation_levels else []
    n_merchants = min(args.merchants, top)
    ds = load_dataset(conn, customers=top, merchants=n_merchants, domain=args.email_domain, seed=args.seed)
    base = base_urls[0]
    cache = TokenCache(None if args.no_token_cache else DATA_DIR / "tokens.json", token_scope(args, base))
    accounts = ds.customers + [m for m, _ in ds.merchants]
    await authenticate(
        [base], accounts, password=args.password, cache=cache, concurrency=args.login_concurrency, timeout=args.timeout
    )
    vus = []
    for i, cust in enumerate(ds.customers):
        merchant, mslots = ds.merchants[i % len(ds.merchants)] if ds.merchants else (None, [])
        vus.append(
            VirtualUser(
                i, CLIENTS[args.client](base, args.timeout), cust, merchant, mslots, random.Random(args.seed + i)
            )
        )
    probe = CpuProbe(getattr(args, "server_pids", []), conn)
    mix = weighted_chooser(args.mix)
    phase_seconds = args.duration * (2 + (len(ACTIONS) + 1 if sat_levels else 0)) + args.warmup
    runs: dict[int, list[dict]] = {lv: [] for lv in levels}
    exit_code = 0
    try:
        for rep in range(1, args.repeat + 1):
            for lv in levels:
                await keep_tokens_fresh(
                    [base], accounts, seconds=phase_seconds, password=args.password, cache=cache, timeout=args.timeout
                )
                group = vus[:lv]
                say(f"-- run {rep}/{args.repeat}, {lv} clients")
                common = {"max_requests": args.max_requests, "probe": probe}
                if args.warmup > 0:
                    await run_phase("warmup", group, ds, duration=args.warmup, choose=mix, **common)
                run: dict = {}
                for key, name, chooser in (
                    ("health", "health", fixed_chooser("health")),
                    ("mixed", "mixed", mix),
                ):
                    r = await run_phase(name, group, ds, duration=args.duration, choose=chooser, **common)
                    say("   " + describe_phase(r))
                    loud_5xx(r)
                    run[key] = asdict(r)
                if lv in sat_levels:
                    run["saturation"] = {}
                    r = await run_phase(
                        "health (saturation)",
                        group,
                        ds,
                        duration=args.duration,
                        choose=fixed_chooser("health"),
                        **common,
                    )
                    say("   " + describe_phase(r))
                    run["saturation_health"] = asdict(r)
                    for action in ACTIONS:
                        r = await run_phase(
                            f"{action} alone", group, ds, duration=args.duration, choose=fixed_chooser(action), **common
                        )
                        say("   " + describe_phase(r))
                        loud_5xx(r)
                        run["saturation"][action] = asdict(r)
                runs[lv].append(run)
    finally:
        await asyncio.gather(*(vu.client.aclose() for vu in vus))

    summary = {lv: summarise_level(runs[lv]) for lv in levels}
    say()
    say("## Mixed traffic")
    for lv in levels:
        print_level(lv, summary[lv], args)
    errors = 0
    server_errors = 0
    for s in summary.values():
        errors += s["health_errors"] + s["saturation_health_errors"]
        for r in s["endpoints"].values():
            errors += r["errors"] + r.get("alone_errors", 0)
            server_errors += r["server_errors"] + r.get("alone_server_errors", 0)
    say()
    if server_errors:
        say(f"!!! {server_errors} responses were 5xx: see the error examples in the JSON file")
    say(f"errors (non-2xx, refused joins excluded): {errors}; 5xx: {server_errors}")
    if errors or server_errors:
        exit_code = 1
    write_json(
        args,
        "mixed",
        {
            "mode": "mixed",
            "started": iso(now_utc()),
            "config": public_config(args),
            "machine": machine_info(conn),
            "dataset": ds.sizes,
            "summary": summary,
            "runs": runs,
        },
    )
    return exit_code


# --- mode: service ----------------------------------------------------------------------------------


async def service_main(args: argparse.Namespace, base_urls: list[str], conn: psycopg.Connection) -> int:
    ds = load_dataset(conn, customers=1, merchants=1, domain=args.email_domain, seed=args.seed)
    base = base_urls[0]
    cache = TokenCache(None if args.no_token_cache else DATA_DIR / "tokens.json", token_scope(args, base))
    accounts = ds.customers + [m for m, _ in ds.merchants]
    await authenticate([base], accounts, password=args.password, cache=cache, concurrency=2, timeout=args.timeout)
    merchant, mslots = ds.merchants[0] if ds.merchants else (None, [])
    vu = VirtualUser(
        0, CLIENTS[args.client](base, args.timeout), ds.customers[0], merchant, mslots, random.Random(args.seed)
    )
    order = ("health", "catalog", "theme", "slots", "my_bookings", "participants", "join")
    results: dict[str, dict] = {}
    probe = CpuProbe(getattr(args, "server_pids", []), conn)
    before, wall0 = probe.snapshot(), time.perf_counter()
    try:
        for action in order:
            # Each endpoint needs at most n requests (join: n joins + n cancels) plus a few seconds of margin.
            await keep_tokens_fresh(
                [base], accounts, seconds=60 + args.n * 0.5, password=args.password, cache=cache, timeout=args.timeout
            )
            warm = Recorder()
            for _ in range(args.warmup_requests):
                await ACTION_FUNCS[action](vu, warm, ds)
            rec = Recorder()
            for _ in range(args.n):
                await ACTION_FUNCS[action](vu, rec, ds)
            for ep, st in rec.endpoints.items():
                results[ep] = st.summary(0)
                results[ep].pop("rps")
    finally:
        await vu.client.aclose()

    say()
    cpu = probe.usage(before, probe.snapshot(), time.perf_counter() - wall0)
    say(f"## Service time (one client, sequential, {args.n} requests per endpoint)")
    say()
    say(f"cpu% over the run: {cpu_text(cpu)} (100 = one core)")
    if (cpu.get("other") or 0) > 15:
        say(f"note: other processes used {cpu['other']:.0f}% of a core: not a quiet machine")
    say()
    say("| endpoint | requests | p50 ms | p95 ms | p99 ms | max ms | errors | refused | p95 target | |")
    say("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    exit_code = 0
    for ep in ("health", *MIXED_ENDPOINTS):
        r = results.get(ep)
        if not r:
            continue
        target = SERVICE_P95_TARGET_MS.get(ep)
        verdict = ""
        if target is not None and r["p95_ms"] is not None:
            verdict = "ok" if r["p95_ms"] <= target else f"MISS by {r['p95_ms'] - target:.1f} ms"
            r["p95_target_ms"], r["p95_ok"] = target, r["p95_ms"] <= target
        if r["errors"]:
            exit_code = 1
        say(
            f"| {ep} | {r['count']} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r['p95_ms'])} | {fmt_ms(r['p99_ms'])} | "
            f"{fmt_ms(r['max_ms'])} | {r['errors']}{' !!!' if r['server_errors'] else ''} | {r['refused']} | "
            f"{fmt_ms(target)} | {verdict} |"
        )
        for ex in r["error_examples"]:
            say(f"    {ep} error: {ex}")
    write_json(
        args,
        "service",
        {
            "mode": "service",
            "started": iso(now_utc()),
            "config": public_config(args),
            "machine": machine_info(conn),
            "dataset": ds.sizes,
            "cpu_pct": cpu,
            "endpoints": results,
        },
    )
    return exit_code


# --- mode: hot-slot -----------------------------------------------------------------------------------


async def create_hot_slot(
    client: httpx.AsyncClient, merchant: Account, theme_id: int, capacity: int, rng: random.Random
) -> dict:
    """A new slot about 100 days ahead (past the generated ones), retried on slot_overlap."""
    for _attempt in range(10):
        start = now_utc().replace(second=0, microsecond=0) + timedelta(days=100 + rng.randrange(0, 200))
        start = start.replace(minute=start.minute - start.minute % 5)
        resp = await client.post(
            f"{API}/themes/{theme_id}/slots/",
            json={"starts_at": iso(start), "capacity": capacity},
            headers=bearer(merchant.access),
        )
        if resp.status_code == 201:
            return resp.json()
        if resp.status_code != 409:
            raise SetupError(f"creating the hot slot: {resp.status_code} {resp.text[:300]}")
    raise SetupError("creating the hot slot: 10 overlaps in a row")


async def hot_slot_round(
    args: argparse.Namespace,
    base_urls: list[str],
    conn: psycopg.Connection,
    merchant: Account,
    theme_id: int,
    customers: list[Account],
    rng: random.Random,
) -> dict:
    admin = new_client(base_urls[0], args.timeout)
    # Every join queues behind the slot's row lock: the last of 500 waits for all the others.
    join_timeout = max(args.timeout, HOT_SLOT_MIN_TIMEOUT)
    clients = [CLIENTS[args.client](base_urls[i % len(base_urls)], join_timeout) for i in range(len(customers))]
    try:
        slot = await create_hot_slot(admin, merchant, theme_id, args.capacity, rng)
        say(f"  slot {slot['id']} of theme {theme_id}: capacity {slot['capacity']}, starts {slot['starts_at']}")
        # Open every connection first (a health request each), so the joins leave together.
        warm = Recorder()
        await asyncio.gather(*(timed(warm, c, "health", "GET", f"{API}/health/") for c in clients))
        rec = Recorder()
        go = asyncio.Event()
        statuses: Counter = Counter()
        per_url: Counter = Counter()

        async def join(i: int, client: VuClient, acc: Account) -> None:
            await go.wait()
            resp = await timed(
                rec, client, "join", "POST", f"{API}/slots/{slot['id']}/join/", token=acc.access,
                json_body={"party_size": 1},
            )  # fmt: skip
            key = "exception" if resp is None else f"{resp.status_code} {error_code(resp) or ''}".strip()
            statuses[key] += 1
            if resp is not None and resp.status_code == 201:
                per_url[base_urls[i % len(base_urls)]] += 1

        tasks = [asyncio.create_task(join(i, c, a)) for i, (c, a) in enumerate(zip(clients, customers, strict=True))]
        await asyncio.sleep(0.2)  # every task is parked on the event
        t0 = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0

        with conn.cursor() as cur:
            cur.execute(SEATS_HELD_SQL, [slot["id"]])
            seats, holding = cur.fetchone()
        seats_left = None
        resp = await admin.get(f"{API}/slots/{slot['id']}/")
        if resp.status_code == 200:
            seats_left = resp.json().get("seats_left")
        st = rec.stats("join").summary(wall)
        created = statuses.get("201", 0)
        five = sum(n for k, n in statuses.items() if k[:1] == "5")
        unexpected = {k: n for k, n in statuses.items() if k not in ("201", "409 slot_full")}
        checks = {
            f"exactly {args.capacity} seats held (SQL sum of party_size)": seats == args.capacity,
            "holding bookings == 201 responses": holding == created,
            "zero 5xx": five == 0,
            "seats_left == 0 (API)": seats_left == 0,
            "only 201 and 409 slot_full": not unexpected,
        }
        result = {
            "slot": slot["id"],
            "theme": theme_id,
            "clients": len(customers),
            "base_urls": base_urls,
            "statuses": dict(statuses),
            "created_by_url": dict(per_url),
            "seats_held_sql": seats,
            "holding_bookings_sql": holding,
            "seats_left_api": seats_left,
            "wall_s": round(wall, 3),
            "latency": st,
            "checks": checks,
            "passed": all(checks.values()),
        }
        if not args.keep_slot:
            resp = await admin.post(f"{API}/slots/{slot['id']}/cancel/", headers=bearer(merchant.access))
            result["slot_cancelled"] = resp.status_code == 200
        return result
    finally:
        await asyncio.gather(admin.aclose(), *(c.aclose() for c in clients))


async def hot_slot_main(args: argparse.Namespace, base_urls: list[str], conn: psycopg.Connection) -> int:
    if len(base_urls) < 2:
        say("warning: one base URL only; the hot-slot run is meant for two gunicorn instances")
    rng = random.Random(args.seed)
    with conn.cursor() as cur:
        cur.execute(HOT_THEME_SQL, [f"merchant%@{args.email_domain}"])
        themes = cur.fetchall()
    if not themes:
        raise SetupError("no active paid theme with min_party 1 of an approved generated merchant")
    theme_id, merchant_id, merchant_email = rng.choice(themes)
    merchant = Account(merchant_id, merchant_email)
    ds_rows = sample_rows(
        conn, CUSTOMERS_SQL, "accounts_user", args.clients * 2, args.seed + 1, f"customer%@{args.email_domain}"
    )
    if len(ds_rows) < args.clients:
        raise SetupError(f"only {len(ds_rows)} eligible customers; need {args.clients}")
    ds_rows = stable_pick(ds_rows, args.seed + 1)
    customers = [Account(uid, email) for uid, email in ds_rows[: args.clients]]
    cache = TokenCache(None if args.no_token_cache else DATA_DIR / "tokens.json", token_scope(args, base_urls[0]))
    await authenticate(
        base_urls,
        [merchant, *customers],
        password=args.password,
        cache=cache,
        concurrency=args.login_concurrency,
        timeout=args.timeout,
    )
    rounds = []
    for rnd in range(1, args.repeat + 1):
        await keep_tokens_fresh(
            base_urls, [merchant, *customers], seconds=120, password=args.password, cache=cache, timeout=args.timeout
        )
        say(f"-- hot slot, round {rnd}/{args.repeat}: {len(customers)} clients over {', '.join(base_urls)}")
        r = await hot_slot_round(args, base_urls, conn, merchant, theme_id, customers, rng)
        rounds.append(r)
        lat = r["latency"]
        say(
            f"  responses: {', '.join(f'{k}: {n}' for k, n in sorted(r['statuses'].items()))}; "
            f"201 by server: {r['created_by_url']}"
        )
        say(
            f"  SQL: {r['seats_held_sql']} seats held by {r['holding_bookings_sql']} bookings; API seats_left "
            f"{r['seats_left_api']}; all joins answered in {r['wall_s']:.2f} s "
            f"(p50 {fmt_ms(lat['p50_ms'])} ms, p99 {fmt_ms(lat['p99_ms'])} ms, max {fmt_ms(lat['max_ms'])} ms)"
        )
        for name, ok in r["checks"].items():
            say(f"  [{'PASS' if ok else 'FAIL'}] {name}")
        if "slot_cancelled" in r:
            say(f"  slot cancelled afterwards: {r['slot_cancelled']}")
        five = sum(n for k, n in r["statuses"].items() if k[:1] == "5")
        if five:
            say(f"!!! {five} responses were 5xx")
            for ex in lat["error_examples"]:
                say(f"!!!   {ex}")
    passed = all(r["passed"] for r in rounds)
    say(f"hot slot: {'PASS' if passed else 'FAIL'} ({len(rounds)} round(s))")
    write_json(
        args,
        "hot-slot",
        {
            "mode": "hot-slot",
            "started": iso(now_utc()),
            "config": public_config(args),
            "machine": machine_info(conn),
            "rounds": rounds,
            "passed": passed,
        },
    )
    return 0 if passed else 1


# --- mode: compare ------------------------------------------------------------------------------------


def p50s_of(data: dict) -> dict[str, float]:
    if data.get("mode") == "service":
        return {ep: r["p50_ms"] for ep, r in data["endpoints"].items() if r.get("p50_ms") is not None}
    if data.get("mode") == "mixed":
        level = min(data["summary"], key=int)  # one client: latency without queueing
        eps = data["summary"][level]["endpoints"]
        return {ep: r["p50_ms"] for ep, r in eps.items() if r.get("p50_ms") is not None}
    raise SetupError("compare reads the JSON of a service or mixed run")


def compare_main(args: argparse.Namespace) -> int:
    small, full = (json.loads(Path(p).read_text()) for p in (args.small, args.full))
    a, b = p50s_of(small), p50s_of(full)
    sa = small.get("dataset", {}).get("bookings_booking")
    sb = full.get("dataset", {}).get("bookings_booking")
    say(f"## Scale-free check: p50 with {fmt_num(sb, 0)} bookings vs {fmt_num(sa, 0)} (target <= {SCALE_FREE_FACTOR}x)")
    say()
    say("| endpoint | small p50 ms | full p50 ms | ratio | |")
    say("|---|--:|--:|--:|---|")
    ok = True
    for ep in sorted(set(a) & set(b)):
        ratio = b[ep] / a[ep] if a[ep] else None
        good = ratio is not None and ratio <= SCALE_FREE_FACTOR
        ok &= good or ep == "health"
        say(f"| {ep} | {a[ep]:.1f} | {b[ep]:.1f} | {fmt_num(ratio, 2)} | {'ok' if good else 'MISS'} |")
    return 0 if ok else 1


# --- CLI ------------------------------------------------------------------------------------------------


def token_scope(args: argparse.Namespace, base_url: str) -> str:
    """Cached refresh tokens are only good for the same database and signing key."""
    db = urlsplit(args.database_url).path.lstrip("/")
    signer = hashlib.sha256(bench_secret_key().encode()).hexdigest()[:16] if args.start_gunicorn else base_url
    return f"{db}|{signer}"


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
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1],
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
    if args.mode == "hot-slot":
        ports = [args.port, args.port2 or args.port + 1]
        if args.clients < 1 or args.clients > 2000:
            say("--clients must be between 1 and 2000")
            return 2
    else:
        ports = [args.port]
    runner = {"mixed": mixed_main, "service": service_main, "hot-slot": hot_slot_main}[args.mode]

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


if __name__ == "__main__":
    sys.exit(main())
