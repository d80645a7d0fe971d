"""Phases: every virtual user loops over its actions for a duration; the result per endpoint and CPU."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from devtools.loadbench.actions import ACTION_FUNCS, VirtualUser
from devtools.loadbench.common import say
from devtools.loadbench.cpu import CpuProbe
from devtools.loadbench.dataset import Dataset
from devtools.loadbench.results import fmt_num
from devtools.loadbench.stats import Recorder


@dataclass
class PhaseResult:
    name: str
    clients: int
    duration_s: float
    endpoints: dict[str, dict]
    total_rps: float
    cpu_pct: dict[str, float | None]  # loadgen, gunicorn, postgres, other, machine (100 = one core)
    loadgen_cpu_ms_per_request: float | None


async def run_phase(
    name: str,
    vus: list[VirtualUser],
    ds: Dataset,
    *,
    duration: float,
    max_requests: int,
    choose: Callable[[random.Random], str],
    probe: CpuProbe,
) -> PhaseResult:
    """Every virtual user loops until the deadline or until the phase's request budget is spent."""
    budget = max_requests
    before = probe.snapshot()
    wall0 = time.perf_counter()
    deadline = wall0 + duration
    rec = Recorder(deadline)

    async def loop(vu: VirtualUser) -> None:
        nonlocal budget
        while budget > 0 and time.perf_counter() < deadline:
            budget -= 1
            await ACTION_FUNCS[choose(vu.rng)](vu, rec, ds)

    await asyncio.gather(*(loop(vu) for vu in vus))
    wall = time.perf_counter() - wall0
    after = probe.snapshot()
    window = min(duration, wall)
    endpoints = {ep: st.summary(window) for ep, st in sorted(rec.endpoints.items())}
    total_in_window = sum(st.in_window for st in rec.endpoints.values())
    total = sum(st.count for st in rec.endpoints.values())
    client_s = after["client"] - before["client"]
    return PhaseResult(
        name=name,
        clients=len(vus),
        duration_s=round(wall, 3),
        endpoints=endpoints,
        total_rps=total_in_window / window if window > 0 else 0.0,
        cpu_pct=probe.usage(before, after, wall),
        loadgen_cpu_ms_per_request=round(1000.0 * client_s / total, 3) if total else None,
    )


def weighted_chooser(mix: dict[str, float]) -> Callable[[random.Random], str]:
    names = list(mix)
    cum = []
    total = 0.0
    for n in names:
        total += mix[n]
        cum.append(total)

    def choose(rng: random.Random) -> str:
        x = rng.random() * total
        for n, c in zip(names, cum, strict=True):
            if x < c:
                return n
        return names[-1]

    return choose


def fixed_chooser(action: str) -> Callable[[random.Random], str]:
    return lambda _rng: action


def describe_phase(r: PhaseResult) -> str:
    errs = sum(e["errors"] for e in r.endpoints.values())
    five = sum(e["server_errors"] for e in r.endpoints.values())
    return (
        f"{r.name:<22} {r.clients:>4} clients {r.total_rps:8.1f} req/s  errors {errs}  5xx {five}  "
        f"cpu% {cpu_text(r.cpu_pct)}"
    )


def cpu_text(cpu: dict[str, float | None]) -> str:
    return " ".join(f"{k} {fmt_num(v, 0)}" for k, v in cpu.items() if v is not None)


def loud_5xx(r: PhaseResult) -> None:
    for ep, e in r.endpoints.items():
        if e["server_errors"]:
            say(f"!!! 5xx: {e['server_errors']} server errors on {ep} in {r.name} ({r.clients} clients)")
            for ex in e["error_examples"]:
                say(f"!!!   {ex}")
