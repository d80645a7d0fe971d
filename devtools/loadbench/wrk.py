"""Mode `wrk`: every endpoint alone against /api/v1/health/ in the same run, driven by wrk (C), not Python.

The Python load generator costs 0.25-1 ms of CPU per request, a large share of a 2-core
machine; wrk costs a few microseconds, so the ratio endpoint / health measures the app.

For each ``--connections`` level it runs, ``--duration`` seconds each::

    health, endpoint 1, health, endpoint 2, health, ..., endpoint N, health

and reports each endpoint's req/s, latency p50/p99 (wrk ``--latency``), non-2xx count and its
ratio to the mean of the two health runs around it (the machine's state drifts: the
neighbouring health runs are the fairest reference). With ``--start-gunicorn`` it also reports
gunicorn's and PostgreSQL's CPU milliseconds per request (psutil, devtools/loadbench/cpu.py),
the input of the capacity model.

The requests come from files written before the first run into ``.data/bench/wrk/`` (one
request a line: method, path, token, body; read by ``wrk/requests.lua``): real ids and filters
from the database (devtools/loadbench/dataset.py), access tokens of the dataset's customers and
merchants (devtools/loadbench/auth.py; refresh tokens cached per database in
``.data/bench/wrk/tokens-<db>.json``). ``join`` (``wrk/join.lua``) walks (customer, slot)
pairs so that none repeats, from an offset kept in ``.data/bench/wrk/join_offset``, over
``--join-slots`` future slots; it counts 201 / 409 by error code / others. The benchmark's
gunicorn gets ``BOOKING_MAX_UNPAID_HOLDS`` / ``BOOKING_MAX_FREE_HOLDS`` raised along with the
throttles, so a customer may hold many seats (the cap is still counted, only not reached).
Joins are not cancelled: every 201 keeps an unpaid hold until it expires (15 minutes). Use a
benchmark database.

``mixed`` is one request file with the ``--mix`` weights (join lines use new pairs too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import resource
import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import psycopg

from devtools.loadbench.actions import catalog_params
from devtools.loadbench.auth import Account, TokenCache, authenticate, keep_tokens_fresh
from devtools.loadbench.common import API, DATA_DIR, SATURATION_TARGET, SetupError, iso, now_utc, say
from devtools.loadbench.cpu import CpuProbe
from devtools.loadbench.dataset import Dataset, load_dataset
from devtools.loadbench.results import fmt_ms, fmt_num, machine_info, public_config, write_json
from devtools.loadbench.servers import bench_secret_key
from devtools.loadbench.stats import median_of

LUA_DIR = Path(__file__).resolve().parent / "wrk"
WRK_ENDPOINTS = ("health", "catalog", "theme", "slots", "my_bookings", "participants", "join", "mixed")
# What the benchmark's gunicorn gets besides the raised throttles (see the module docstring).
SERVER_OVERRIDES = {"BOOKING_MAX_UNPAID_HOLDS": "1000000", "BOOKING_MAX_FREE_HOLDS": "1000000"}
REQUEST_LINES = 4000  # request lines per endpoint file (catalog filters, theme ids, ...)

# --- wrk's text report --------------------------------------------------------------------------
_UNITS_US = {"us": 1.0, "ms": 1_000.0, "s": 1_000_000.0, "m": 60_000_000.0, "h": 3_600_000_000.0}


def duration_us(text: str) -> float:
    """'25.52ms' -> 25520.0 (wrk prints us, ms, s, m, h)."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS_US[m.group(2)]


