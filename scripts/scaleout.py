#!/usr/bin/env python
"""The scale-out path on one machine: primary + streaming replica + PgBouncer + two app instances.

    .venv/bin/python scripts/scaleout.py up [--workers 2] [--no-data]   # start everything, print it
    .venv/bin/python scripts/scaleout.py status                          # replication, pools, routing
    .venv/bin/python scripts/scaleout.py hot-slot [--repeat 3]           # 500 clients, one slot, 2 instances
    .venv/bin/python scripts/scaleout.py stop [--purge]                  # stop what `up` started

`up` starts, on free ports, with every file under .data/scaleout/ (git-ignored):

1. a PostgreSQL 15 primary of its own (initdb; wal_level=replica, timezone UTC), database
   `bookwise_scaleout`, migrated and filled with the 1 % scale dataset (`load_scale_data`);
2. a streaming read replica: `pg_basebackup -R -X stream` of the primary, started on another
   port; `up` waits until the primary's pg_stat_replication says "streaming";
3. PgBouncer in transaction pooling mode in front of the primary (auth_type trust, loopback);
4. two gunicorn instances of the app, DATABASE_URL through PgBouncer (DB_PGBOUNCER=1: no
   server-side cursors) and DATABASE_REPLICA_URL at the replica (bookwise/db_router.py).

`hot-slot` runs `scripts/loadbench.py hot-slot` against the two instances: 500 customers join one
new slot of capacity 20 at once, 3 rounds; each round must end with exactly 20 seats held.

PostgreSQL and PgBouncer refuse to run as root: run as root, the script starts them as the
`postgres` user (runuser) and gives it the data directories. Development tooling: never used
in production. PostgreSQL binaries: $PG_BINDIR, else /usr/lib/postgresql/15/bin.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.loadbench.servers import Gunicorn, port_free  # noqa: E402

BASE = ROOT / ".data" / "scaleout"
STATE = BASE / "state.json"
PG_BINDIR = Path(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"))
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
DB_NAME = "bookwise_scaleout"
PG_USER = "postgres"
# The 1 % dataset of docs/PERFORMANCE.md: 17,000 users, enough for 500 distinct customers.
SMALL_DATASET = [
    "--users", "17000", "--merchants", "200", "--themes", "1000", "--slots", "50000",
    "--bookings", "160000", "--reviews", "20000",
]  # fmt: skip


def say(text: str) -> None:
    print(text, flush=True)


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL and PgBouncer do not run as root: switch to the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *cmd]
    return cmd


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kwargs)


def give_to_postgres(path: Path, mode: int = 0o755) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)  # a PostgreSQL data directory must be 0700
    if os.geteuid() == 0:
        shutil.chown(path, PG_USER, PG_USER)


def free_ports(count: int, start: int) -> list[int]:
    ports: list[int] = []
    port = start
    while len(ports) < count:
        if port_free(port):
            ports.append(port)
        port += 1
    return ports


def db_url(port: int, name: str = DB_NAME) -> str:
    return f"postgres://{PG_USER}@127.0.0.1:{port}/{name}"


def psql(port: int, sql: str, db: str = "postgres", params: list | None = None) -> str:
    import psycopg

    with psycopg.connect(db_url(port, db), autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
    return "\n".join(" | ".join("" if v is None else str(v) for v in row) for row in rows)


def wait_for(what: str, check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_ctl(datadir: Path, *args: str) -> None:
    run(as_postgres([str(PG_BINDIR / "pg_ctl"), "-D", str(datadir), *args]), stdout=subprocess.DEVNULL)


def start_primary(port: int) -> Path:
    datadir = BASE / "primary"
    give_to_postgres(BASE)
    if not (datadir / "PG_VERSION").is_file():
        give_to_postgres(datadir, 0o700)
        run(
            as_postgres([
                str(PG_BINDIR / "initdb"), "-D", str(datadir), "-U", PG_USER, "--auth=trust",
                "-E", "UTF8", "--locale=C.UTF-8",
            ]),
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    # Written on every start: the port may change. PgBouncer hands one server connection to
    # many clients, so nothing may depend on per-session settings: the server's own TimeZone is
    # UTC (what Django expects: it then sends no SET TIME ZONE).
    (datadir / "postgresql.auto.conf").write_text(
        f"port = {port}\n"
        "listen_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{BASE}'\n"
        "wal_level = replica\n"
        "max_wal_senders = 5\n"
        "wal_keep_size = '256MB'\n"
        "hot_standby = on\n"
        "timezone = 'UTC'\n"
        "max_connections = 200\n"
    )
    if os.geteuid() == 0:
        shutil.chown(datadir / "postgresql.auto.conf", PG_USER, PG_USER)
    pg_ctl(datadir, "-l", str(BASE / "primary.log"), "-w", "start")
    say(f"primary: PostgreSQL on 127.0.0.1:{port} (data {datadir}, log {BASE / 'primary.log'})")
    return datadir


def prepare_database(port: int, load_data: bool) -> None:
    if not psql(port, "SELECT 1 FROM pg_database WHERE datname = %s", params=[DB_NAME]):
        psql(port, f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, "DATABASE_URL": db_url(port), "DJANGO_READ_DOT_ENV_FILE": "False", "DEBUG": "True"}
    env.pop("DATABASE_REPLICA_URL", None)
    say("primary: migrate")
    run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env)
    if load_data and not psql(port, "SELECT 1 FROM accounts_user LIMIT 1", DB_NAME):
        say("primary: load the 1 % scale dataset (manage.py load_scale_data)")
        run(
            [sys.executable, "manage.py", "load_scale_data", "--not-production", *SMALL_DATASET],
            cwd=ROOT,
            env={**env, "BOOKWISE_DEVTOOLS": "1"},
            stdout=subprocess.DEVNULL,
        )


def start_replica(primary_port: int, port: int) -> Path:
    datadir = BASE / "replica"
    if datadir.exists():
        shutil.rmtree(datadir)  # a fresh base backup every time: cheap at this size, never diverged
    give_to_postgres(datadir, 0o700)
    run(
        as_postgres([
            str(PG_BINDIR / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", PG_USER,
            "-D", str(datadir), "-R", "-X", "stream", "-c", "fast",
        ])
    )  # fmt: skip
    # -R wrote primary_conninfo into postgresql.auto.conf and standby.signal; the port is ours.
    with (datadir / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = {port}\n")
    pg_ctl(datadir, "-l", str(BASE / "replica.log"), "-w", "start")
    wait_for(
        "the replica to stream",
        lambda: psql(primary_port, "SELECT state FROM pg_stat_replication") == "streaming",
    )
    say(f"replica: PostgreSQL hot standby on 127.0.0.1:{port}, streaming from :{primary_port}")
    return datadir


# --- PgBouncer ----------------------------------------------------------------------------------


def start_pgbouncer(primary_port: int, port: int, pool_size: int) -> Path:
    folder = BASE / "pgbouncer"
    give_to_postgres(folder)
    (folder / "userlist.txt").write_text(f'"{PG_USER}" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{DB_NAME} = host=127.0.0.1 port={primary_port} dbname={DB_NAME}\n"
        "\n[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        f"unix_socket_dir = {folder}\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'userlist.txt'}\n"
        f"admin_users = {PG_USER}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        "max_client_conn = 2000\n"
        "server_reset_query =\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"pidfile = {folder / 'pgbouncer.pid'}\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    for path in folder.iterdir():
        if os.geteuid() == 0:
            shutil.chown(path, PG_USER, PG_USER)
    run(as_postgres([PGBOUNCER, "-d", str(ini)]), stdout=subprocess.DEVNULL)
    wait_for("PgBouncer", lambda: psql(port, "SELECT 1", DB_NAME) == "1", timeout=20)
    say(f"pgbouncer: transaction pooling on 127.0.0.1:{port} -> :{primary_port} (pool {pool_size}, {ini})")
    return folder


def pgbouncer_pid() -> int | None:
    path = BASE / "pgbouncer" / "pgbouncer.pid"
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return None


# --- the app ------------------------------------------------------------------------------------


def start_apps(args: argparse.Namespace, bouncer_port: int, replica_port: int, ports: list[int]) -> list[int]:
    from devtools.loadbench.servers import bench_secret_key

    os.environ["DATABASE_REPLICA_URL"] = db_url(replica_port)
    os.environ["DB_PGBOUNCER"] = "1"
    opts = Namespace(
        database_url=db_url(bouncer_port),
        redis_url=args.redis_url,
        workers=args.workers,
        worker_class="sync",
        threads=1,
        throttle_rate="1000000/second",
    )
    key = bench_secret_key()
    apps = []
    for port in ports:
        app = Gunicorn(opts, port, key)
        app.log_path = BASE / f"gunicorn-{port}.log"
        app.start()
        apps.append(app)
    for app in apps:
        app.wait_ready()
    return [app.proc.pid for app in apps if app.proc]


# --- commands -----------------------------------------------------------------------------------


def load_state() -> dict:
    if not STATE.is_file():
        raise SystemExit("nothing started: run `scripts/scaleout.py up` first")
    return json.loads(STATE.read_text())


def cmd_up(args: argparse.Namespace) -> int:
    if STATE.is_file():
        say(f"already up ({STATE}); `scripts/scaleout.py stop` first")
        return 1
    primary, replica, bouncer, app1, app2 = free_ports(5, args.base_port)
    BASE.mkdir(parents=True, exist_ok=True)
    state: dict = {"ports": {"primary": primary, "replica": replica, "pgbouncer": bouncer, "apps": [app1, app2]}}
    try:
        start_primary(primary)
        STATE.write_text(json.dumps(state))
        prepare_database(primary, load_data=not args.no_data)
        start_replica(primary, replica)
        start_pgbouncer(primary, bouncer, pool_size=args.pool_size)
        state["gunicorn_pids"] = start_apps(args, bouncer, replica, [app1, app2])
        state["redis_url"] = args.redis_url
        STATE.write_text(json.dumps(state, indent=2))
    except BaseException:
        say("start failed: stopping what was started")
        STATE.write_text(json.dumps(state))
        cmd_stop(Namespace(purge=False))
        raise
    say("")
    say("up:")
    say(f"  primary    {db_url(primary)}")
    say(f"  replica    {db_url(replica)}   (streaming; hot standby)")
    say(f"  pgbouncer  {db_url(bouncer)}   (pool_mode=transaction)")
    for port, pid in zip((app1, app2), state["gunicorn_pids"], strict=True):
        say(f"  app        http://127.0.0.1:{port}   gunicorn pid {pid}, {args.workers} sync workers")
    say("  apps use   DATABASE_URL=<pgbouncer> DB_PGBOUNCER=1 DATABASE_REPLICA_URL=<replica>")
    say("next: scripts/scaleout.py hot-slot; scripts/scaleout.py status; scripts/scaleout.py stop")
    return 0


REPLICATION_SQL = """
SELECT application_name, state, sync_state, sent_lsn, replay_lsn, coalesce(replay_lag::text, '0')
  FROM pg_stat_replication
