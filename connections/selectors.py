"""Reading connections: access rules, lists with stats, decrypted credentials, the resolved baseUrl, test runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.access import acts_for_any_user
from accounts.models import User
from connections import encryption
from connections.credential_validation import resolve_base_url, secret_field_names
from connections.models import AuditEvent, CheckRun, Connection
from core.errors import NotFound

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
