"""Django's Redis cache, failing open: Redis down or hung never fails a request.

The cache holds throttle counters only (nothing that must survive). When
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
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
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


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
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


def _redacted(location: str) -> str:
    """The Redis URL without its password, for logs."""
    if "@" not in location:
        return location
    scheme, _, rest = location.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
