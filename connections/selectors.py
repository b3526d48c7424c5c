"""Reading connections: access rules, lists with stats, decrypted credentials, the resolved baseUrl, test runs."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.access import acts_for_any_user
from accounts.models import User
from connections import encryption
from connections.credential_validation import resolve_base_url, secret_field_names
from connections.models import AuditEvent, CheckRun, Connection, ProxyCall
from core.errors import NotFound, ValidationFailed
from integrations.catalog import catalog_integration, catalog_revision
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
    user: User
    items: list[Connection]
    total: int
    stats: ConnectionStats
    next_cursor: str | None  # where the next page starts; None on the last page


# A page holds at most this many connections; more are reached with nextCursor.
MAX_PAGE_SIZE = 1000


def _count(queryset: QuerySet) -> Subquery:
    """``SELECT COUNT(*) …`` as a scalar subquery: it does not depend on the outer row, so the
    database runs it once per statement, not per row."""
    return Subquery(
        queryset.order_by()
        .annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
        .values("n")
    )


def _with_integration(connection: Connection) -> Connection:
    integration = catalog_integration(
        integration_id=connection.integration_id, revision=connection.catalog_revision
    )
    if integration is not None:  # else deleted meanwhile: Django loads it (or fails) as usual
        connection.integration = integration
    return connection


def connection_get_for_actor(*, actor, connection_id: str, include_deleted: bool = False) -> Connection:
    """The connection, if ``actor`` may see it: its owner, an API key or an operator. One query:
    the connection with its user (the integration comes from the in-memory catalog).

    Someone else's connection is "not found", so ids cannot be probed; so is one deleted
    permanently, unless ``include_deleted`` (its history outlives it).
    """
    rows = Connection.objects.filter(connection_id=connection_id)
    if not include_deleted:
        rows = rows.filter(deleted_at__isnull=True)
    # connection_id is unique: no ordering to compile, at most one row to read.
    found = rows.select_related("user").annotate(catalog_revision=catalog_revision()).order_by()[:1]
    connection = next(iter(found), None)
    if connection is None or not (
        acts_for_any_user(actor) or connection.user_id == getattr(actor, "pk", None)
    ):
        raise NotFound("Connection not found")
    return _with_integration(connection)


def _encode_cursor(connection: Connection) -> str:
    raw = f"{connection.created_at.isoformat()}|{connection.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after_cursor(cursor: str, *, newest_first: bool) -> Q:
    """The connections after ``cursor`` in the list's order; ValidationFailed when it is not one."""
    try:
        created, _, pk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        created_at, pk = datetime.fromisoformat(created), int(pk)
        if created_at.tzinfo is None:
            raise ValueError(created)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(["cursor is not one this API gave out"]) from None
    if newest_first:
        return Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk)
    return Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk)


def _stats_columns(owned: QuerySet[Connection]) -> dict[str, Subquery]:
    return {
        "stat_active": _count(owned.filter(status=Connection.Status.ACTIVE)),
        "stat_inactive": _count(owned.filter(status=Connection.Status.INACTIVE)),
        "stat_recent": _count(owned.filter(created_at__gte=timezone.now() - RECENT_WINDOW)),
    }


def _stats(row) -> ConnectionStats:
    return ConnectionStats(
        active=row.stat_active,
        inactive=row.stat_inactive,
        total=row.stat_active + row.stat_inactive,
        recent=row.stat_recent,
    )


def connection_get_for_use(*, actor, connection_id: str) -> Connection:
    """The connection, if ``actor`` may make calls with its credentials: an API key or its owner
    (the same who may read them). Anyone else gets "not found"."""
    connection = connection_get_for_actor(actor=actor, connection_id=connection_id)
    if not connection_secrets_visible_to(actor=actor, connection=connection):
        raise NotFound("Connection not found")
    return connection


