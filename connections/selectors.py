"""Reading connections: access rules, lists with stats, decrypted credentials, the resolved baseUrl, test runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.access import acts_for_any_user
from accounts.models import User
from connections import encryption
from connections.credential_validation import resolve_base_url, secret_field_names
from connections.models import AuditEvent, CheckRun, Connection, ProxyCall
from core.errors import NotFound, ValidationFailed
from integrations.documents import INTEGRATION_ID
from integrations.models import Integration

logger = logging.getLogger(__name__)

MASK = "••••••••••••"
# "recent" in my-connections stats: connections created within this window.
RECENT_WINDOW = timedelta(days=7)
# Test runs a connection's history shows by default.
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class ConnectionStats:
    active: int
    inactive: int
    total: int
    recent: int


@dataclass(frozen=True)
class ConnectionPage:
    items: list[Connection]
    total: int
    stats: ConnectionStats


def _with_relations(queryset: QuerySet[Connection]) -> QuerySet[Connection]:
    return queryset.select_related("integration", "user")


def connection_get_for_actor(*, actor, connection_id: str) -> Connection:
    """The connection, if ``actor`` may see it: its owner, an API key or an operator.

    Someone else's connection is "not found", so ids cannot be probed.
    """
    connection = _with_relations(Connection.objects.filter(connection_id=connection_id)).first()
    if connection is None or not (
        acts_for_any_user(actor) or connection.user_id == getattr(actor, "pk", None)
    ):
        raise NotFound("Connection not found")
    return connection


def connection_get_for_use(*, actor, connection_id: str) -> Connection:
    """The connection, if ``actor`` may make calls with its credentials: an API key or its owner
    (the same who may read them). Anyone else gets "not found"."""
    connection = connection_get_for_actor(actor=actor, connection_id=connection_id)
    if not connection_secrets_visible_to(actor=actor, connection=connection):
        raise NotFound("Connection not found")
    return connection


def connection_list_for_user(
    *,
    user: User,
    status: str | None = None,
    integration_id: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> ConnectionPage:
    """A user's connections, oldest first (as the contract lists them), with ``total`` (after filters) and ``stats``.

    ``q`` searches the connection's and its integration's names; every word must appear in one.
    ``stats`` covers all the user's connections whatever the filters: active, inactive, total,
    and recent = created within the last 7 days. Three queries, however many connections
    (four with the integrations).
    """
    owned = Connection.objects.filter(user=user)
    filtered = owned
    if status:
        filtered = filtered.filter(status=status)
    if integration_id:
        filtered = filtered.filter(integration_id=integration_id)
    for word in (q or "").split():
        filtered = filtered.filter(
            Q(connection_name__icontains=word) | Q(integration__display_name__icontains=word)
        )
    counts = owned.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=Connection.Status.ACTIVE)),
        inactive=Count("id", filter=Q(status=Connection.Status.INACTIVE)),
        recent=Count("id", filter=Q(created_at__gte=timezone.now() - RECENT_WINDOW)),
    )
    # Integrations are prefetched, not joined: a join would fetch and decode each integration's
    # whole document once per row (measured: a third of the request for 100 connections).
    page = filtered.prefetch_related("integration").order_by("created_at", "id")
    items = list(page[offset : offset + limit] if limit is not None else page[offset:])
    for item in items:
        item.user = user  # every row is this user's; no join or query needed
    total = filtered.count() if (limit is not None or offset) else len(items)
    return ConnectionPage(items=items, total=total, stats=ConnectionStats(**counts))


def connection_credentials(*, connection: Connection) -> dict:
    """The decrypted credentials. CredentialsUnreadable (never garbage) when they cannot be read."""
    try:
        return encryption.decrypt_json(connection.credentials_encrypted, bound_to=connection.connection_id)
    except encryption.CredentialsUnreadable as exc:
        logger.error("connection %s: credentials unreadable: %s", connection.connection_id, exc.error)
        raise


def connection_credentials_masked(*, connection: Connection, credentials: dict | None = None) -> dict:
    """Credentials with every password or secret field replaced by the mask."""
    if credentials is None:
        credentials = connection_credentials(connection=connection)
    secrets = secret_field_names(connection.integration.auth_method(connection.auth_method_id))
    return {name: MASK if name in secrets else value for name, value in credentials.items()}


def connection_secrets_visible_to(*, actor, connection: Connection) -> bool:
    """Decrypted secrets go to the connection's owner and to API keys only; operators see masks."""
    return bool(getattr(actor, "is_api_key", False)) or connection.user_id == getattr(actor, "pk", None)


