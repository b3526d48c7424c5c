"""Reading connections: access rules, lists with stats, decrypted credentials, the resolved baseUrl, test runs."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import DateTimeField, Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.access import acts_for_any_user
from accounts.models import User
from connections import encryption
from connections.credential_validation import resolve_base_url, secret_field_names
from connections.models import AuditEvent, CheckRun, Connection, ProxyCall
from core.errors import NotFound, ValidationFailed
from core.prepared import PreparedQuery
from integrations.catalog import catalog_integration, catalog_revision
from integrations.documents import INTEGRATION_ID, is_sign_in_method
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


def _catalog_entry(*, integration_id: str, revision: int) -> Integration:
    integration = catalog_integration(integration_id=integration_id, revision=revision)
    # A connection's integration cannot be deleted (PROTECT): missing only in a race with a write.
    return integration or Integration.objects.get(pk=integration_id)


def _connection_by_id(*, connection_id: str, include_deleted: bool) -> QuerySet[Connection]:
    rows = Connection.objects.filter(connection_id=connection_id)
    if not include_deleted:
        rows = rows.filter(deleted_at__isnull=True)
    # connection_id is unique: no ordering to compile, at most one row to read.
    return rows.select_related("user").annotate(catalog_revision=catalog_revision()).order_by()[:1]


_CONNECTION = PreparedQuery(partial(_connection_by_id, include_deleted=False), "connection_id")
_CONNECTION_ANY = PreparedQuery(partial(_connection_by_id, include_deleted=True), "connection_id")


def connection_get_for_actor(*, actor, connection_id: str, include_deleted: bool = False) -> Connection:
    """The connection, if ``actor`` may see it: its owner, an API key or an operator. One query:
    the connection with its user (the integration comes from the in-memory catalog).

    Someone else's connection is "not found", so ids cannot be probed; so is one deleted
    permanently, unless ``include_deleted`` (its history outlives it).
    """
    query = _CONNECTION_ANY if include_deleted else _CONNECTION
    connection = next(iter(query.instances(connection_id=connection_id)), None)
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


def _stats_columns(owned: QuerySet[Connection], *, recent_since) -> dict[str, Subquery]:
    return {
        "stat_active": _count(owned.filter(status=Connection.Status.ACTIVE)),
        "stat_inactive": _count(owned.filter(status=Connection.Status.INACTIVE)),
        "stat_recent": _count(owned.filter(created_at__gte=recent_since)),
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


class ConnectionRow(NamedTuple):
    """A connection as my-connections lists it: its columns as plain values under the model's
    names, its owner's userId and its integration from the catalog. Building a model instance per
    row cost more than all the rest of a long list."""

    pk: int
    connection_id: str
    integration_id: str
    connection_name: str
    auth_method_id: str
    auth_method_label: str
    status: str
    configured_variables: dict
    credentials_encrypted: str
    last_test_status: str | None
    last_test_message: str | None
    last_test_date: datetime | None
    consecutive_failures: int
    account_id: str
    account_display_name: str
    account_email: str
    oauth_scopes: list
    oauth_expires_at: datetime | None
    oauth_has_refresh_token: bool
    needs_reconnect: bool
    reconnect_reason: str
    created_at: datetime
    updated_at: datetime
    owner_user_id: str
    integration: Integration
    needs_attention: bool  # the model's property, with the setting read once per list

    # The model's own derived value: it reads only attributes a row has under the same names.
    account = Connection.account


_ROW_COLUMNS = ConnectionRow._fields[: ConnectionRow._fields.index("owner_user_id")]
_STATS_COLUMNS = ("stat_active", "stat_inactive", "stat_recent")


@dataclass(frozen=True)
class _PageQuery:
    rows: QuerySet  # ordered and sliced: one more than the page, to tell whether more follow
    columns: dict[str, Subquery]  # stats (and the filtered total) for every row
    size: int


def _page_query(
    *,
    user: User | str,
    recent_since,
    status: str | None,
    integration_id: str | None,
    q: str | None,
    limit: int | None,
    offset: int,
    cursor: str | None,
    newest_first: bool,
    within: Q | None,
) -> _PageQuery:
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
    columns = _stats_columns(owned, recent_since=recent_since)
    if integration_id or q:  # else the total is one of the stats
        columns["filtered_total"] = _count(filtered)
    size = min(limit or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    page = filtered.filter(_after_cursor(cursor, newest_first=newest_first)) if cursor else filtered
    order = ("-created_at", "-pk") if newest_first else ("created_at", "pk")
    rows = page.annotate(catalog_revision=catalog_revision(), **columns).order_by(*order)
    return _PageQuery(rows=rows[offset : offset + size + 1], columns=columns, size=size)


def _counts_alone(*, user: User | str, columns: dict[str, Subquery]) -> User:
    """The user with the stats columns, when the page is empty; NotFound when there is no user."""
    users = User.objects.filter(pk=user.pk) if isinstance(user, User) else User.objects.filter(user_id=user)
    counted = users.annotate(**columns).first()
    if counted is None:
        raise NotFound("User not found")
    return counted


def _totals(counted, *, status: str | None) -> tuple[ConnectionStats, int]:
    stats = _stats(counted)
    total = getattr(counted, "filtered_total", None)
    if total is None:
        by_status = {Connection.Status.ACTIVE: stats.active, Connection.Status.INACTIVE: stats.inactive}
        total = by_status[status] if status else stats.total
    return stats, total


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
    query = _page_query(
        user=user,
        recent_since=timezone.now() - RECENT_WINDOW,
        status=status,
        integration_id=integration_id,
        q=q,
        limit=limit,
        offset=offset,
        cursor=cursor,
        newest_first=newest_first,
        within=within,
    )
    rows = list(query.rows if isinstance(user, User) else query.rows.select_related("user"))
    if rows:
        counted = rows[0]
        user = user if isinstance(user, User) else counted.user
    else:  # nothing on this page: the user and the counts on their own
        counted = _counts_alone(user=user, columns=query.columns)
        user = user if isinstance(user, User) else counted
    items = [_with_integration(row) for row in rows[: query.size]]
    for item in items:
        item.user = user  # every row is this user's: one instance for all
    stats, total = _totals(counted, status=status)
    next_cursor = _encode_cursor(items[-1]) if len(rows) > query.size else None
    return ConnectionPage(user=user, items=items, total=total, stats=stats, next_cursor=next_cursor)


@dataclass(frozen=True)
class ConnectionRowsPage:
    user_id: str
    items: list[ConnectionRow]
    total: int
    stats: ConnectionStats
    next_cursor: str | None


def connection_rows_for_user(
    *,
    user: User | str,
    status: str | None = None,
    integration_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    cursor: str | None = None,
) -> ConnectionRowsPage:
    """``connection_list_for_user`` for the API's list, oldest first: the same page, query and
    rules, with the connections as ``ConnectionRow`` values instead of model instances. Without a
    cursor the query is a prepared one (compiled once per shape, see ``_rows_statement``)."""
    user_id = user.user_id if isinstance(user, User) else user
    recent_since = timezone.now() - RECENT_WINDOW
    filters = {"status": status, "integration_id": integration_id}
    given = {name: value for name, value in filters.items() if value}
    size = min(limit or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    if cursor is None:
        statement = _rows_statement(filters=tuple(given), size=size, offset=offset)
        values = statement.rows(user=user_id, recent_since=recent_since, **given)
    else:
        values = list(
            _rows_query(
                user=user_id, recent_since=recent_since, cursor=cursor, size=size, offset=offset, **given
            )
        )
    width = len(_ROW_COLUMNS)
    if values:
        extra = ("user_id", "catalog_revision", *_STATS_COLUMNS, "filtered_total")
        counted = SimpleNamespace(**dict(zip(extra, values[0][width:], strict=False)))
    else:
        columns = _page_query(
            user=user_id,
            recent_since=recent_since,
            q=None,
            limit=None,
            offset=0,
            cursor=None,
            newest_first=False,
            within=None,
            **filters,
        ).columns
        counted = _counts_alone(user=user_id, columns=columns)
    failures, attention_after = (
        _ROW_COLUMNS.index("consecutive_failures"),
        settings.CONNECTION_ATTENTION_AFTER,
    )
    items = [
        ConnectionRow._make(
            (
                *row[:width],
                counted.user_id,
                _catalog_entry(integration_id=row[2], revision=row[width + 1]),
                row[failures] >= attention_after,
            )
        )
        for row in values[:size]
    ]
    stats, total = _totals(counted, status=status)
    next_cursor = _encode_cursor(items[-1]) if len(values) > size else None
    return ConnectionRowsPage(
        user_id=counted.user_id, items=items, total=total, stats=stats, next_cursor=next_cursor
    )


def _rows_query(*, user, recent_since, cursor: str | None, size: int, offset: int, **filters) -> QuerySet:
    """The list's page as ``ConnectionRow`` columns, then the owner's userId, the catalog's
    revision, the stats and (when filtered by integration) the filtered total."""
    query = _page_query(
        user=user,
        recent_since=recent_since,
        q=None,
        limit=size,
        offset=offset,
        cursor=cursor,
        newest_first=False,
        within=None,
        status=filters.get("status"),
        integration_id=filters.get("integration_id"),
    )
    return query.rows.values_list(*_ROW_COLUMNS, "user__user_id", "catalog_revision", *query.columns)


@lru_cache(maxsize=32)
def _rows_statement(*, filters: tuple[str, ...], size: int, offset: int) -> PreparedQuery:
    """The list's query for one shape (which filters are given, the page's bounds), prepared."""
    return PreparedQuery(
        partial(_rows_query, cursor=None, size=size, offset=offset),
        "user",
        *filters,
        typed={"recent_since": DateTimeField()},
    )


def connection_credentials(*, connection: Connection) -> dict:
    """The decrypted credentials. CredentialsUnreadable (never garbage) when they cannot be read."""
    return _decrypted(connection.connection_id, connection.credentials_encrypted)


def _decrypted(connection_id: str, token: str) -> dict:
    try:
        return encryption.decrypt_json(token, bound_to=connection_id)
    except encryption.CredentialsUnreadable as exc:
        logger.error("connection %s: credentials unreadable: %s", connection_id, exc.error)
        raise


def connection_credentials_masked(
    *, connection: Connection | ConnectionRow, credentials: dict | None = None
) -> dict:
    """Credentials with every password or secret field replaced by the mask."""
    method = auth_method_facts(integration=connection.integration, auth_method_id=connection.auth_method_id)
    if credentials is not None:
        return _masked(credentials, method.secrets)
    keys = tuple(settings.ENCRYPTION_KEYS)
    return dict(
        _masked_pairs(connection.connection_id, connection.credentials_encrypted, method.secrets, keys)
    )


def connection_rows_credentials_masked(*, rows: list[ConnectionRow]) -> list[dict]:
    """``connection_credentials_masked`` of each connection of a list, the keys read once."""
    keys = tuple(settings.ENCRYPTION_KEYS)
    return [
        dict(
            _masked_pairs(
                row.connection_id,
                row.credentials_encrypted,
                auth_method_facts(integration=row.integration, auth_method_id=row.auth_method_id).secrets,
                keys,
            )
        )
        for row in rows
    ]


def _masked(credentials: dict, secrets: frozenset[str]) -> dict:
    return {name: MASK if name in secrets else value for name, value in credentials.items()}


@lru_cache(maxsize=20_000)
def _masked_pairs(connection_id: str, token: str, secrets: frozenset[str], keys: tuple[str, ...]) -> tuple:
    """Masked credentials by stored token: lists show the same connections again and again, and
    decrypting each to mask it was a list's largest cost. A token changes with every write (a
    fresh nonce) and the keys are part of the cache key, so an answer is never older than the row.
    Only masked values are kept: what anyone who may list the connection sees."""
    return tuple(_masked(_decrypted(connection_id, token), secrets).items())


@dataclass(frozen=True)
class AuthMethodFacts:
    secrets: frozenset[str]  # the fields masked
    sign_in: bool  # signing in at the provider (OAuth 2.0), tokens rather than typed secrets


_facts: dict[tuple[int, str], tuple[Integration, AuthMethodFacts]] = {}
_FACTS_KEPT = 512


def auth_method_facts(*, integration: Integration, auth_method_id: str) -> AuthMethodFacts:
    """What a list needs to know of a connection's sign-in method, worked out once per integration
    instance: every row of a list shares the catalog's, which is replaced, never changed."""
    key = (id(integration), auth_method_id)
    known = _facts.get(key)
    if known is not None and known[0] is integration:
        return known[1]
    method = integration.auth_method(auth_method_id)
    facts = AuthMethodFacts(secrets=frozenset(secret_field_names(method)), sign_in=is_sign_in_method(method))
    if len(_facts) >= _FACTS_KEPT:
        _facts.clear()
    _facts[key] = (integration, facts)  # the instance held too, so its id is not reused meanwhile
    return facts


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