def parse_wrk_output(text: str) -> dict:
    """The figures of one wrk run (with --latency): from its WRKJSON line if the script printed one,
    else from wrk's text report. Latencies in milliseconds."""
    for line in text.splitlines():
        if line.startswith("WRKJSON "):
            raw = json.loads(line[len("WRKJSON ") :])
            lat = raw["latency_us"]
            seconds = raw["duration_us"] / 1e6
            return {
                "requests": raw["requests"],
                "duration_s": round(seconds, 3),
                "rps": raw["requests"] / seconds if seconds > 0 else 0.0,
                "p50_ms": lat["p50"] / 1000.0,
                "p75_ms": lat["p75"] / 1000.0,
                "p90_ms": lat["p90"] / 1000.0,
                "p99_ms": lat["p99"] / 1000.0,
                "mean_ms": lat["mean"] / 1000.0,
                "max_ms": lat["max"] / 1000.0,
                "non_2xx": raw["errors"]["status"],
                "socket_errors": {k: v for k, v in raw["errors"].items() if k != "status"},
                "statuses": {str(k): v for k, v in raw.get("statuses", {}).items()},
                "codes": dict(raw.get("codes", {})),
            }
    out: dict = {"non_2xx": 0, "socket_errors": {}, "statuses": {}, "codes": {}}
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+),", text, flags=re.MULTILINE)
    if not m:
        raise ValueError("no 'N requests in T' line in wrk's output")
    out["requests"] = int(m.group(1))
    out["duration_s"] = round(duration_us(m.group(2)) / 1e6, 3)
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, flags=re.MULTILINE)
    out["rps"] = float(m.group(1)) if m else out["requests"] / out["duration_s"]
    for pct in (50, 75, 90, 99):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+([0-9.]+\w+)", text, flags=re.MULTILINE)
        out[f"p{pct}_ms"] = duration_us(m.group(1)) / 1000.0 if m else None
    m = re.search(r"^\s*Latency\s+([0-9.]+\w+)\s+([0-9.]+\w+)\s+([0-9.]+\w+)", text, flags=re.MULTILINE)
    if m:
        out["mean_ms"] = duration_us(m.group(1)) / 1000.0
        out["max_ms"] = duration_us(m.group(3)) / 1000.0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        out["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
    return out


def ratio_to_health(rps: float | None, health_before: float | None, health_after: float | None) -> float | None:
    """An endpoint's req/s over the mean of the health runs right before and after it (either may be missing)."""
    refs = [h for h in (health_before, health_after) if h]
    if rps is None or not refs:
        return None
    return rps / (sum(refs) / len(refs))


# --- request files -----------------------------------------------------------------------------
def request_line(method: str, path: str, token: str = "", body: str = "") -> str:
    return "\t".join((method, path, token or "-", body or "-"))


def with_query(path: str, params: dict[str, str] | None) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def slots_params(rng: random.Random) -> dict[str, str] | None:
    """As actions.act_slots: a third of the requests ask for the next two weeks."""
    if rng.random() < 0.3:
        start = now_utc().replace(microsecond=0)
        return {"from": iso(start), "to": iso(start + timedelta(days=14))}
    return None


@dataclass
class Files:
    directory: Path
    requests: dict[str, Path] = field(default_factory=dict)  # endpoint -> requests.lua file
    join_tokens: Path | None = None
    join_slots: Path | None = None


def endpoint_lines(name: str, ds: Dataset, rng: random.Random, n: int) -> list[str]:
    customers = [a for a in ds.customers if a.access]
    merchants = [(a, s) for a, s in ds.merchants if a.access and s]
    if name == "health":
        return [request_line("GET", f"{API}/health/")]
    if name == "catalog":
        return [request_line("GET", with_query(f"{API}/themes/", catalog_params(rng, ds))) for _ in range(n)]
    if name == "theme":
        return [request_line("GET", f"{API}/themes/{rng.choice(ds.theme_ids)}/") for _ in range(n)]
    if name == "slots":
        return [
            request_line("GET", with_query(f"{API}/themes/{rng.choice(ds.theme_ids)}/slots/", slots_params(rng)))
            for _ in range(n)
        ]
    if name == "my_bookings":
        return [request_line("GET", f"{API}/bookings/", a.access) for a in customers]
    if name == "participants":
        lines = []
        for _ in range(n):
            acc, sids = rng.choice(merchants)
            lines.append(request_line("GET", f"{API}/slots/{rng.choice(sids)}/participants/", acc.access))
        return lines
    raise ValueError(name)


def coprime_slots(slots: list[tuple[int, int]], customers: int) -> list[tuple[int, int]]:
    """The longest prefix of `slots` whose length is coprime with `customers`: then pairs
    (g % customers, g % len) do not repeat before customers x len requests."""
    n = len(slots)
    while n > 1 and math.gcd(n, customers) != 1:
        n -= 1
    return slots[:n]


def join_lines(ds: Dataset, offset: int, n: int) -> list[str]:
    """n joins as join.lua makes them: pair g = customer g % C on slot g % S (S coprime with C)."""
    customers = [a for a in ds.customers if a.access]
    slots = coprime_slots(ds.join_slots, len(customers))
    lines = []
    for g in range(offset, offset + n):
        sid, party = slots[g % len(slots)]
        body = json.dumps({"party_size": party})
        lines.append(request_line("POST", f"{API}/slots/{sid}/join/", customers[g % len(customers)].access, body))
    return lines


def mixed_lines(ds: Dataset, mix: dict[str, float], rng: random.Random, join_offset: int) -> list[str]:
    total = sum(mix.values())
    per = {name: max(1, round(REQUEST_LINES * w / total)) for name, w in mix.items() if w > 0}
    lines: list[str] = []
    for name, count in per.items():
        if name == "join":
            lines += join_lines(ds, join_offset, count)
        else:
            pool = endpoint_lines(name, ds, rng, count)
            lines += [pool[i % len(pool)] for i in range(count)]
    rng.shuffle(lines)
    return lines


def next_join_offset(directory: Path, used: int) -> int:
    """The first unused pair index, kept across runs so a rerun joins new (customer, slot) pairs."""
    path = directory / "join_offset"
    try:
        start = int(path.read_text().strip())
    except (OSError, ValueError):
        start = 0
    path.write_text(str(start + used))
    return start


def write_files(directory: Path, ds: Dataset, endpoints: list[str], mix: dict[str, float], seed: int) -> Files:
    directory.mkdir(parents=True, exist_ok=True)
    files = Files(directory)
    rng = random.Random(seed)
    for name in endpoints:
        if name == "join":
            continue
        if name == "mixed":
            lines = mixed_lines(ds, mix, rng, next_join_offset(directory, REQUEST_LINES))
        else:
            lines = endpoint_lines(name, ds, rng, REQUEST_LINES)
        path = directory / f"{name}.tsv"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)  # live access tokens
        files.requests[name] = path
    if "join" in endpoints:
        files.join_tokens = directory / "join_tokens.txt"
        files.join_tokens.write_text("\n".join(a.access for a in ds.customers if a.access) + "\n")
        files.join_tokens.chmod(0o600)
        files.join_slots = directory / "join_slots.tsv"
        slots = coprime_slots(ds.join_slots, len([a for a in ds.customers if a.access]))
        files.join_slots.write_text("".join(f"{sid}\t{party}\n" for sid, party in slots))
    return files


