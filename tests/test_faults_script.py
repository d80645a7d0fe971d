"""scripts/faults.py: the verdict rules of the fault-injection table (no servers started here).

The script itself starts PostgreSQL, Redis, localstripe, gunicorn and Celery and runs
for minutes; docs/RELIABILITY.md has its results. These tests pin what makes a row fail.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "faults.py"


@pytest.fixture(scope="module")
def faults():
    spec = importlib.util.spec_from_file_location("faults_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults_script"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["faults_script"]


def _outcome(faults, statuses, ledger=None):
    ctx = faults.RunContext("http://127.0.0.1:1", "http://127.0.0.1:2", [], max_journeys=1, seconds=0)
    for status in statuses:
        ctx.record(faults.Attempt(step="join", status=status, error="", seconds=0.1, phase="fault"))
    scenario = faults.Scenario("x", "x", faults._noop, faults._noop)
    return faults.Outcome(scenario, ctx, ledger or faults.Ledger(), [], 0.0, "")


def test_503s_alone_do_not_fail_a_row(faults):
    assert not _outcome(faults, [201, 503, 503, 409]).failing


@pytest.mark.parametrize("status", [500, 502, None])
def test_a_500_another_5xx_or_no_answer_fails_the_row(faults, status):
    assert _outcome(faults, [201, status]).failing


def test_calls_to_the_stripe_stand_in_do_not_count_as_app_answers(faults):
    outcome = _outcome(faults, [201])
    outcome.ctx.record(faults.Attempt(step="stripe.js", status=None, error="ReadTimeout", seconds=10, phase="fault"))

    assert outcome.requests == 1
    assert not outcome.failing


@pytest.mark.parametrize(
    "ledger",
    [
        {"emails_expected": 3, "emails_sent": 2},
        {"refunds_expected": 2, "refunds_succeeded": 1},
        {"paid_unsettled": 1},
        {"double_charges": 1},
        {"double_refunds": 1},
        {"refunds_of_kept_bookings": 1},
        {"errors": ["check failed"]},
    ],
)
def test_anything_lost_or_unknown_fails_the_row(faults, ledger):
    assert _outcome(faults, [201], faults.Ledger(**ledger)).failing


def test_duplicate_refund_objects_of_one_refund_at_the_stand_in_are_not_a_loss(faults):
    """localstripe ignores idempotency keys: a retried refund call makes a second object Stripe would not."""
    ledger = faults.Ledger(refunds_expected=1, refunds_succeeded=1, stripe_duplicate_refund_objects=1)

    assert ledger.lost == 0
    assert not _outcome(faults, [201], ledger).failing


def test_the_script_lists_its_commands():
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "conn-health-checks" in result.stdout
