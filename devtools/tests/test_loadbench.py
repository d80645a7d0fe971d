"""scripts/loadbench.py, a thin entry point of devtools/loadbench: its command line and the offline `compare` mode."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "loadbench.py"


def loadbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def service_run(path: Path, **p50s: float) -> Path:
    endpoints = {ep: {"p50_ms": value} for ep, value in p50s.items()}
    path.write_text(json.dumps({"mode": "service", "dataset": {"bookings_booking": 1000}, "endpoints": endpoints}))
    return path


def test_the_script_lists_its_modes():
    result = loadbench("--help")

    assert result.returncode == 0, result.stderr
    for mode in ("mixed", "service", "hot-slot", "wrk", "compare"):
        assert mode in result.stdout


def test_compare_passes_within_the_scale_free_factor_and_fails_beyond_it(tmp_path):
    small = service_run(tmp_path / "small.json", catalog=10.0, join=20.0)

    within = loadbench("compare", str(small), str(service_run(tmp_path / "ok.json", catalog=14.0, join=29.0)))
    beyond = loadbench("compare", str(small), str(service_run(tmp_path / "slow.json", catalog=16.0, join=20.0)))

    assert within.returncode == 0, within.stdout + within.stderr
    assert "| catalog | 10.0 | 14.0 | 1.40 | ok |" in within.stdout
    assert beyond.returncode == 1, beyond.stdout + beyond.stderr
    assert "| catalog | 10.0 | 16.0 | 1.60 | MISS |" in beyond.stdout
