"""What every part of the benchmark shares: paths, the endpoint names and targets, setup errors, output."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / ".data" / "bench"
API = "/api/v1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_DOMAIN = "scale.bookwise.test"  # as in devtools/scale/generator.py
DEFAULT_PASSWORD = "bookwise-scale"

MIXED_ENDPOINTS = ("catalog", "theme", "slots", "join", "cancel", "my_bookings", "participants")
READS = ("catalog", "theme", "slots", "my_bookings", "participants")
# A saturation phase runs one action alone; join's action is join + cancel (two endpoints).
ACTIONS = ("catalog", "theme", "slots", "join", "my_bookings", "participants")
DEFAULT_MIX = "catalog=30,theme=20,slots=20,join=10,my_bookings=12,participants=8"
SERVICE_P95_TARGET_MS = {**dict.fromkeys(READS, 30.0), "join": 60.0}
SATURATION_TARGET = {**dict.fromkeys(READS, 0.5), "join": 0.25}
SCALE_FREE_FACTOR = 1.5
HOT_SLOT_MIN_TIMEOUT = 120.0
# Expected refusals of a join under contention: counted apart, not as errors.
REFUSED_CODES = frozenset({"slot_full", "already_booked"})
SEARCH_TERMS = (
    "escape", "cooking", "tour", "pottery", "wine", "kayak", "yoga", "photography",
    "pasta", "sushi", "haunted", "sunset", "street art", "night", "beginners", "chef",
)  # fmt: skip
ORDERINGS = ("price", "-price", "-rating_avg", "title")
PRICE_FLOORS = (0, 1000, 2000, 5000)
PRICE_SPANS = (1000, 3000, 10000)


class SetupError(Exception):
    """A problem before measuring (server, data, logins): exit status 2."""


def say(text: str = "") -> None:
    print(text, flush=True)


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")
