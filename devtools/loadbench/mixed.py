"""Mode `mixed`: mixed traffic at several concurrency levels, health ceiling, each endpoint alone."""

from __future__ import annotations

import argparse
import asyncio
import random
from dataclasses import asdict

import psycopg

from devtools.loadbench.actions import VirtualUser
from devtools.loadbench.auth import TokenCache, authenticate, keep_tokens_fresh, token_scope
from devtools.loadbench.clients import CLIENTS
from devtools.loadbench.common import ACTIONS, DATA_DIR, MIXED_ENDPOINTS, SATURATION_TARGET, iso, now_utc, say
from devtools.loadbench.cpu import CpuProbe
from devtools.loadbench.dataset import load_dataset
from devtools.loadbench.phases import cpu_text, describe_phase, fixed_chooser, loud_5xx, run_phase, weighted_chooser
from devtools.loadbench.results import fmt_ms, fmt_num, machine_info, public_config, write_json
from devtools.loadbench.stats import median_of


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
