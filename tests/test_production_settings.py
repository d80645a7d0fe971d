"""Production settings: secrets and servers are required with DEBUG off, HTTPS headers, check --deploy.

What settings.py decides is tested by executing it afresh with only the given
environment (`load_settings`, fast); what a whole process does with them
(django.setup, a request through the middleware, `manage.py check --deploy`,
the Dockerfile's collectstatic) in a fresh interpreter with only those
variables, as a production machine would. A developer's .env is never read.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent

DEVELOPMENT_DEFAULTS = {
    "STRIPE_SECRET_KEY": "sk_test_BookWiseLocalDevelopmentKey000",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_BookWiseLocalDevelopmentKey000",
    "STRIPE_WEBHOOK_SECRET": "whsec_bookwise_local_development",
}


def production_values() -> dict[str, str]:
    """Every value production must provide, real-looking and fresh."""
    return {
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bookwise"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "STRIPE_SECRET_KEY": f"sk_live_{secrets.token_hex(16)}",
        "STRIPE_PUBLISHABLE_KEY": f"pk_live_{secrets.token_hex(16)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
    }


def without(values: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in values.items() if key != name}


@pytest.fixture
def load_settings(monkeypatch):
    """Execute bookwise/settings.py afresh with exactly `env` as the environment; returns its names.

    The running Django settings are untouched: this is a separate namespace.
    """

    def load(env: dict[str, str]) -> dict:
        monkeypatch.setattr(environ.Env, "ENVIRON", {"DJANGO_READ_DOT_ENV_FILE": "False", **env})
        return runpy.run_path(str(ROOT / "bookwise" / "settings.py"))

    return load


def run_python(env: dict[str, str], code: str = "import django; django.setup()", *args: str):
    """Run `code` (or `manage.py args` when given) with only `env` (plus PATH/HOME) in the environment."""
    command = [sys.executable, "manage.py", *args] if args else [sys.executable, "-c", code]
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DJANGO_READ_DOT_ENV_FILE": "False"}
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "bookwise.settings", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


# --- Refusing to start ------------------------------------------------------------------------


def test_a_process_starts_with_every_production_value():
    result = run_python(production_values())

    assert result.returncode == 0, result.stderr


def test_settings_load_with_every_production_value(load_settings):
    values = production_values()

    loaded = load_settings(values)

    for name in DEVELOPMENT_DEFAULTS:
        assert loaded[name] == values[name]


@pytest.mark.parametrize("name", sorted(DEVELOPMENT_DEFAULTS))
def test_settings_refuse_a_missing_stripe_value_when_debug_is_off(load_settings, name):
    with pytest.raises(ImproperlyConfigured, match=f"^{name} must be set when DEBUG is off"):
        load_settings(without(production_values(), name))
    with pytest.raises(ImproperlyConfigured, match=f"^{name} must be set when DEBUG is off"):
        load_settings({**production_values(), name: ""})


@pytest.mark.parametrize("name", sorted(DEVELOPMENT_DEFAULTS))
def test_settings_refuse_the_public_development_stripe_value_when_debug_is_off(load_settings, name):
    with pytest.raises(ImproperlyConfigured, match=f"^{name} is the public development default"):
        load_settings({**production_values(), name: DEVELOPMENT_DEFAULTS[name]})


def test_settings_refuse_to_start_without_redis_when_debug_is_off(load_settings):
    with pytest.raises(ImproperlyConfigured, match="^REDIS_URL must be set when DEBUG is off"):
        load_settings(without(production_values(), "REDIS_URL"))


def test_settings_refuse_an_in_memory_celery_broker_when_debug_is_off(load_settings):
    with pytest.raises(ImproperlyConfigured, match="^CELERY_BROKER_URL must name a real broker"):
        load_settings({**production_values(), "CELERY_BROKER_URL": "memory://"})


def test_the_broker_and_the_cache_use_redis_url_in_production(load_settings):
    loaded = load_settings(production_values())

    assert loaded["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert loaded["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/0"
    assert "locmem" not in loaded["CACHES"]["default"]["BACKEND"].lower()


def test_development_keeps_its_defaults_with_debug_on(load_settings):
    loaded = load_settings({"DEBUG": "True"})

    assert {name: loaded[name] for name in DEVELOPMENT_DEFAULTS} == DEVELOPMENT_DEFAULTS
    assert loaded["CELERY_BROKER_URL"] == "memory://"
    assert loaded["SECURE_HSTS_SECONDS"] == 0


# --- Development tooling stays out of production ------------------------------------------------

# Loads the settings, the app registry and the URLconf (every view module); prints the devtools modules imported.
DEVTOOLS_PROBE = """
import json, sys, django
django.setup()
import bookwise.urls
from django.conf import settings
from django.urls import resolve
resolve("/")
loaded = sorted(name for name in sys.modules if name == "devtools" or name.startswith("devtools."))
print(json.dumps(["devtools" in settings.INSTALLED_APPS, loaded]))
"""


def test_production_settings_do_not_install_devtools(load_settings):
    assert "devtools" not in load_settings(production_values())["INSTALLED_APPS"]


def test_development_installs_devtools_with_debug_on_or_its_flag(load_settings):
    assert "devtools" in load_settings({"DEBUG": "True"})["INSTALLED_APPS"]
    assert "devtools" in load_settings({**production_values(), "BOOKWISE_DEVTOOLS": "True"})["INSTALLED_APPS"]


def test_a_production_process_never_imports_devtools():
    result = run_python(production_values(), DEVTOOLS_PROBE)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, []]


def test_the_image_does_not_ship_devtools():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert "devtools" in ignored


# --- HTTPS: HSTS and the proxy header -----------------------------------------------------------

# A request that claims HTTPS through X-Forwarded-Proto; prints the HSTS header and the status.
SPOOF_PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/no-such-page/", HTTP_HOST="bookwise.example", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps([response.status_code, response.headers.get("Strict-Transport-Security")]))
"""