def connection_list_for_user(
    *,
    user: User | str,
    status: str | None = None,
    integration_id: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    cursor: str | None = None,
    newest_first: bool = False,
    within: Q | None = None,
) -> ConnectionPage:
    """A page of a user's connections, oldest first (as the contract lists them) unless
    ``newest_first``, at most ``limit`` (MAX_PAGE_SIZE), from ``cursor`` on, with ``total``
    (matching the filters) and ``stats``.

    ``user`` is a User, or the userId of one: loaded in the same query (NotFound when there is
    none). ``stats`` covers all the user's connections whatever the filters: active, inactive,
    total, and recent = created within the last 7 days. ``q``: every word in the connection's or
    its integration's name. One query, whatever the size of the account (two when the page is
    empty); the integrations come from the in-memory catalog.
    """
    if isinstance(user, User):
        owned = Connection.objects.filter(user=user, deleted_at__isnull=True)
    else:
        owned = Connection.objects.filter(user__user_id=user, deleted_at__isnull=True)
    if within is not None:
        owned = owned.filter(within)  # a connect session sees only its part, stats included
    filtered = owned
    if status:
        filtered = filtered.filter(status=status)
    if integration_id:
        filtered = filtered.filter(integration_id=integration_id)
    for word in (q or "").split():
        filtered = filtered.filter(
            Q(connection_name__icontains=word) | Q(integration__display_name__icontains=word)
        )
    columns = _stats_columns(owned)
    if integration_id or q:  # else the total is one of the stats
        columns["filtered_total"] = _count(filtered)
    size = min(limit or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    page = filtered.filter(_after_cursor(cursor, newest_first=newest_first)) if cursor else filtered
    order = ("-created_at", "-pk") if newest_first else ("created_at", "pk")
    if not isinstance(user, User):
        page = page.select_related("user")
    rows = list(
        page.annotate(catalog_revision=catalog_revision(), **columns).order_by(*order)[
            offset : offset + size + 1
        ]
    )
    if rows:
        counted = rows[0]
        user = user if isinstance(user, User) else counted.user
    else:  # nothing on this page: the user and the counts on their own
        users = (
            User.objects.filter(pk=user.pk) if isinstance(user, User) else User.objects.filter(user_id=user)
        )
        counted = users.annotate(**columns).first()
        if counted is None:
            raise NotFound("User not found")
        user = user if isinstance(user, User) else counted
    items = [_with_integration(row) for row in rows[:size]]
    for item in items:
        item.user = user  # every row is this user's: one instance for all
    stats = _stats(counted)
    by_status = {Connection.Status.ACTIVE: stats.active, Connection.Status.INACTIVE: stats.inactive}
    total = getattr(counted, "filtered_total", None)
    if total is None:
        total = by_status[status] if status else stats.total
    next_cursor = _encode_cursor(items[-1]) if len(rows) > size else None
    return ConnectionPage(user=user, items=items, total=total, stats=stats, next_cursor=next_cursor)


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
    """The connection's API root (its auth method's, else the integration's baseUrl) resolved with
    its configuredVariables."""
    integration = connection.integration
    return resolve_base_url(
        integration, connection.configured_variables, integration.auth_method(connection.auth_method_id)
    )


def connection_history(*, connection: Connection) -> QuerySet[AuditEvent]:
    return connection.audit_events.order_by("-created_at", "-id")


# The seed's status map vocabulary (seed 004).
CONNECTED, NOT_CONNECTED, INVALID = "connected", "not-connected", "invalid"
MAX_STATUS_IDS = 200


def _healthy() -> Q:
    """An active connection that works as far as we know: its last test did not fail and its
    provider did not revoke its sign-in."""
    return (Q(last_test_status__isnull=True) | ~Q(last_test_status=Connection.CheckStatus.ERROR)) & Q(
        needs_reconnect=False
    )


def connection_state(*, connection: Connection) -> str:
    """One connection in the status map's words."""
    if connection.status != Connection.Status.ACTIVE:
        return NOT_CONNECTED
    failing = connection.last_test_status == Connection.CheckStatus.ERROR or connection.needs_reconnect
    return INVALID if failing else CONNECTED


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
