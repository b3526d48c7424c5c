"""Periodic work runs once per period, however many schedulers fire it."""

from django.core.cache import cache

from core.tasks import once_per_period


def counting(every: float):
    calls = []

    @once_per_period(lambda: every)
    def work() -> None:
        calls.append(1)

    return work, calls


def test_a_second_scheduler_in_the_same_period_is_skipped():
    work, calls = counting(3600)
    work()
    work()
    assert len(calls) == 1
    cache.clear()  # a new period (or the claim expired)
    work()
    assert len(calls) == 2


def test_work_runs_when_the_cache_is_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    work, calls = counting(3600)
    work()
    work()
    assert len(calls) == 2
