"""Mode `compare`: the scale-free check between a small-dataset run and a full-size one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from devtools.loadbench.common import SCALE_FREE_FACTOR, SetupError, say
from devtools.loadbench.results import fmt_num


def p50s_of(data: dict) -> dict[str, float]:
    if data.get("mode") == "service":
        return {ep: r["p50_ms"] for ep, r in data["endpoints"].items() if r.get("p50_ms") is not None}
    if data.get("mode") == "mixed":
        level = min(data["summary"], key=int)  # one client: latency without queueing
        eps = data["summary"][level]["endpoints"]
        return {ep: r["p50_ms"] for ep, r in eps.items() if r.get("p50_ms") is not None}
    raise SetupError("compare reads the JSON of a service or mixed run")


def compare_main(args: argparse.Namespace) -> int:
    small, full = (json.loads(Path(p).read_text()) for p in (args.small, args.full))
    a, b = p50s_of(small), p50s_of(full)
    sa = small.get("dataset", {}).get("bookings_booking")
    sb = full.get("dataset", {}).get("bookings_booking")
    say(f"## Scale-free check: p50 with {fmt_num(sb, 0)} bookings vs {fmt_num(sa, 0)} (target <= {SCALE_FREE_FACTOR}x)")
    say()
    say("| endpoint | small p50 ms | full p50 ms | ratio | |")
    say("|---|--:|--:|--:|---|")
    ok = True
    for ep in sorted(set(a) & set(b)):
        ratio = b[ep] / a[ep] if a[ep] else None
        good = ratio is not None and ratio <= SCALE_FREE_FACTOR
        ok &= good or ep == "health"
        say(f"| {ep} | {a[ep]:.1f} | {b[ep]:.1f} | {fmt_num(ratio, 2)} | {'ok' if good else 'MISS'} |")
    return 0 if ok else 1
