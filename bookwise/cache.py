"""Django's Redis cache, failing open: Redis down or hung never fails a request.

The cache holds throttle counters (one Lua script per check: ``sliding_window_hit``)
and short-lived copies (the API's authenticated users): nothing that must survive. When
Redis refuses, resets or does not answer within the socket timeouts
(``REDIS_SOCKET_TIMEOUT``), an operation goes to a per-process in-memory cache
instead, so throttles still limit per process while Redis is away. After a
failure, Redis is left alone for ``RETRY_AFTER_SECONDS`` (each request would
otherwise wait for the timeout again), then tried again. A warning is logged
at most every ``WARNING_INTERVAL_SECONDS`` per process.

Configure with ``"BACKEND": "bookwise.cache.FailOpenRedisCache"`` and the
socket timeouts in ``OPTIONS`` (passed to redis-py's connection pool).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cached_property
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

REDIS_DOWN_ERRORS = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 5.0
WARNING_INTERVAL_SECONDS = 60.0


class _Breaker:
    """Per process and Redis location: until when Redis is skipped, and when we last warned."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.skip_until = 0.0
        self.last_warning = float("-inf")


_breakers: dict[str, _Breaker] = {}
_breakers_lock = threading.Lock()


def _breaker_for(location: str) -> _Breaker:
    with _breakers_lock:
        return _breakers.setdefault(location, _Breaker())


class _ClientReusingRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one redis.Redis per connection pool instead of building one per operation.

    Building it costs about as much CPU as the command itself (~65 us here); a redis.Redis is
    thread-safe (each command takes a connection from the pool), so one per pool is enough.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write=False):  # Django's signature
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients.setdefault(index, self._client(connection_pool=self._get_connection_pool(write)))
        return client


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ClientReusingRedisCacheClient
        self._location = server if isinstance(server, str) else ",".join(server)
        self._breaker = _breaker_for(self._location)
        # One fallback per process and location (LocMemCache shares storage by name across instances,
        # and Django makes one cache instance per thread).
        fallback_params = {
            key: value for key, value in params.items() if key in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION")
        }
        self._fallback = LocMemCache(f"bookwise.cache.fallback:{self._location}", fallback_params)

    def redis_available(self) -> bool:
        """False while Redis is being skipped after a failure."""
        return time.monotonic() >= self._breaker.skip_until

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        if self.redis_available():
            try:
                return getattr(super(), operation)(*args, **kwargs)
            except REDIS_DOWN_ERRORS as exc:
                self._redis_failed(operation, exc)
        return getattr(self._fallback, operation)(*args, **kwargs)

    def _redis_failed(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        with self._breaker.lock:
            self._breaker.skip_until = now + RETRY_AFTER_SECONDS
            warn = now - self._breaker.last_warning >= WARNING_INTERVAL_SECONDS
            if warn:
                self._breaker.last_warning = now
        if warn:
            logger.warning(
                "Redis cache at %s unreachable (%s on %s: %s): using this process's in-memory cache, "
                "retrying Redis every %ss; throttles count per process meanwhile",
                _redacted(self._location),
                type(exc).__name__,
                operation,
                exc,
                RETRY_AFTER_SECONDS,
            )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):  # Django's signatures, below too
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        self._fallback.clear()
        return self._call("clear")

    def sliding_window_hit(self, key: str, *, now: float, duration: int, limit: int) -> tuple[bool, int, float]:
        """A rate-limit attempt in one Redis round trip (bookwise.throttling); the in-memory fallback when down."""
        if self.redis_available():
            try:
                allowed, count, oldest = self._sliding_window_script(
                    keys=[self.make_and_validate_key(f"{key}:log")], args=[repr(now), duration, limit]
                )
            except REDIS_DOWN_ERRORS as exc:
                self._redis_failed("sliding_window_hit", exc)
            else:
                return bool(allowed), int(count), float(oldest) if oldest else now
        return sliding_window_hit(self._fallback, key, now=now, duration=duration, limit=limit)

    @cached_property
    def _sliding_window_script(self) -> Any:
        # EVALSHA, and EVAL once per Redis restart (redis-py reloads a script Redis forgot).
        return self._cache.get_client(write=True).register_script(SLIDING_WINDOW_LUA)


# DRF's SimpleRateThrottle in one atomic step: a list of attempt times, newest first, under the key;
# drop those older than the window, refuse when `limit` remain, else record `now` and (re)arm the
# expiry as DRF's cache.set(key, history, duration) does. Returns {allowed, attempts in the window,
# oldest of them}: all DRF's wait() needs.
SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local oldest = redis.call('LINDEX', KEYS[1], -1)
while oldest and tonumber(oldest) <= now - duration do
    redis.call('RPOP', KEYS[1])
    oldest = redis.call('LINDEX', KEYS[1], -1)
end
local count = redis.call('LLEN', KEYS[1])
if count >= limit then
    return {0, count, oldest or ''}
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], duration)
return {1, count + 1, redis.call('LINDEX', KEYS[1], -1)}
"""


def sliding_window_hit(cache: Any, key: str, *, now: float, duration: int, limit: int) -> tuple[bool, int, float]:
    """The same step with plain get/set on any Django cache (DRF's own algorithm): development's and the fallback's."""
    history = cache.get(key, [])
    while history and history[-1] <= now - duration:
        history.pop()
    if len(history) >= limit:
        return False, len(history), history[-1]
    history.insert(0, now)
    cache.set(key, history, duration)
    return True, len(history), history[-1]


def _redacted(location: str) -> str:
    """The Redis URL without its password, for logs."""
    if "@" not in location:
        return location
    scheme, _, rest = location.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
