"""Latency and outcome statistics of one phase, per endpoint."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

from devtools.loadbench.common import REFUSED_CODES


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def median_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass
class EndpointStats:
    """What one endpoint did in one phase."""

    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    refused: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # "status code" or exception name -> count
    server_errors: int = 0
    in_window: int = 0  # completions before the deadline: the throughput numerator
    error_examples: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.ok + sum(self.refused.values()) + sum(self.errors.values())

    def summary(self, window_s: float) -> dict:
        lat = sorted(self.latencies_ms)
        return {
            "count": self.count,
            "ok": self.ok,
            "refused": sum(self.refused.values()),
            "refused_by_code": dict(self.refused),
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "server_errors": self.server_errors,
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99),
            "max_ms": lat[-1] if lat else None,
            "rps": self.in_window / window_s if window_s > 0 else None,
            "error_examples": self.error_examples,
        }


class Recorder:
    """Collects every response of one phase, per endpoint."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self.endpoints: dict[str, EndpointStats] = {}

    def stats(self, endpoint: str) -> EndpointStats:
        return self.endpoints.setdefault(endpoint, EndpointStats())

    def record(
        self,
        endpoint: str,
        started: float,
        ended: float,
        status: int | None,
        *,
        code: str | None = None,
        detail: str = "",
    ) -> None:
        st = self.stats(endpoint)
        if self.deadline is None or ended <= self.deadline:
            st.in_window += 1
        if status is None:  # transport error or timeout: no latency
            st.errors[detail or "exception"] += 1
            kind = "error"
        else:
            st.latencies_ms.append((ended - started) * 1000.0)
            if 200 <= status < 300:
                st.ok += 1
                return
            if endpoint == "join" and status == 409 and code in REFUSED_CODES:
                st.refused[code] += 1
                return
            if status >= 500:
                st.server_errors += 1
            st.errors[f"{status} {code}" if code else str(status)] += 1
            kind = str(status)
        if len(st.error_examples) < 5:
            st.error_examples.append(f"{kind}: {detail[:200]}")
