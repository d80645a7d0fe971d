"""Mode `service`: one client, sequential requests, p50/p95/p99 against the targets."""

from __future__ import annotations

import argparse
import random
import time

import psycopg

from devtools.loadbench.actions import ACTION_FUNCS, VirtualUser
from devtools.loadbench.auth import TokenCache, authenticate, keep_tokens_fresh, token_scope
from devtools.loadbench.clients import CLIENTS
from devtools.loadbench.common import DATA_DIR, MIXED_ENDPOINTS, SERVICE_P95_TARGET_MS, iso, now_utc, say
from devtools.loadbench.cpu import CpuProbe
from devtools.loadbench.dataset import load_dataset
from devtools.loadbench.phases import cpu_text
from devtools.loadbench.results import fmt_ms, machine_info, public_config, write_json
from devtools.loadbench.stats import Recorder


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
