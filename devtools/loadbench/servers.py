"""gunicorn started (and always stopped) by the benchmark, with raised throttles and a Redis of its own."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time

import httpx

from devtools.loadbench.clients import check_local
from devtools.loadbench.common import API, DATA_DIR, ROOT, SetupError, say


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
