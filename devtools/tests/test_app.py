"""`manage.py load_scale_data` exists where the devtools app is installed (DEBUG on, or BOOKWISE_DEVTOOLS=1) only."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage_help(**env: str) -> subprocess.CompletedProcess:
    """`manage.py help load_scale_data` with only `env` (plus PATH/HOME); a developer's .env is ignored."""
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DJANGO_READ_DOT_ENV_FILE": "False"}
    return subprocess.run(
        [sys.executable, "manage.py", "help", "load_scale_data"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**extra: str) -> dict[str, str]:
    return {
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(16)}",
        "STRIPE_PUBLISHABLE_KEY": f"pk_test_{secrets.token_hex(16)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        **extra,
    }


@pytest.mark.parametrize("env", [{"DEBUG": "True"}, production_env(BOOKWISE_DEVTOOLS="True")], ids=["debug", "flag"])
def test_development_has_the_load_scale_data_command(env):
    result = manage_help(**env)

    assert result.returncode == 0, result.stderr
    assert "--not-production" in result.stdout


def test_production_has_no_load_scale_data_command():
    result = manage_help(**production_env())

    assert result.returncode != 0
    assert "Unknown command: 'load_scale_data'" in result.stderr
