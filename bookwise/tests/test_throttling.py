"""One Redis round trip per throttle check, with DRF's decisions and Retry-After (bookwise.throttling)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from django.core.cache import cache, caches
from redis.client import Redis
from rest_framework.throttling import SimpleRateThrottle

from bookings.throttles import JoinThrottle
from bookwise.cache import FailOpenRedisCache


class DRFJoinThrottle(SimpleRateThrottle):
    """DRF's own algorithm (GET then SET) with the join throttle's key: the reference."""

    scope = "join"
    get_rate = JoinThrottle.get_rate
    get_cache_key = JoinThrottle.get_cache_key


def _request(user_id: int) -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(pk=user_id, is_authenticated=True), META={})


@pytest.fixture
def redis_cache():
    if not isinstance(caches["default"], FailOpenRedisCache):
        pytest.skip("needs REDIS_URL (the fail-open Redis cache)")
    return caches["default"]


@pytest.fixture
def commands(monkeypatch):
    seen: list[str] = []
    real = Redis.execute_command

    def counting(self, *args, **options):
        seen.append(str(args[0]))
        return real(self, *args, **options)

    monkeypatch.setattr(Redis, "execute_command", counting)
    return seen


def test_a_throttle_check_is_one_redis_round_trip_where_drfs_is_two(redis_cache, settings, commands):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"join": "100/minute"}}
    JoinThrottle().allow_request(_request(1), None)  # loads the script into Redis once
    commands.clear()

    assert JoinThrottle().allow_request(_request(1), None)
    ours = list(commands)
    commands.clear()
    assert DRFJoinThrottle().allow_request(_request(2), None)
    drf = list(commands)

    assert ours == ["EVALSHA"]
    assert drf == ["GET", "SET"]


def _run(throttle_class, user_id: int, times: list[float]) -> list[tuple[bool, float | None]]:
    out = []
    for now in times:
        throttle = throttle_class()
        throttle.timer = lambda now=now: now
        allowed = throttle.allow_request(_request(user_id), None)
        out.append((allowed, None if allowed else round(throttle.wait(), 9)))
    return out


def test_decisions_and_waits_are_drfs_over_a_sliding_window(redis_cache, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"join": "3/minute"}}
    times = [1000.0, 1001.5, 1002.25, 1003.0, 1030.0, 1060.0, 1061.4, 1061.6, 1062.0, 1062.3, 1200.0, 1200.5]

    ours, drf = _run(JoinThrottle, 7, times), _run(DRFJoinThrottle, 8, times)

    assert ours == drf
    assert [allowed for allowed, _ in ours].count(False) >= 3


def test_the_same_step_runs_in_the_per_process_fallback_when_redis_is_down(settings):
    from bookwise.tests.test_cache import fail_open_cache, reset_breakers

    settings.CACHES = fail_open_cache("redis://127.0.0.1:1/0")
    reset_breakers()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"join": "3/minute"}}
    try:
        times = [1000.0, 1001.0, 1002.0, 1003.0, 1061.0]
        assert _run(JoinThrottle, 9, times) == _run(DRFJoinThrottle, 10, times)
    finally:
        cache.clear()
        reset_breakers()


def test_concurrent_attempts_never_pass_more_than_the_limit(redis_cache, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"join": "5/minute"}}
    barrier = threading.Barrier(12)
    results: list[bool] = []

    def attempt():
        barrier.wait()
        results.append(JoinThrottle().allow_request(_request(11), None))

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(True) == 5


def test_the_redis_client_is_built_once_per_pool_not_per_operation(redis_cache):
    redis_cache.get("a")
    redis_cache.set("a", 1)

    assert redis_cache._cache.get_client() is redis_cache._cache.get_client(write=True)