# --- running wrk -------------------------------------------------------------------------------
def wrk_command(
    args: argparse.Namespace, base_url: str, endpoint: str, connections: int, files: Files, offset: int = 0
) -> list[str]:
    threads = max(1, min(args.wrk_threads, connections))
    cmd = [
        args.wrk, "-t", str(threads), "-c", str(connections), "-d", f"{args.duration:g}s",
        "--latency", "--timeout", f"{args.timeout:g}s",
    ]  # fmt: skip
    if endpoint == "join":
        assert files.join_tokens
        assert files.join_slots
        script_args = [str(files.join_tokens), str(files.join_slots), str(offset), str(threads)]
        cmd += ["-s", str(LUA_DIR / "join.lua"), base_url, "--", *script_args]
    else:
        cmd += ["-s", str(LUA_DIR / "requests.lua"), base_url, "--", str(files.requests[endpoint]), str(threads)]
    return cmd


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


async def run_wrk(cmd: list[str], probe: CpuProbe, timeout: float) -> dict:
    before = probe.snapshot()
    cpu0 = children_cpu()
    wall0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    wall = time.perf_counter() - wall0
    after = probe.snapshot()
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise SetupError(f"wrk exited {proc.returncode}: {text[-2000:]}")
    result = parse_wrk_output(text)
    usage = probe.usage(before, after, wall)
    usage["loadgen"] = round(100.0 * (children_cpu() - cpu0) / wall, 1) if wall > 0 else None  # wrk itself
    result["cpu_pct"] = usage
    n = result["requests"]
    for key, name in (("gunicorn", "app_cpu_ms_per_request"), ("postgres", "db_cpu_ms_per_request")):
        pct = usage.get(key)
        result[name] = round(pct / 100.0 * wall * 1000.0 / n, 3) if pct is not None and n else None
    return result