"""
DB_STATS_SQL = "SELECT xact_commit, tup_returned, tup_fetched FROM pg_stat_database WHERE datname = %s"


def cmd_status(args: argparse.Namespace) -> int:
    state = load_state()
    ports = state["ports"]
    say("pg_stat_replication (primary):")
    say("  " + psql(ports["primary"], REPLICATION_SQL))
    say("replica: in recovery | replay delay")
    say("  " + psql(ports["replica"], "SELECT pg_is_in_recovery(), now() - pg_last_xact_replay_timestamp()"))
    say(f"reads served: xact_commit | tup_returned | tup_fetched of {DB_NAME}")
    say("  primary: " + psql(ports["primary"], DB_STATS_SQL, params=[DB_NAME]))
    say("  replica: " + psql(ports["replica"], DB_STATS_SQL, params=[DB_NAME]))
    say("pgbouncer SHOW POOLS (database | user | cl_active | cl_waiting | sv_active | sv_idle | pool_mode):")
    import psycopg

    with psycopg.connect(db_url(ports["pgbouncer"], "pgbouncer"), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SHOW POOLS")
        cols = [c.name for c in cur.description or []]
        for row in cur.fetchall():
            r = dict(zip(cols, row, strict=True))
            if r["database"] == DB_NAME:
                say(
                    f"  {r['database']} | {r['user']} | {r['cl_active']} | {r['cl_waiting']} | "
                    f"{r['sv_active']} | {r['sv_idle']} | {r['pool_mode']}"
                )
    return 0


def cmd_hot_slot(args: argparse.Namespace) -> int:
    state = load_state()
    ports = state["ports"]
    cmd = [
        sys.executable, str(ROOT / "scripts" / "loadbench.py"), "hot-slot",
        "--database-url", db_url(ports["primary"]),
        "--client", "aiohttp", "--clients", str(args.clients), "--capacity", str(args.capacity),
        "--repeat", str(args.repeat), "--out", str(BASE / "hot-slot.json"),
    ]  # fmt: skip
    for port in ports["apps"]:
        cmd += ["--base-url", f"http://127.0.0.1:{port}"]
    say("$ " + " ".join(cmd[1:]))
    return subprocess.call(cmd, cwd=ROOT)


def _stop_pid(pid: int, name: str, group: bool) -> None:
    try:
        os.killpg(pid, signal.SIGTERM) if group else os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            say(f"{name} pid {pid} stopped")
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL) if group else os.kill(pid, signal.SIGKILL)
    say(f"{name} pid {pid} killed")


def cmd_stop(args: argparse.Namespace) -> int:
    state = json.loads(STATE.read_text()) if STATE.is_file() else {}
    for pid in state.get("gunicorn_pids", []):
        _stop_pid(pid, "gunicorn", group=True)  # started in a session of its own: master + workers
    pid = pgbouncer_pid()
    if pid:
        _stop_pid(pid, "pgbouncer", group=False)
    for name in ("replica", "primary"):
        datadir = BASE / name
        if (datadir / "postmaster.pid").is_file():
            with contextlib.suppress(subprocess.CalledProcessError):
                pg_ctl(datadir, "-m", "fast", "-w", "stop")
                say(f"{name} stopped")
    with contextlib.suppress(FileNotFoundError):
        STATE.unlink()
    if getattr(args, "purge", False) and BASE.exists():
        shutil.rmtree(BASE)
        say(f"removed {BASE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scaleout.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start primary, replica, PgBouncer and two app instances")
    up.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per instance (default 2)")
    up.add_argument("--pool-size", type=int, default=20, help="PgBouncer server connections (default 20)")
    up.add_argument("--base-port", type=int, default=55432, help="first port tried (default 55432)")
    up.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"),
        help="REDIS_URL of the apps (default $REDIS_URL, else redis://127.0.0.1:6379/13)",
    )
    up.add_argument("--no-data", action="store_true", help="migrate only; no scale dataset")
    sub.add_parser("status", help="replication state, reads per server, PgBouncer pools")
    hot = sub.add_parser("hot-slot", help="500 customers join one slot through both instances")
    hot.add_argument("--clients", type=int, default=500)
    hot.add_argument("--capacity", type=int, default=20)
    hot.add_argument("--repeat", type=int, default=3)
    stop = sub.add_parser("stop", help="stop everything `up` started")
    stop.add_argument("--purge", action="store_true", help="also delete .data/scaleout/")
    args = parser.parse_args(argv)
    return {"up": cmd_up, "status": cmd_status, "hot-slot": cmd_hot_slot, "stop": cmd_stop}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
