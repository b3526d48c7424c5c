"""The cache backend used with Redis: a Redis outage makes it a cache that remembers nothing.

Everything the app keeps in the cache can be lost (write-throttle counters, API key lookups, the
periodic tasks' claims, worker pings), so a request must never fail because Redis is down: reads
miss, writes are dropped, and the outage is logged (once a minute, not once a call). Throttling
fails open for as long: a limit is a safeguard, the API answering is the product.
"""

from __future__ import annotations

import functools
import logging
import time

import redis.exceptions
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
LOG_EVERY_SECONDS = 60


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache, where an unreachable Redis answers like an empty cache."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._logged_at = 0.0

    def _outage(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_SECONDS:
            self._logged_at = now
            # The exception text may carry the Redis URL (and its password): the type only.
            logger.warning(
                "cache unavailable (%s on %s): serving without it; throttling is off until it is back",
                type(exc).__name__,
                operation,
            )


def _fail_open(name: str, fallback):
    method = getattr(RedisCache, name)

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OUTAGE_ERRORS as exc:
            self._outage(name, exc)
            return fallback(*args, **kwargs)

    return guarded


def _default(key, default=None, *args, **kwargs):
    return default


# What each operation answers while Redis is away: a miss, a write that "took", a first count.
_FALLBACKS = {
    "get": _default,
    "get_many": lambda keys, *args, **kwargs: {},
    "has_key": lambda *args, **kwargs: False,
    "set": lambda *args, **kwargs: None,
    "set_many": lambda data, *args, **kwargs: [],
    "add": lambda *args, **kwargs: True,
    "touch": lambda *args, **kwargs: False,
    "delete": lambda *args, **kwargs: False,
    "delete_many": lambda *args, **kwargs: None,
    "incr": lambda key, delta=1, *args, **kwargs: delta,
    "decr": lambda key, delta=1, *args, **kwargs: -delta,
    "clear": lambda *args, **kwargs: False,
}
for _name, _fallback in _FALLBACKS.items():
    setattr(FailOpenRedisCache, _name, _fail_open(_name, _fallback))
