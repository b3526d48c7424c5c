"""Values ``/metrics`` reads from the database when Prometheus scrapes (registered with
``core.metrics`` by the app config): test runs waiting, and key rotation progress.

Both are one indexed or bounded query; the rotation count scans the table, so it is computed at
most once a minute per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from time import monotonic

from django.db.models import Count, Q
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from connections import encryption
from connections.models import CheckRun, Connection

ROTATION_EVERY_SECONDS = 60
_rotation: dict[str, object] = {"at": None, "value": None}


def test_run_metrics() -> Iterator[Metric]:
    pending = GaugeMetricFamily(
        "connections_test_runs_pending", "Test runs queued or running, by status.", labels=["status"]
    )
    waiting = dict.fromkeys([CheckRun.Status.QUEUED, CheckRun.Status.RUNNING], 0)
    rows = CheckRun.objects.filter(status__in=list(waiting)).values("status").annotate(n=Count("id"))
    waiting |= {row["status"]: row["n"] for row in rows}
    for status, count in waiting.items():
        pending.add_metric([status], count)
    yield pending


def _credentials_by_key() -> dict[str, int]:
    now = monotonic()
    if _rotation["at"] is None or now - _rotation["at"] > ROTATION_EVERY_SECONDS:
        current = Q(credentials_encrypted__startswith=encryption.current_token_prefix())
        _rotation["value"] = Connection.objects.aggregate(total=Count("id"), old=Count("id", filter=~current))
        _rotation["at"] = now
    return _rotation["value"]


def rotation_metrics() -> Iterator[Metric]:
    counts = _credentials_by_key()
    yield GaugeMetricFamily(
        "connections_credentials_total", "Stored credential sets (connections).", value=counts["total"]
    )
    yield GaugeMetricFamily(
        "connections_credentials_on_old_keys",
        "Credential sets not yet re-encrypted with the newest key (0 once rotate_encryption_key finished).",
        value=counts["old"],
    )
