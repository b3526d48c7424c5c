"""How the stored connections are doing, for operators: ``manage.py doctor``'s checks of keys and
stored credentials (every row on a key still configured, how many wait for rotation, a sample that
really decrypts) and the admin's health view per integration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Q
from django.utils import timezone

from connections import encryption
from connections.models import CheckRun, Connection
from connections.oauth.clients import oauth_client_get
from connections.services import stored_secrets_on_older_keys_count
from core.doctor import Finding, Level
from core.log_format import mask_secrets
from integrations.documents import is_sign_in_method
from integrations.models import Integration

SAMPLE = 10  # the newest and the oldest rows each


def key_findings() -> Iterable[Finding]:
    try:
        ring = encryption.keyring()
    except ImproperlyConfigured as exc:
        yield Finding("keys", Level.FAIL, "ENCRYPTION_KEYS is not valid", str(exc).split(". ")[0])
        return
    by_key = {
        kid: Connection.objects.filter(
            credentials_encrypted__startswith=f"{encryption.VERSION}.{kid}."
        ).count()
        for kid in ring.keys
    }
    total = Connection.objects.count()
    unknown = total - sum(by_key.values())
    old = total - by_key[ring.current_id] - unknown
    yield Finding(
        "keys", Level.OK, f"{len(ring.keys)} key(s), newest '{ring.current_id}'; {total} credential set(s)"
    )
    if unknown:
        yield Finding(
            "keys",
            Level.FAIL,
            f"{unknown} credential set(s) on a key missing from ENCRYPTION_KEYS",
            "Put the missing key back in ENCRYPTION_KEYS (after the newest), then rotate.",
        )
    if old:
        yield Finding(
            "keys",
            Level.WARN,
            f"{old} credential set(s) on older keys",
            "python manage.py rotate_encryption_key, then drop the old keys.",
        )
    others = stored_secrets_on_older_keys_count()
    if others:
        yield Finding(
            "keys",
            Level.WARN,
            f"{others} webhook, OAuth app or sign-in secret(s) on older keys",
            "python manage.py rotate_encryption_key, then drop the old keys.",
        )
    yield from _sample_findings()


def _sample_findings() -> Iterable[Finding]:
    rows = list(Connection.objects.order_by("-pk")[:SAMPLE]) + list(
        Connection.objects.order_by("pk")[:SAMPLE]
    )
    sample = {row.pk: row for row in rows}.values()
    unreadable = []
    for row in sample:
        try:
            encryption.decrypt_json(row.credentials_encrypted, bound_to=row.connection_id)
        except encryption.CredentialsUnreadable:
            unreadable.append(row.connection_id)
    if unreadable:
        yield Finding(
            "credentials",
            Level.FAIL,
            f"{len(unreadable)} of {len(sample)} sampled could not be decrypted: {', '.join(unreadable[:3])}",
            "Check ENCRYPTION_KEYS holds the keys they were written with; else reconnect them.",
        )
    else:
        yield Finding("credentials", Level.OK, f"{len(sample)} sampled, all decrypted")


# --- The operator's health view (admin: Connections › Health by integration)

SAMPLES_PER_INTEGRATION = 3
# The newest failed runs read to pick samples from: bounds the page's cost whatever the failures.
SAMPLE_SCAN = 300
SAMPLE_CHARS = 300
FAILING_WINDOW = timedelta(hours=24)


@dataclass
class ErrorSample:
    connection_id: str
    finished_at: datetime
    status_code: int | None
    message: str


@dataclass
class IntegrationHealth:
    integration_id: str
    display_name: str
    active: int = 0
    inactive: int = 0
    needs_attention: int = 0
    reconnect_required: int = 0
    failed_runs: int = 0
    failing_connections: int = 0
    samples: list[ErrorSample] = field(default_factory=list)


def integration_health_list(*, now: datetime | None = None) -> list[IntegrationHealth]:
    """Per integration with connections or recent failures: connections by status, needing
    attention or reconnection, tests failed in the last 24 h, and a few recent error messages. Four queries."""
    since = (now or timezone.now()) - FAILING_WINDOW
    rows: dict[str, IntegrationHealth] = {}

    def health_of(integration_id: str) -> IntegrationHealth:
        return rows.setdefault(integration_id, IntegrationHealth(integration_id, integration_id))

    for counted in Connection.objects.values("integration_id").annotate(
        active=Count("id", filter=Q(status=Connection.Status.ACTIVE)),
        inactive=Count("id", filter=Q(status=Connection.Status.INACTIVE)),
        needs_attention=Count("id", filter=Q(consecutive_failures__gte=settings.CONNECTION_ATTENTION_AFTER)),
        reconnect_required=Count("id", filter=Q(needs_reconnect=True)),
    ):
        row = health_of(counted.pop("integration_id"))
        for name, value in counted.items():
            setattr(row, name, value)
    failed = CheckRun.objects.filter(status=CheckRun.Status.ERROR, finished_at__gte=since)
    for counted in failed.values("connection__integration_id").annotate(
        runs=Count("id"), connections=Count("connection_id", distinct=True)
    ):
        row = health_of(counted["connection__integration_id"])
        row.failed_runs, row.failing_connections = counted["runs"], counted["connections"]
    _add_samples(health_of, failed)
    for integration_id, name in Integration.objects.filter(id__in=list(rows)).values_list(
        "id", "display_name"
    ):
        rows[integration_id].display_name = name
    return sorted(
        rows.values(), key=lambda row: (-row.failing_connections, -row.needs_attention, row.display_name)
    )


def _add_samples(health_of, failed) -> None:
    newest = failed.order_by("-finished_at").values_list(
        "connection__integration_id",
        "connection__connection_id",
        "finished_at",
        "status_code",
        "error_message",
    )[:SAMPLE_SCAN]
    for integration_id, connection_id, finished_at, status_code, message in newest:
        samples = health_of(integration_id).samples
        if len(samples) < SAMPLES_PER_INTEGRATION:
            # Stored messages are scrubbed when written (core.redaction); credential-shaped text
            # is masked again here in case an older row predates that.
            text = mask_secrets(message or "")[:SAMPLE_CHARS]
            samples.append(ErrorSample(connection_id, finished_at, status_code, text))


def oauth_app_findings() -> Iterable[Finding]:
    """Every sign-in method of the active catalog has an OAuth app whose secret still decrypts."""
    methods = [
        (integration, method["id"])
        for integration in Integration.objects.filter(status=Integration.Status.ACTIVE).order_by("id")
        for method in integration.auth_methods
        if is_sign_in_method(method)
    ]
    missing, unreadable = [], []
    for integration, method_id in methods:
        try:
            client = oauth_client_get(integration=integration, auth_method_id=method_id)
        except encryption.CredentialsUnreadable:
            unreadable.append(integration.pk)
            continue
        if client is None or not client.client_id:
            missing.append(integration.pk)
    ready = len(methods) - len(missing) - len(unreadable)
    yield Finding("oauth apps", Level.OK, f"{ready} of {len(methods)} sign-in method(s) have an OAuth app")
    if missing:
        yield Finding(
            "oauth apps",
            Level.WARN,
            f"not set up (users see 'not set up by your administrator'): {', '.join(sorted(set(missing)))}",
            "Admin › OAuth apps (or OAUTH_<INTEGRATION>_CLIENT_ID / _CLIENT_SECRET), and register "
            "the callback URL at the provider.",
        )
    if unreadable:
        yield Finding(
            "oauth apps",
            Level.FAIL,
            f"client secret cannot be decrypted: {', '.join(sorted(set(unreadable)))}",
            "Enter the client secret again in Admin › OAuth apps (or restore its key in ENCRYPTION_KEYS).",
        )
    if methods and not settings.DEBUG and not settings.PUBLIC_URL:
        yield Finding(
            "oauth apps",
            Level.WARN,
            "PUBLIC_URL is not set: the callback URL follows each request's host",
            "Set PUBLIC_URL to the address users reach this app at.",
        )
