"""manage.py doctor: a table of what is fine and what to fix; exit status 1 when something is wrong."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from connections.models import Connection
from connections.webhooks import webhook_endpoint_create
from core.heartbeats import heartbeat_record
from core.models import ProcessHeartbeat
from tests.connections.factories import ConnectionFactory

OTHER_KEY = "gone:" + "B" * 43 + "="


@pytest.fixture
def healthy(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/14"  # only its presence is checked
    settings.METRICS_TOKEN = "t"
    # Once a browser test has run in this process, Playwright's event loop needs
    # DJANGO_ALLOW_ASYNC_UNSAFE (tests/conftest.py), which this deploy check rightly refuses.
    settings.SILENCED_SYSTEM_CHECKS = ["async.E001"]
    for kind in ProcessHeartbeat.Kind.values:
        heartbeat_record(kind=kind, name=f"{kind}@tests", started_at=timezone.now())
    return settings


def doctor(*args) -> tuple[str, str | None]:
    """The table (long details wrap onto the next lines) and the failure, if the command failed."""
    out = io.StringIO()
    try:
        call_command("doctor", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def flat(table: str) -> str:
    return " ".join(table.split())


def row(table: str, check: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith(f"{check} ")]


def test_a_healthy_deployment_passes_with_its_warnings_listed(healthy):
    ConnectionFactory.create_batch(3)
    table, failure = doctor()
    assert failure is None, table
    for check in ("settings", "database", "migrations", "cache", "broker", "workers", "beat", "keys"):
        assert row(table, check), f"no {check} row:\n{table}"
    assert "FAIL" not in table
    assert "3 sampled, all decrypted" in table
    assert "private and metadata addresses refused" in flat(table)


def test_a_check_the_settings_silence_is_not_reported(healthy):
    healthy.SECURE_HSTS_SECONDS = 0
    assert "security.W004" in row(doctor()[0], "settings")[0]

    healthy.SILENCED_SYSTEM_CHECKS = [*healthy.SILENCED_SYSTEM_CHECKS, "security.W004"]
    assert "security.W004" not in flat(doctor()[0])


def test_no_worker_fails_and_says_how_to_start_one(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/14"
    table, failure = doctor()
    assert failure and "failed" in failure
    assert (
        "workers FAIL no worker seen in the last 60 s fix: Start a worker: celery -A config worker"
        in flat(table)
    )


def test_rows_on_a_missing_key_fail_and_rows_on_an_older_key_warn(healthy):
    ConnectionFactory()  # the newest key of the test settings
    keys = healthy.ENCRYPTION_KEYS
    healthy.ENCRYPTION_KEYS = [OTHER_KEY, *keys]
    on_gone = ConnectionFactory()  # on the newest key now
    table, failure = doctor()
    assert failure is None and "1 credential set(s) on older keys" in flat(table)
    assert "rotate_encryption_key" in table

    healthy.ENCRYPTION_KEYS = keys  # "gone" removed while a row still uses it
    table, failure = doctor()
    assert failure
    assert "1 credential set(s) on a key missing from ENCRYPTION_KEYS" in flat(table)
    assert f"1 of 2 sampled could not be decrypted: {on_gone.connection_id}" in flat(table)


def test_a_tampered_row_fails_the_sample(healthy):
    connection = ConnectionFactory()
    other = ConnectionFactory()
    Connection.objects.filter(pk=connection.pk).update(credentials_encrypted=other.credentials_encrypted)
    table, failure = doctor("--strict")
    assert failure
    assert "FAIL" in row(table, "credentials")[0]
    assert f"1 of 2 sampled could not be decrypted: {connection.connection_id}" in flat(table)


def test_an_allowlist_reaching_the_metadata_address_fails(healthy):
    healthy.OUTBOUND_ALLOWLIST = ["169.254.169.254"]
    table, failure = doctor()
    assert failure
    assert "FAIL" in row(table, "outbound policy")[0]
    assert "cloud metadata address" in flat(table)


def test_webhook_secrets_on_an_older_key_warn_until_rotated(healthy):
    webhook_endpoint_create(url="https://hooks.example.com/c", events=["connection.created"])
    healthy.ENCRYPTION_KEYS = [OTHER_KEY, *healthy.ENCRYPTION_KEYS]

    table, failure = doctor()
    assert failure is None and "1 webhook, OAuth app or sign-in secret(s) on older keys" in flat(table)

    call_command("rotate_encryption_key", stdout=io.StringIO())
    assert "sign-in secret(s) on older keys" not in flat(doctor()[0])
