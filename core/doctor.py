"""``manage.py doctor``: every check an operator needs before trusting a deployment, in one table.

Core checks settings, the database, cache, broker, workers, beat and the outbound policy; higher
apps register theirs (``register``) from their app config: keys and stored credentials
(connections), OAuth apps (integrations). A check returns one or more ``Finding``s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.core import checks as django_checks

from core import health
from core.outbound_http import OutboundBlocked, check_outbound_url


class Level(Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    detail: str
    fix: str = ""


Check = Callable[[], Iterable[Finding]]
_registered: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    _registered[name] = check


def run_all() -> list[Finding]:
    findings: list[Finding] = []
    for name, check in _registered.items():
        try:
            findings.extend(check())
        except Exception as exc:
            findings.append(Finding(name, Level.FAIL, f"the check itself failed ({type(exc).__name__})"))
    return findings


def _from_health(result: health.CheckResult, *, level_when_failed: Level = Level.FAIL) -> Finding:
    return Finding(result.name, Level.OK if result.ok else level_when_failed, result.detail, result.fix)


def settings_findings() -> Iterable[Finding]:
    production = not settings.DEBUG
    # As `check --deploy` does, what settings.SILENCED_SYSTEM_CHECKS silences is not reported.
    messages = [
        message
        for message in django_checks.run_checks(include_deployment_checks=production)
        if not message.is_silenced()
    ]
    errors = [message for message in messages if message.is_serious()]
    warnings = [message for message in messages if not message.is_serious()]
    if errors:
        yield Finding(
            "settings",
            Level.FAIL,
            f"{len(errors)} error(s): {errors[0].id}",
            "python manage.py check --deploy",
        )
    elif warnings:
        ids = ", ".join(sorted({m.id for m in warnings}))
        yield Finding(
            "settings", Level.WARN, f"{len(warnings)} warning(s): {ids}", "python manage.py check --deploy"
        )
    else:
        yield Finding(
            "settings", Level.OK, "check --deploy passes" if production else "checks pass (DEBUG on)"
        )
    if production and not settings.REDIS_URL:
        yield Finding(
            "settings",
            Level.FAIL,
            "no REDIS_URL: filesystem broker and per-process cache",
            "Set REDIS_URL: the broker, the shared cache and the shared rate limit need it.",
        )
    if production and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        yield Finding(
            "settings", Level.WARN, "SQLite database", "Set DATABASE_URL=postgres://… to scale out."
        )
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_IPS:
        yield Finding("settings", Level.WARN, "/metrics is off", "Set METRICS_TOKEN or METRICS_ALLOWED_IPS.")


def _migration_finding() -> Finding:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return Finding("migrations", Level.FAIL, f"{len(pending)} not applied", "python manage.py migrate")
    return Finding("migrations", Level.OK, "all applied")


def service_findings() -> Iterable[Finding]:
    database, *others = health.readiness()
    yield _from_health(database)
    if database.ok:
        yield _migration_finding()
    for result in others:
        yield _from_health(result)
    yield _from_health(health.check_beat(), level_when_failed=Level.WARN)


# Addresses credentials must never reach unless an operator allowed them on purpose.
_MUST_REFUSE = {
    "http://169.254.169.254/latest/meta-data/": ("the cloud metadata address", Level.FAIL),
    "https://10.0.0.1/": ("private networks", Level.WARN),
    "https://127.0.0.1/": ("loopback", Level.WARN),
    "http://example.com/": ("plain http to public hosts", Level.FAIL),
}


def outbound_findings() -> Iterable[Finding]:
    allowed = []
    for url, (what, level) in _MUST_REFUSE.items():
        try:
            check_outbound_url(url)
        except OutboundBlocked:
            continue
        allowed.append((what, level))
    if not allowed:
        entries = len(settings.OUTBOUND_ALLOWLIST)
        yield Finding(
            "outbound policy", Level.OK, f"private and metadata addresses refused ({entries} allowlisted)"
        )
        return
    level = Level.FAIL if any(level is Level.FAIL for _, level in allowed) else Level.WARN
    yield Finding(
        "outbound policy",
        level,
        "OUTBOUND_ALLOWLIST lets credentials reach " + ", ".join(what for what, _ in allowed),
        "Narrow OUTBOUND_ALLOWLIST to the on-premise hosts that need it (host:port).",
    )


register("settings", settings_findings)
register("services", service_findings)
register("outbound policy", outbound_findings)
