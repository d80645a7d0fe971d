"""DRF's SimpleRateThrottle in one cache round trip: same rates, same decisions, same 429 and Retry-After.

DRF reads the key's attempt history (GET), then writes it back (SET): two Redis
round trips per throttle and per request, and two concurrent requests can both
read the same history and both pass. Here the whole step (drop attempts older
than the window, refuse when the window is full, else record this one) is one
Lua script on the Redis list `<key>:log` (bookwise.cache.FailOpenRedisCache.sliding_window_hit):
one round trip, atomic. When Redis is unreachable the cache fails open to its
per-process fallback, as every other cache operation does; other cache
backends (development's in-memory cache) run DRF's algorithm with get/set.
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from bookwise.cache import sliding_window_hit


class OneRoundTripRateThrottle(SimpleRateThrottle):
    """A drop-in base for SimpleRateThrottle subclasses (they keep `scope`, `get_rate`, `get_cache_key`)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        hit = getattr(self.cache, "sliding_window_hit", None)
        if hit is not None:
            allowed, self._attempts, self._oldest = hit(
                self.key, now=self.now, duration=self.duration, limit=self.num_requests
            )
        else:
            allowed, self._attempts, self._oldest = sliding_window_hit(
                self.cache, self.key, now=self.now, duration=self.duration, limit=self.num_requests
            )
        return allowed

    def wait(self) -> float | None:
        """DRF's formula: the time left until the oldest attempt leaves the window, spread over the free places."""
        remaining_duration = self.duration - (self.now - self._oldest) if self._attempts else self.duration
        available_requests = self.num_requests - self._attempts + 1
        if available_requests <= 0:
            return None
        return remaining_duration / float(available_requests)