def connection_base_url(*, connection: Connection) -> str:
    """The integration's baseUrl resolved with the connection's configuredVariables."""
    return resolve_base_url(connection.integration, connection.configured_variables)


def connection_history(*, connection: Connection) -> QuerySet[AuditEvent]:
    return connection.audit_events.order_by("-created_at", "-id")


# The seed's status map vocabulary (seed 004).
CONNECTED, NOT_CONNECTED, INVALID = "connected", "not-connected", "invalid"
MAX_STATUS_IDS = 200


def _healthy() -> Q:
    """An active connection that works as far as we know: its last test did not fail."""
    return Q(last_test_status__isnull=True) | ~Q(last_test_status=Connection.CheckStatus.ERROR)


def connection_status_map(*, user: User, integration_ids: list[str]) -> dict[str, str]:
    """``{integrationId: "connected" | "invalid" | "not-connected"}`` for ``user``, in one query
    whatever the number of ids. ``connected``: an active connection whose last test did not fail
    (one is enough); ``invalid``: active ones, all failing; ``not-connected``: no active one.
    ValidationFailed listing the ids that name no integration."""
    if len(integration_ids) > MAX_STATUS_IDS:
        raise ValidationFailed([f"integrationIds: at most {MAX_STATUS_IDS} ids per request"])
    wellformed = [i for i in integration_ids if INTEGRATION_ID.match(i)]
    active = Connection.objects.filter(user=user, integration=OuterRef("pk"), status=Connection.Status.ACTIVE)
    rows = (
        Integration.objects.filter(pk__in=wellformed)
        .annotate(working=Exists(active.filter(_healthy())), present=Exists(active))
        .values_list("pk", "working", "present")
    )
    found = {
        pk: CONNECTED if working else INVALID if present else NOT_CONNECTED for pk, working, present in rows
    }
    unknown = [i for i in integration_ids if i not in found]
    if unknown:
        raise ValidationFailed(
            [f"integrationIds: no integration '{i}'" for i in unknown],
            message=f"Unknown integrationIds: {', '.join(unknown)}",
        )
    return {integration_id: found[integration_id] for integration_id in integration_ids}


def connection_for_account(*, user: User, integration_id: str) -> Connection:
    """The user's active connection to the integration whose account is best known: the one read
    most recently, else the newest. NotFound when there is none (or no such integration)."""
    connection = (
        Connection.objects.filter(user=user, integration_id=integration_id, status=Connection.Status.ACTIVE)
        .order_by(F("account_checked_at").desc(nulls_last=True), "-created_at", "-id")
        .first()
    )
    if connection is None:
        if not Integration.objects.filter(pk=integration_id).exists():
            raise NotFound("Integration not found")
        raise NotFound("No active connection to this integration", error=f"userId '{user.user_id}' has none")
    return connection


def test_run_get_for_actor(*, actor: Any, run_id: str) -> CheckRun:
    """The run, if ``actor`` may see its connection (same rules as connections)."""
    run = CheckRun.objects.select_related("connection").filter(run_id=run_id).first()
    if run is None or not (acts_for_any_user(actor) or run.connection.user_id == getattr(actor, "pk", None)):
        raise NotFound("Test run not found")
    return run


def test_run_list_for_connection(*, connection: Connection, limit: int = HISTORY_LIMIT) -> list[CheckRun]:
    """The connection's newest ``limit`` runs, newest first, in one query."""
    runs = list(connection.test_runs.order_by("-queued_at", "-id")[:limit])
    for run in runs:
        run.connection = connection
    return runs


def connection_proxy_calls(*, connection: Connection, limit: int = 50) -> list[ProxyCall]:
    """The newest ``limit`` calls made through the connection, newest first."""
    calls = list(connection.proxy_calls.order_by("-created_at", "-id")[:limit])
    for call in calls:
        call.connection = connection
    return calls