async def drain(base_url: str, pause: float, limit: float = 120.0) -> None:
    """Sleep `pause` s, then until one health request is answered within `pause` s (the backlog is empty)."""
    await asyncio.sleep(pause)
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(base_url=base_url, timeout=limit, trust_env=False) as client:
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                await client.get(f"{API}/health/")
            if time.monotonic() - t0 < pause:
                return
    say(f"   note: the server still answers slowly after {limit:.0f} s: the next run starts anyway")


def describe(name: str, conns: int, r: dict) -> str:
    cpu = r["cpu_pct"]
    parts = [f"{k} {v:.0f}" for k, v in cpu.items() if v is not None]
    extra = ""
    if r.get("app_cpu_ms_per_request") is not None:
        extra = f"  app {r['app_cpu_ms_per_request']:.2f} ms CPU/req"
        if r.get("db_cpu_ms_per_request") is not None:
            extra += f", db {r['db_cpu_ms_per_request']:.2f}"
    codes = f"  {r['statuses']} {r['codes']}" if r.get("statuses") else ""
    return (
        f"   {name:<13} c={conns:<4} {r['rps']:8.1f} req/s  p50 {fmt_ms(r['p50_ms'])} p99 {fmt_ms(r['p99_ms'])} ms  "
        f"non-2xx {r['non_2xx']}  cpu% {' '.join(parts)}{extra}{codes}"
    )


def summarise(level_runs: list[dict]) -> dict:
    """Per endpoint of one level: its run and its ratio to the health runs on either side."""
    out: dict = {}
    for i, run in enumerate(level_runs):
        if run["endpoint"] == "health":
            continue
        before = next((r["rps"] for r in reversed(level_runs[:i]) if r["endpoint"] == "health"), None)
        after = next((r["rps"] for r in level_runs[i + 1 :] if r["endpoint"] == "health"), None)
        row = dict(run)
        row["health_before_rps"], row["health_after_rps"] = before, after
        row["ratio_to_health"] = ratio_to_health(run["rps"], before, after)
        target = SATURATION_TARGET.get(run["endpoint"], 0.4 if run["endpoint"] == "mixed" else None)
        if target is not None and row["ratio_to_health"] is not None:
            row["ratio_target"] = target
            row["ratio_ok"] = row["ratio_to_health"] >= target
        out[run["endpoint"]] = row
    health = [r for r in level_runs if r["endpoint"] == "health"]
    if health:
        out["health"] = {
            "rps": sum(r["rps"] for r in health) / len(health),
            "runs": len(health),
            "min_rps": min(r["rps"] for r in health),
            "max_rps": max(r["rps"] for r in health),
            "app_cpu_ms_per_request": next(
                (r["app_cpu_ms_per_request"] for r in health if r.get("app_cpu_ms_per_request") is not None), None
            ),
        }
    return out


