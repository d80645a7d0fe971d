"""Server-side CPU (best effort, psutil): how busy the load generator, gunicorn, PostgreSQL and the rest were."""

from __future__ import annotations

import contextlib
import time

import psycopg

try:
    import psutil
except ImportError:  # optional: the CPU columns are then left out
    psutil = None

BACKEND_PIDS_SQL = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


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
