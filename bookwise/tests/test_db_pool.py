"""DB_POOL=1: settings build psycopg's pool (Django 5.2 OPTIONS["pool"]) and requests are served through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

SERVE_THROUGH_THE_POOL = """
import json, django
django.setup()
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import Client
client = Client()
statuses = []
for path in ("/api/v1/health/", "/api/v1/themes/", "/api/v1/health/"):
    statuses.append(client.get(path).status_code)
    close_old_connections()  # what request_finished does in a server (the test client skips it): back to the pool
db = settings.DATABASES["default"]
pool = {k: v for k, v in db["OPTIONS"]["pool"].items()}
print(json.dumps({"statuses": statuses, "conn_max_age": db["CONN_MAX_AGE"], "pool": pool,
                  "pool_class": type(connection.pool).__name__, "has_check": connection.pool._check is not None,
                  "requests_num": connection.pool.get_stats().get("requests_num")}))
"""


def _run(extra_env: dict[str, str]) -> dict:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bookwise.settings", "DATABASE_URL": url, **extra_env}
    env["ALLOWED_HOSTS"] = "testserver"
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SERVE_THROUGH_THE_POOL],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_with_db_pool_requests_are_served_from_psycopgs_pool():
    got = _run({"DB_POOL": "1", "DB_POOL_MAX_SIZE": "3", "DB_CONN_MAX_AGE": "60"})

    assert got["statuses"] == [200, 200, 200]
    assert got["conn_max_age"] == 0  # the pool needs it; DB_CONN_MAX_AGE is ignored
    assert got["pool"] == {"min_size": 1, "max_size": 3, "timeout": 5.0}
    assert got["pool_class"] == "ConnectionPool"
    assert got["has_check"] is True  # DB_CONN_HEALTH_CHECKS (on by default) -> the pool tests before lending
    assert got["requests_num"] >= 3


def test_the_pool_is_off_by_default():
    assert "pool" not in settings.DATABASES["default"]["OPTIONS"]
