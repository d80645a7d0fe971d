"""Results: the machine's description, the JSON file, number formatting."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import psycopg

from devtools.loadbench.common import DATA_DIR, ROOT, say


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