def probe(env: dict[str, str]) -> list:
    result = run_python({**production_values(), "ALLOWED_HOSTS": "bookwise.example", **env}, SPOOF_PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_hsts_is_on_by_default_with_debug_off(load_settings):
    loaded = load_settings(production_values())

    assert (loaded["SECURE_HSTS_SECONDS"], loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"], loaded["SECURE_HSTS_PRELOAD"]) == (
        31536000,
        True,
        False,
    )


def test_hsts_settings_come_from_the_environment(load_settings):
    loaded = load_settings(
        {
            **production_values(),
            "SECURE_HSTS_SECONDS": "600",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "False",
            "SECURE_HSTS_PRELOAD": "True",
        }
    )

    assert (loaded["SECURE_HSTS_SECONDS"], loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"], loaded["SECURE_HSTS_PRELOAD"]) == (
        600,
        False,
        True,
    )
    assert "security.W021" not in loaded["SILENCED_SYSTEM_CHECKS"]


def test_without_a_proxy_a_client_cannot_claim_https_with_x_forwarded_proto(load_settings):
    assert "SECURE_PROXY_SSL_HEADER" not in load_settings(production_values())
    # The claim is ignored: the request is still redirected to HTTPS, and gets no HSTS.
    assert probe({"NUM_PROXIES": "0", "SECURE_SSL_REDIRECT": "True"}) == [301, None]


def test_behind_a_proxy_x_forwarded_proto_is_trusted_and_https_responses_carry_hsts(load_settings):
    loaded = load_settings({**production_values(), "NUM_PROXIES": "1"})
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert loaded["REST_FRAMEWORK"]["NUM_PROXIES"] == 1

    assert probe({"NUM_PROXIES": "1", "SECURE_SSL_REDIRECT": "True", "SECURE_HSTS_PRELOAD": "True"}) == [
        404,
        "max-age=31536000; includeSubDomains; preload",
    ]


# --- Deployment ---------------------------------------------------------------------------------


def fly_env() -> dict[str, str]:
    """fly.toml's [env] (what production runs with), plus the secrets `fly secrets set` provides."""
    declared = tomllib.loads((ROOT / "fly.toml").read_text())["env"]
    return {**production_values(), **{key: str(value) for key, value in declared.items()}}


def test_check_deploy_passes_with_production_settings():
    env = fly_env()
    assert env["DEBUG"] == "False"
    assert env["SECURE_SSL_REDIRECT"] == "True"

    result = run_python(env, "", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_dockerfile_collectstatic_step_loads_the_settings_with_its_build_only_values():
    """The image's build step runs with placeholders only; here with exactly those (a dry run)."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    step = next(line for line in dockerfile.splitlines() if "collectstatic" in line and line.startswith("RUN"))
    build_env = dict(re.findall(r"\b([A-Z][A-Z0-9_]+)=(\S+)", step.split("python manage.py")[0]))
    assert {"SECRET_KEY", "REDIS_URL", *DEVELOPMENT_DEFAULTS} <= set(build_env)
    image_env = [line for line in dockerfile.splitlines() if line.startswith("ENV ")]
    assert not [name for name in build_env if any(name in line for line in image_env)], "build-only values in ENV"

    result = run_python(build_env, "", "collectstatic", "--noinput", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr
