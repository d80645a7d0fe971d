"""Redis down or hung: the cache fails open to a per-process cache; login and join keep working, throttles too."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookwise import cache as fail_open
from bookwise.tests.brokers import REFUSED_URL, HungServer
from catalog.tests.factories import SlotFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def fail_open_cache(location: str, timeout: float = 0.5) -> dict:
    return {
        "default": {
            "BACKEND": "bookwise.cache.FailOpenRedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        }
    }


def reset_breakers() -> None:
    for breaker in fail_open._breakers.values():
        breaker.skip_until, breaker.last_warning = 0.0, float("-inf")


@pytest.fixture
def redis_down(settings):
    settings.CACHES = fail_open_cache(REFUSED_URL)
    cache.clear()  # the fallback too: counters of an earlier test must not leak
    reset_breakers()
    yield
    cache.clear()
    reset_breakers()


def test_settings_use_the_fail_open_cache_with_short_timeouts_when_redis_url_is_set():
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/9", "REDIS_SOCKET_TIMEOUT": "0.25"}
    code = "from django.conf import settings; import json; print(json.dumps(settings.CACHES['default']))"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "bookwise.settings"},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {
        "BACKEND": "bookwise.cache.FailOpenRedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }


def test_login_and_join_work_with_redis_down_and_a_warning_is_logged(redis_down, caplog):
    user = UserFactory()
    slot = SlotFactory()

    with caplog.at_level(logging.WARNING, logger="bookwise.cache"):
        login = bearer_client(user).post(TOKEN_URL, {"email": user.email, "password": DEFAULT_PASSWORD})
        join = bearer_client(user).post(f"/api/v1/slots/{slot.pk}/join/", {}, format="json")

    assert login.status_code == 200, login.content
    assert join.status_code == 201, join.content
    warnings = [r for r in caplog.records if r.name == "bookwise.cache"]
    assert len(warnings) == 1  # rate-limited: one line, not one per cache call
    assert "Redis cache at redis://127.0.0.1:1/0 unreachable (ConnectionError" in warnings[0].getMessage()


def test_throttles_still_limit_per_process_while_redis_is_down(redis_down, settings, api_client):
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login_email"].split("/")[0])
    user = UserFactory()
    wrong = {"email": user.email, "password": "not-the-password"}

    answers = [api_client.post(TOKEN_URL, wrong, format="json").status_code for _ in range(limit + 1)]

    assert answers == [401] * limit + [429]


def test_a_hung_redis_costs_one_timeout_then_is_skipped_for_a_while(settings):
    server = HungServer()
    try:
        settings.CACHES = fail_open_cache(server.url)
        started = time.monotonic()
        assert cache.get("k", "default") == "default"
        first = time.monotonic() - started
        started = time.monotonic()
        cache.set("k", "v")
        assert cache.get("k") == "v"  # from the per-process fallback
        later = time.monotonic() - started
        accepted = server.accepted
    finally:
        server.close()

    assert first < 1.5  # 0.5 s socket timeout, plus slack for a loaded machine
    assert later < 0.2  # Redis was not asked again within RETRY_AFTER_SECONDS
    assert accepted == 1


def test_redis_is_tried_again_after_the_pause(redis_down, monkeypatch):
    assert cache.get("k") is None
    breaker = fail_open._breakers[REFUSED_URL]
    assert breaker.skip_until > time.monotonic()

    breaker.skip_until = 0.0  # the pause is over
    calls = []
    real_call = fail_open.RedisCache.get

    def counting_get(self, *args, **kwargs):
        calls.append(args)
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(fail_open.RedisCache, "get", counting_get)
    assert cache.get("k") is None
    assert len(calls) == 1  # Redis was asked (and failed again: paused again)
    assert breaker.skip_until > time.monotonic()


def test_every_cache_operation_falls_back(redis_down):
    assert cache.add("a", 1) is True
    assert cache.add("a", 2) is False
    assert cache.get("a") == 1
    assert cache.incr("a", 5) == 6
    assert cache.decr("a") == 5
    assert cache.has_key("a")
    assert cache.touch("a", 60)
    cache.set_many({"b": 2, "c": 3})
    assert cache.get_many(["a", "b", "c"]) == {"a": 5, "b": 2, "c": 3}
    cache.delete_many(["b", "c"])
    assert cache.delete("a") is True
    assert cache.get_many(["a", "b", "c"]) == {}
    cache.clear()