def print_table(conns: int, s: dict) -> None:
    say()
    h = s.get("health", {})
    say(
        f"### {conns} connections (health {fmt_num(h.get('rps'))} req/s on average over {h.get('runs', 0)} runs, "
        f"{fmt_num(h.get('min_rps'))}..{fmt_num(h.get('max_rps'))})"
    )
    say()
    say("| endpoint | req/s | p50 ms | p99 ms | non-2xx | ratio to health | app CPU ms/req | db CPU ms/req |")
    say("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, r in s.items():
        if name == "health":
            continue
        ratio = "-" if r["ratio_to_health"] is None else f"{r['ratio_to_health']:.2f}"
        if r.get("round_ratios"):
            ratio += " [" + " ".join("-" if x is None else f"{x:.2f}" for x in r["round_ratios"]) + "]"
        if r.get("ratio_ok") is False:
            ratio += f" (target {r['ratio_target']})"
        say(
            f"| {name} | {fmt_num(r['rps'])} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r['p99_ms'])} | {r['non_2xx']:,} | "
            f"{ratio} | {fmt_num(r.get('app_cpu_ms_per_request'), 2)} | {fmt_num(r.get('db_cpu_ms_per_request'), 2)} |"
        )
    join = s.get("join")
    if join and join.get("statuses"):
        say()
        say(f"join outcomes: statuses {join['statuses']}, error codes {join['codes']}")


def join_ok(statuses: dict) -> bool:
    """A join answers 201 or 409 (slot_full / already_booked / too_many_holds): anything else is an error."""
    return all(code in ("201", "409") for code in statuses)


async def wrk_main(args: argparse.Namespace, base_urls: list[str], conn: psycopg.Connection) -> int:
    if not shutil.which(args.wrk):
        raise SetupError(f"{args.wrk} not found: apt-get install wrk")
    endpoints = args.endpoints
    needs_customers = any(e in endpoints for e in ("my_bookings", "join", "mixed"))
    needs_merchants = any(e in endpoints for e in ("participants", "mixed"))
    ds = load_dataset(
        conn,
        customers=args.customers if needs_customers else 1,
        merchants=args.merchants if needs_merchants else 0,
        domain=args.email_domain,
        seed=args.seed,
        join_slots=args.join_slots,
        customers_with_holds=True,
    )
    base = base_urls[0]
    directory = Path(args.wrk_dir)
    db = urlsplit(args.database_url).path.lstrip("/") or "db"
    cache = TokenCache(None if args.no_token_cache else directory / f"tokens-{db}.json", wrk_token_scope(args, base))
    accounts: list[Account] = (ds.customers if needs_customers else []) + (
        [m for m, _ in ds.merchants] if needs_merchants else []
    )
    per_level = (args.duration + args.pause) * (2 * len([e for e in endpoints if e != "health"]) + 1) + 60
    total = per_level * len(args.connections) * args.repeat
    if accounts:
        await authenticate(
            [base], accounts, password=args.password, cache=cache, concurrency=args.login_concurrency,
            timeout=args.timeout,
        )  # fmt: skip
        if total > 14 * 60:
            say(f"note: the runs take about {total / 60:.0f} min: tokens are refreshed before each round")
        await keep_tokens_fresh([base], accounts, seconds=per_level, password=args.password, cache=cache, timeout=30)
    file_names = ["health", *[e for e in endpoints if e != "health"]]
    files = write_files(directory, ds, file_names, args.mix, args.seed)
    probe = CpuProbe(list(getattr(args, "server_pids", []) or []) + list(args.server_pid or []), conn)
    n_customers = len([a for a in ds.customers if a.access])
    results: dict[int, list[dict]] = {}
    rounds: dict[int, list[list[dict]]] = {}
    for conns in args.connections:
        rounds[conns] = []
        for rnd in range(args.repeat):
            if accounts and (conns, rnd) != (args.connections[0], 0):
                # The request files carry access tokens, which live 15 minutes: refresh (outside the measured
                # runs) those that would expire during this round, and write the files again if any did.
                held = [a.access for a in accounts]
                await keep_tokens_fresh(
                    [base], accounts, seconds=per_level, password=args.password, cache=cache, timeout=30
                )
                if [a.access for a in accounts] != held:
                    files = write_files(directory, ds, file_names, args.mix, args.seed)
            say(f"-- {conns} connections, {args.duration:g} s per run, round {rnd + 1} of {args.repeat}")
            rounds[conns].append(await _one_round(args, base, endpoints, conns, files, probe, n_customers, ds))
        results[conns] = [r for runs in rounds[conns] for r in runs]
    per_round = {c: [summarise(runs) for runs in rs] for c, rs in rounds.items()}
    summary = {c: median_summary(rs) for c, rs in per_round.items()}
    say()
    say("## wrk: each endpoint alone, against health in the same run")
    if args.repeat > 1:
        say(f"(medians of {args.repeat} rounds; per-round ratios in brackets)")
    for c in args.connections:
        print_table(c, summary[c])
    bad = 0
    for s in (r for rs in per_round.values() for r in rs):
        for name, r in s.items():
            if name == "health":
                continue
            sock = sum(r["socket_errors"].values()) if r.get("socket_errors") else 0
            if name == "join":
                bad += 0 if join_ok(r.get("statuses", {})) else 1
            elif name != "mixed" and r["non_2xx"]:
                bad += 1
            bad += 1 if sock else 0
    write_json(
        args,
        "wrk",
        {
            "mode": "wrk",
            "started": iso(now_utc()),
            "config": public_config(args),
            "machine": machine_info(conn),
            "dataset": ds.sizes,
            "summary": summary,
            "rounds": per_round,
            "runs": results,
        },
    )
    if bad:
        say(f"{bad} runs had unexpected statuses or socket errors (see the JSON)")
    return 1 if bad else 0


async def _one_round(
    args: argparse.Namespace,
    base: str,
    endpoints: list[str],
    conns: int,
    files: Files,
    probe: CpuProbe,
    n_customers: int,
    ds: Dataset,
) -> list[dict]:
    """health, then every endpoint followed by health again: one round's wrk runs."""
    runs: list[dict] = []
    sequence = ["health"]
    for e in endpoints:
        if e != "health":
            sequence += [e, "health"]
    for e in sequence:
        offset = 0
        if e == "join":
            # Enough fresh pairs for a generous rate; each run starts where the last one stopped.
            offset = next_join_offset(Path(args.wrk_dir), int(args.duration * 2000))
            if n_customers * len(ds.join_slots) < offset + args.duration * 2000:
                say("   note: (customer, slot) pairs start repeating: expect already_booked")
        cmd = wrk_command(args, base, e, conns, files, offset)
        if runs and args.pause > 0:
            # Requests still queued in the listen backlog when wrk stopped would run into this run.
            await drain(base, args.pause)
        r = await run_wrk(cmd, probe, timeout=args.duration + args.timeout + 30)
        r["endpoint"], r["connections"] = e, conns
        say(describe(e, conns, r))
        runs.append(r)
    return runs


_MEDIAN_FIELDS = (
    "rps",
    "p50_ms",
    "p99_ms",
    "ratio_to_health",
    "app_cpu_ms_per_request",
    "db_cpu_ms_per_request",
    "health_before_rps",
    "health_after_rps",
)


def median_summary(rounds: list[dict]) -> dict:
    """Per endpoint, the median of each figure over the rounds (the ratio: median of the per-round ratios).

    Each round's ratio is taken against the health runs beside it in that round, so a noisy
    stretch moves both; `round_ratios` and `round_rps` keep every round's figure. Counts
    (non-2xx, statuses, error codes) are summed.
    """
    if len(rounds) == 1:
        return rounds[0]
    out: dict = {}
    for name in rounds[0]:
        rows = [r[name] for r in rounds if name in r]
        if name == "health":
            rps = [r["rps"] for r in rows]
            out[name] = {
                "rps": median_of(rps),
                "runs": sum(r["runs"] for r in rows),
                "min_rps": min(r["min_rps"] for r in rows),
                "max_rps": max(r["max_rps"] for r in rows),
                "app_cpu_ms_per_request": median_of([r.get("app_cpu_ms_per_request") for r in rows]),
            }
            continue
        row = dict(rows[0])
        for key in _MEDIAN_FIELDS:
            row[key] = median_of([r.get(key) for r in rows])
        row["non_2xx"] = sum(r["non_2xx"] for r in rows)
        row["round_ratios"] = [r.get("ratio_to_health") for r in rows]
        row["round_rps"] = [r["rps"] for r in rows]
        statuses: dict = {}
        codes: dict = {}
        for r in rows:
            for k, v in (r.get("statuses") or {}).items():
                statuses[k] = statuses.get(k, 0) + v
            for k, v in (r.get("codes") or {}).items():
                codes[k] = codes.get(k, 0) + v
        row["statuses"], row["codes"] = statuses, codes
        if row.get("ratio_target") is not None and row["ratio_to_health"] is not None:
            row["ratio_ok"] = row["ratio_to_health"] >= row["ratio_target"]
        out[name] = row
    return out


def wrk_token_scope(args: argparse.Namespace, base_url: str) -> str:
    db = urlsplit(args.database_url).path.lstrip("/")
    if args.start_gunicorn:
        import hashlib

        return f"{db}|{hashlib.sha256(bench_secret_key().encode()).hexdigest()[:16]}"
    return f"{db}|{base_url}"


def add_arguments(w: argparse.ArgumentParser, int_list, positive_int, parse_mix, default_mix: str) -> None:
    w.add_argument("--connections", type=int_list, default=[32, 128], help="wrk -c levels (default 32,128)")
    w.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    w.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        help="rounds of the whole sequence per level; the table shows medians (default 1)",
    )
    w.add_argument(
        "--endpoints",
        type=lambda t: [e for e in (x.strip() for x in t.split(",")) if e],
        default=[e for e in WRK_ENDPOINTS if e != "health"],
        help=f"endpoints in order (default all: {','.join(WRK_ENDPOINTS[1:])}); health runs between them",
    )
    w.add_argument(
        "--pause",
        type=float,
        default=3.0,
        help="seconds between runs; then the next run waits until a health request takes less than that "
        "(the server drained its backlog; default 3)",
    )
    w.add_argument("--wrk", default="wrk", help="the wrk binary (default wrk on $PATH)")
    w.add_argument("--wrk-threads", type=positive_int, default=2, help="wrk -t (default 2)")
    w.add_argument("--wrk-dir", default=str(DATA_DIR / "wrk"), help="where the request and token files go")
    w.add_argument("--customers", type=positive_int, default=128, help="customer logins (my bookings, join)")
    w.add_argument("--merchants", type=positive_int, default=32, help="merchant logins (participants)")
    w.add_argument("--join-slots", type=positive_int, default=5000, help="future open slots the joins spread over")
    w.add_argument("--mix", type=parse_mix, default=parse_mix(default_mix), help=f"mixed weights ({default_mix})")
    w.add_argument(
        "--server-pid",
        type=int,
        action="append",
        help="without --start-gunicorn: a gunicorn master pid whose CPU (and its workers') is measured",
    )


def check_endpoints(endpoints: list[str]) -> str | None:
    unknown = [e for e in endpoints if e not in WRK_ENDPOINTS]
    if unknown:
        return f"unknown --endpoints {', '.join(unknown)} (known: {', '.join(WRK_ENDPOINTS)})"
    if not endpoints:
        return "--endpoints is empty"
    return None
