"""The embedded development servers, migrations and the production guard of settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command

from devtools.embedded import start_postgres, stop_postgres

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """Only what a fresh machine has, plus `extra`; a developer's .env is ignored."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DJANGO_READ_DOT_ENV_FILE": "False"}
    env.update(extra)
    return env


def production_services() -> dict[str, str]:
    """The other values settings require when DEBUG is off (tests/test_production_settings.py).

    The Redis is the test run's own: tasks a command queues land there, never in a real queue.
    """
    return {
        "REDIS_URL": os.environ["REDIS_URL"],
        "STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(16)}",
        "STRIPE_PUBLISHABLE_KEY": f"pk_test_{secrets.token_hex(16)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
    }


def django_setup(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=clean_env(DJANGO_SETTINGS_MODULE="bookwise.settings", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.embedded
def test_migrate_and_seed_demo_run_on_embedded_postgres(tmp_path):
    uri, server = start_postgres(tmp_path / "pg", database="bookwise_embedded")
    try:
        env = clean_env(
            DATABASE_URL=uri,
            SECRET_KEY=secrets.token_urlsafe(40),
            DEBUG="False",
            MEDIA_ROOT=str(tmp_path / "media"),  # the demo photos: never into the repository's .data/
            **production_services(),
        )
        for command in (["migrate", "--noinput"], ["seed_demo", "--not-production"]):
            result = subprocess.run(
                [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
            )
            assert result.returncode == 0, result.stdout + result.stderr

        with psycopg.connect(uri) as conn:
            applied = conn.execute("SELECT count(*) FROM django_migrations WHERE app = 'catalog'").fetchone()[0]
            overlap_guard = conn.execute(
                "SELECT count(*) FROM pg_constraint WHERE conname = 'slot_no_overlap_per_theme'"
            ).fetchone()[0]
            slots = conn.execute("SELECT count(*) FROM catalog_slot").fetchone()[0]
        assert applied >= 1
        assert overlap_guard == 1
        assert slots > 0
    finally:
        stop_postgres(server)


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    result = django_setup({})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_settings_refuse_a_weak_secret_key_when_debug_is_off():
    result = django_setup({"SECRET_KEY": "django-insecure-short"})

    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_settings_start_with_a_strong_secret_key():
    result = django_setup({"SECRET_KEY": secrets.token_urlsafe(40), **production_services()})

    assert result.returncode == 0, result.stderr
