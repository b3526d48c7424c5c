"""Rate limits kept in the cache (Redis in production), shared by every process.

A sliding window estimated from two fixed windows: the previous window's count weighted by how
much of it still overlaps the last ``period`` seconds, plus the current one's. Three cache calls per
check, no per-request list of timestamps, and no burst of twice the rate at a window's edge.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
PERIODS |= {"d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"60/min"`` → (60, 60). ValueError for anything else."""
    count, _, unit = rate.partition("/")
    if not count.strip().isdigit() or unit.strip().lower() not in PERIODS or int(count) < 1:
        raise ValueError(f"Rate {rate!r} must look like 60/min (per s, min, hour or day)")
    return int(count), PERIODS[unit.strip().lower()]


def rate_limit_take(*, key: str, rate: str, now: float | None = None) -> int | None:
    """Count one use of ``key``; None when within ``rate``, else the seconds to wait.

    A refused use is not counted, so a caller that waits as told gets through.
    """
    limit, period = parse_rate(rate)
    now = time.time() if now is None else now
    window = int(now // period)
    current_key = f"rate:{key}:{window}"
    previous = cache.get(f"rate:{key}:{window - 1}", 0)
    # Counted first and taken back when over, so concurrent callers cannot all slip through.
    current = 1 if cache.add(current_key, 1, timeout=2 * period + 1) else cache.incr(current_key)
    overlap = 1 - (now - window * period) / period
    excess = previous * overlap + current - limit
    if excess <= 0:
        return None
    cache.decr(current_key)
    window_end = (window + 1) * period - now
    wait = min(window_end, excess / previous * period) if previous else window_end
    return max(1, math.ceil(wait))
