"""Writing connections. Every write runs in one transaction together with its audit record."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.access import actor_label
from accounts.models import User
from connections import encryption
from connections.credential_validation import (
    auth_method_or_error,
    secret_field_names,
    validate_connection_input,
)
from connections.encryption import CredentialsUnreadable
from connections.models import AuditEvent, Connection, IdempotencyRecord, OAuthApp, OAuthFlow, WebhookEndpoint
from connections.selectors import connection_credentials
from connections.webhooks import AUDIT_EVENTS, webhook_event_emit
from core import metrics
from core.errors import ApplicationError, Conflict, NotFound, PreconditionFailed, ValidationFailed
from integrations.documents import is_sign_in_method
from integrations.identity import AccountIdentity
from integrations.models import Integration

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL = timedelta(hours=24)
Action = AuditEvent.Action


def audit_record(
    *,
    connection: Connection,
    action: str,
    actor: Any,
    fields: list[str] | tuple[str, ...] = (),
    detail: str = "",
) -> AuditEvent:
    """Record who did what to a connection. ``actor`` is a request's user (or a label string);
    ``fields`` are field names, never values; ``detail`` an outcome without secrets."""
    label = actor if isinstance(actor, str) else actor_label(actor)
    event = AuditEvent.objects.create(
        connection=connection, action=action, actor=label, fields=sorted(fields), detail=detail
    )
    logger.info(
        "connection %s: %s by %s (%s)", connection.connection_id, action, label, ", ".join(sorted(fields))
    )
    if action in AUDIT_EVENTS:
        details = {"reason": detail} if detail else {}
        webhook_event_emit(
            event_type=AUDIT_EVENTS[action], connection=connection, fields=sorted(fields), **details
        )
    return event


def identity_values(identity: AccountIdentity | None) -> dict[str, Any]:
    """The connection's account fields for ``identity``; nothing when the provider did not say
    (a test that could not read it keeps what an earlier one found)."""
    if identity is None:
        return {}
    return {
        "account_id": identity.account_id,
        "account_display_name": identity.display_name,
        "account_email": identity.email,
        "account_checked_at": timezone.now(),
    }


def audit_record_many(*, connections: list[Connection], action: str, actor: Any) -> list[AuditEvent]:
    """``audit_record`` for a batch of connections in one INSERT (tests queued in bulk); actions
    that emit webhooks go through ``audit_record`` one by one."""
    if action in AUDIT_EVENTS:
        return [audit_record(connection=c, action=action, actor=actor) for c in connections]
    label = actor if isinstance(actor, str) else actor_label(actor)
    events = AuditEvent.objects.bulk_create(
        [AuditEvent(connection=c, action=action, actor=label, fields=[]) for c in connections]
    )
    if connections:
        logger.info(
            "%d connection(s), first %s: %s by %s",
            len(connections),
            connections[0].connection_id,
            action,
            label,
        )
    return events


def _integration_for_new_connection(integration_id: str) -> Integration:
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        raise NotFound("Integration not found")
    if integration.status != Integration.Status.ACTIVE:
        raise ValidationFailed([f"integrationId '{integration_id}' is inactive and accepts no connections"])
    return integration


def idempotency_fingerprint(body: Any) -> str:
    """A keyed hash of a request body: comparable between retries, useless for guessing the
    credentials inside it (a plain hash of a short secret could be brute-forced)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return salted_hmac("connections.idempotency", canonical, algorithm="sha256").hexdigest()


def _idempotent_replay(*, actor: str, key: str, fingerprint: str) -> Connection | None:
    record = (
        IdempotencyRecord.objects.filter(
            actor=actor, key=key, created_at__gte=timezone.now() - IDEMPOTENCY_TTL
        )
        .select_related("connection__integration", "connection__user")
        .first()
    )
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Conflict(
            "Idempotency-Key reused with a different request",
            error="Send a new Idempotency-Key for a different request body",
        )
    return record.connection


def connection_create(
    *,
    actor: Any,
    user: User,
    integration_id: str,
    auth_method_id: str,
    credentials: dict,
    configured_variables: dict | None = None,
    connection_name: str | None = None,
) -> Connection:
    """Create a connection after validating it against the integration's auth schema."""
    if not user.is_active:
        raise ValidationFailed([f"userId '{user.user_id}' is inactive"])
    integration = _integration_for_new_connection(integration_id)
    _refuse_sign_in_method(integration, auth_method_id)
    valid = validate_connection_input(
        integration=integration,
        auth_method_id=auth_method_id,
        credentials=credentials,
        configured_variables=configured_variables or {},
    )
    connection = Connection(
        user=user,
        integration=integration,
        auth_method_id=auth_method_id,
        auth_method_label=valid.auth_method["label"],
        connection_name=(connection_name or "").strip() or integration.display_name,
        configured_variables=valid.configured_variables,
    )
    connection.credentials_encrypted = encryption.encrypt_json(
        valid.credentials, bound_to=connection.connection_id
    )
    with transaction.atomic():
        connection.save()
        audit_record(
            connection=connection,
            action=Action.CREATE,
            actor=actor,
            fields=["connectionName", "authMethodId", "status"]
            + [f"configuredVariables.{k}" for k in valid.configured_variables]
            + [f"credentials.{k}" for k in valid.credentials],
        )
    return connection


def connection_create_idempotent(
    *, actor: Any, idempotency_key: str, request_fingerprint: str, create: Callable[[], Connection]
) -> Connection:
    """``create()`` (a ``connection_create`` with its arguments) at most once per key and caller.

    A retry with the same body returns the connection the first call created (and creates
    nothing); the same key with another body is a Conflict. The connection and its key are
    committed together.
    """
    label = actor_label(actor)
    replay = _idempotent_replay(actor=label, key=idempotency_key, fingerprint=request_fingerprint)
    if replay is not None:
        return replay
    try:
        with transaction.atomic():
            connection = create()
            # Only an expired record may make way: deleting a live one that a concurrent
            # retry just committed would let this request create a second connection.
            IdempotencyRecord.objects.filter(
                actor=label, key=idempotency_key, created_at__lt=timezone.now() - IDEMPOTENCY_TTL
            ).delete()
            IdempotencyRecord.objects.create(
                actor=label, key=idempotency_key, request_hash=request_fingerprint, connection=connection
            )
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as its retry.
        replay = _idempotent_replay(actor=label, key=idempotency_key, fingerprint=request_fingerprint)
        if replay is None:
            raise
        return replay
    return connection


def _refuse_sign_in_method(integration: Integration, auth_method_id: str) -> None:
    """Tokens of a sign-in method come from the provider (connections/oauth), never from a caller."""
    if is_sign_in_method(integration.auth_method(auth_method_id)):
        raise ValidationFailed(
            [
                f"authMethodId '{auth_method_id}' signs in at the provider: start it with "
                "POST /api/user-integrations/oauth/start (or the wizard's sign-in button)"
            ]
        )


def _etag_matches(if_match: str, connection: Connection) -> bool:
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or connection.etag in tags or f"W/{connection.etag}" in tags


def _merge_credentials(*, stored: dict, sent: dict, secrets: set[str]) -> tuple[dict, set[str]]:
    """Sent values over stored ones; a secret sent empty keeps its stored value (the wizard
    leaves password inputs blank when the user does not retype them)."""
    merged = dict(stored)
    supplied = set()
    for name, value in sent.items():
        if name in secrets and (value is None or (isinstance(value, str) and value == "")):
            continue
        merged[name] = value
        supplied.add(name)
    return merged, supplied


def _changed_keys(prefix: str, before: dict, after: dict) -> list[str]:
    return [f"{prefix}.{k}" for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


@dataclass(frozen=True)
class ConnectionChanges:
    """The fields a caller asked to change; None means "leave as it is"."""

    connection_name: str | None = None
    auth_method_id: str | None = None
    auth_method_label: str | None = None
    configured_variables: dict | None = None
    credentials: dict | None = None
    status: str | None = None


@dataclass(frozen=True)
class UpdatePlan:
    updates: dict[str, Any]  # model field -> new value
    changed: list[str]  # field names for the audit record
    action: str


def connection_update_plan(*, current: Connection, changes: ConnectionChanges) -> UpdatePlan:
    """Merge ``changes`` into the connection's current state and validate the result; writes
    nothing (the admin form uses it to show errors before saving). ValidationFailed on problems."""
    if current.deleted_permanently:
        raise NotFound("Connection not found")
    integration = current.integration
    changed: list[str] = []
    updates: dict[str, Any] = {}

    method_id = changes.auth_method_id or current.auth_method_id
    method_changed = method_id != current.auth_method_id
    if method_changed:
        _refuse_sign_in_method(integration, method_id)
    if method_changed or changes.credentials is not None or changes.configured_variables is not None:
        method = auth_method_or_error(integration, method_id)
        # A new auth method starts from no credentials: its required fields must be sent.
        stored = {} if method_changed else connection_credentials(connection=current)
        merged, supplied = _merge_credentials(
            stored=stored, sent=changes.credentials or {}, secrets=secret_field_names(method)
        )
        valid = validate_connection_input(
            integration=integration,
            auth_method_id=method_id,
            credentials=merged,
            configured_variables={**current.configured_variables, **(changes.configured_variables or {})},
            supplied_credentials=supplied,
            supplied_variables=set(changes.configured_variables or {}),
        )
        changed_variables = _changed_keys(
            "configuredVariables", current.configured_variables, valid.configured_variables
        )
        changed_credentials = _changed_keys("credentials", stored, valid.credentials)
        if changed_variables:
            updates["configured_variables"] = valid.configured_variables
        if changed_credentials or method_changed:
            # Fresh nonce and the newest key on every change of credentials.
            updates["credentials_encrypted"] = encryption.encrypt_json(
                valid.credentials, bound_to=current.connection_id
            )
        changed += changed_variables + changed_credentials
        if method_changed:
            updates["auth_method_id"] = method_id
            updates["auth_method_label"] = changes.auth_method_label or method["label"]
            changed += ["authMethodId", "authMethodLabel"]
        if changed_variables or changed_credentials or method_changed:
            # The last test proved other settings: it says nothing about these ones.
            updates.update(
                last_test_status=None, last_test_message=None, last_test_date=None, consecutive_failures=0
            )
    if changes.auth_method_label is not None and changes.auth_method_label != current.auth_method_label:
        updates["auth_method_label"] = changes.auth_method_label
        changed.append("authMethodLabel")
    if changes.connection_name is not None:
        name = changes.connection_name.strip() or integration.display_name
        if name != current.connection_name:
            updates["connection_name"] = name
            changed.append("connectionName")
    action = Action.UPDATE
    if changes.status is not None and changes.status != current.status:
        if changes.status == Connection.Status.ACTIVE:
            _require_active_integration(integration)
            action = Action.REACTIVATE
        updates["status"] = changes.status
        changed.append("status")
    return UpdatePlan(updates=updates, changed=sorted(set(changed)), action=action)


def connection_update(
    *, connection: Connection, actor: Any, changes: ConnectionChanges, if_match: str | None = None
) -> Connection:
    """Apply any subset of fields. The row is locked and the changes merged into its current
    state, so concurrent updates never lose each other's changes; ``if_match`` (an ETag) makes
    the update conditional on the version the caller read. Returns the updated connection."""
    with transaction.atomic():
        current = (
            Connection.objects.select_for_update(of=("self",))
            .select_related("integration", "user")
            .get(pk=connection.pk)
        )
        if if_match and not _etag_matches(if_match, current):
            raise PreconditionFailed(
                "Connection has changed since it was read", error=f"Current ETag is {current.etag}"
            )
        plan = connection_update_plan(current=current, changes=changes)
        if not plan.updates:
            return current
        _save_versioned(current, plan.updates)
        audit_record(connection=current, action=plan.action, actor=actor, fields=plan.changed)
    return current


def _require_active_integration(integration: Integration) -> None:
    if integration.status != Integration.Status.ACTIVE:
        raise ApplicationError(
            f"Integration '{integration.pk}' is inactive: its connections cannot be reactivated"
        )


def _save_versioned(connection: Connection, updates: dict[str, Any]) -> None:
    """Write ``updates`` and bump the version, only if nobody else wrote in between.

    The caller holds the row lock, so on PostgreSQL this always succeeds; the version check
    also protects databases without row locks (SQLite).
    """
    updates = {**updates, "version": connection.version + 1, "updated_at": timezone.now()}
    written = Connection.objects.filter(pk=connection.pk, version=connection.version).update(**updates)
    if not written:
        raise Conflict("Connection was changed by another request; read it again and retry")
    for name, value in updates.items():
        setattr(connection, name, value)


def _set_status(*, connection: Connection, actor: Any, status: str, action: str) -> Connection:
    with transaction.atomic():
        current = (
            Connection.objects.select_for_update(of=("self",))
            .select_related("integration")
            .get(pk=connection.pk)
        )
        if current.deleted_permanently:
            raise NotFound("Connection not found")
        if current.status == status:
            return current
        if status == Connection.Status.ACTIVE:
            _require_active_integration(current.integration)
        _save_versioned(current, {"status": status})
        audit_record(connection=current, action=action, actor=actor, fields=["status"])
    return current


def connection_delete(*, connection: Connection, actor: Any) -> Connection:
    """Soft delete: the connection becomes inactive and keeps its history (it can be reactivated)."""
    return _set_status(
        connection=connection, actor=actor, status=Connection.Status.INACTIVE, action=Action.DELETE
    )


def connection_delete_permanently(*, connection: Connection, actor: Any) -> Connection:
    """Erase the credentials and every stored value; keep the history without values.

    The row stays as a tombstone (inactive, ``deleted_at`` set) so its audit trail and test
    outcomes still belong to something; selectors treat it as gone and it cannot come back.
    Anything that needs the credentials (revoking a token at the provider) runs before this.
    """
    with transaction.atomic():
        current = Connection.objects.select_for_update(of=("self",)).get(pk=connection.pk)
        if current.deleted_at is not None:
            raise NotFound("Connection not found")
        _save_versioned(
            current,
            {
                "status": Connection.Status.INACTIVE,
                "credentials_encrypted": "",
                "configured_variables": {},
                "last_test_message": None,
                "consecutive_failures": 0,
                "account_id": "",
                "account_display_name": "",
                "account_email": "",
                "import_fingerprint": "",
                "oauth_scopes": [],
                "oauth_expires_at": None,
                "oauth_has_refresh_token": False,
                "deleted_at": timezone.now(),
            },
        )
        # Outcomes stay (status, code, timing, who and when); the text that may quote values goes.
        current.test_runs.update(message=None, error_message=None, endpoint=None)
        IdempotencyRecord.objects.filter(connection=current).delete()
        current.connect_sessions.all().delete()  # no link may reopen it
        audit_record(
            connection=current,
            action=Action.DELETE_PERMANENTLY,
            actor=actor,
            fields=["credentials", "configuredVariables", "status"],
        )
    return current


def connection_reactivate(*, connection: Connection, actor: Any) -> Connection:
    return _set_status(
        connection=connection, actor=actor, status=Connection.Status.ACTIVE, action=Action.REACTIVATE
    )


@dataclass(frozen=True)
class ReencryptedBatch:
    rotated: int
    failed: list[str]  # connection ids whose credentials could not be decrypted
    last_pk: int | None  # None when there was nothing left to do


def connections_reencrypt_batch(*, after_pk: int, batch_size: int) -> ReencryptedBatch:
    """Re-encrypt, with the newest key, the next ``batch_size`` connections (by pk) still on an
    older key, in one transaction and one UPDATE. The rows are locked, so a concurrent update
    waits rather than being overwritten; and each row is written only if its token is still the
    one read (databases without row locks). Rows already on the newest key are never touched,
    so it is safe to interrupt and re-run. Erased connections hold no token and are skipped
    (tested as "no token" rather than ``deleted_at``: the planner walks the primary key even
    before the table has statistics)."""
    with transaction.atomic():
        rows = list(
            Connection.objects.select_for_update(of=("self",))
            .filter(pk__gt=after_pk)
            .exclude(credentials_encrypted="")
            .exclude(credentials_encrypted__startswith=encryption.current_token_prefix())
            .order_by("pk")
            .values_list("pk", "connection_id", "credentials_encrypted")[:batch_size]
        )
        read, written, failed = {}, {}, []
        for pk, connection_id, token in rows:
            try:
                written[pk] = encryption.reencrypt(token, bound_to=connection_id)
            except CredentialsUnreadable:
                failed.append(connection_id)
                continue
            read[pk] = token
        rotated = _replace_tokens(read=read, written=written) if written else 0
    metrics.KEY_ROTATION_ROWS.labels("rotated").inc(rotated)
    metrics.KEY_ROTATION_ROWS.labels("failed").inc(len(failed))
    return ReencryptedBatch(rotated=rotated, failed=failed, last_pk=rows[-1][0] if rows else None)


def _replace_tokens(*, read: dict[int, str], written: dict[int, str]) -> int:
    """One UPDATE: each row gets its new token if it still holds the one read. Same data, new
    wrapping: the version (the API's ETag) stays.

    Raw SQL: the ORM's CASE per row costs O(rows²) to build and run, twenty times slower for a
    batch of a thousand. On PostgreSQL the batch travels as three arrays (three parameters, not
    three per row, which psycopg would have to splice into the text one by one); SQLite takes a
    VALUES list."""
    table = db_connection.ops.quote_name(Connection._meta.db_table)
    if db_connection.vendor == "postgresql":
        source = "unnest(%s::bigint[], %s::text[], %s::text[]) AS v(column1, column2, column3)"
        params = [list(written), [read[pk] for pk in written], list(written.values())]
    else:
        source = f"(VALUES {', '.join(['(%s, %s, %s)'] * len(written))}) AS v"  # columns column1…3
        params = [value for pk, token in written.items() for value in (pk, read[pk], token)]
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET credentials_encrypted = v.column3 FROM {source} "
            f"WHERE {table}.id = v.column1 AND {table}.credentials_encrypted = v.column2",
            params,
        )
        return cursor.rowcount


# The other secrets stored under the key ring, beside connection credentials: what each is bound to.
_OTHER_SECRETS = (
    ("webhook endpoint", WebhookEndpoint, "secret_encrypted", lambda row: row.encryption_binding),
    ("OAuth app", OAuthApp, "client_secret_encrypted", lambda row: row.encryption_binding),
    ("sign-in in progress", OAuthFlow, "code_verifier_encrypted", lambda row: row.state_hash),
)


def _stored_secrets_on_older_keys(model, field: str):
    prefix = encryption.current_token_prefix()
    return model.objects.exclude(**{field: ""}).exclude(**{f"{field}__startswith": prefix})


def stored_secrets_on_older_keys_count() -> int:
    """How many secrets other than connection credentials the newest key has not wrapped yet."""
    return sum(_stored_secrets_on_older_keys(model, field).count() for _, model, field, _ in _OTHER_SECRETS)


def stored_secrets_reencrypt() -> ReencryptedBatch:
    """Re-encrypt with the newest key the secrets that are not connection credentials (webhook
    signing secrets, OAuth apps' client secrets, PKCE verifiers of sign-ins in progress), so the
    old key can be dropped once rotation reports nothing failed. Few rows: one compare-and-set
    UPDATE each, so a secret changed meanwhile keeps its new value."""
    rotated, failed = 0, []
    for label, model, field, binding in _OTHER_SECRETS:
        for row in _stored_secrets_on_older_keys(model, field).iterator():
            token = getattr(row, field)
            try:
                fresh = encryption.reencrypt(token, bound_to=binding(row))
            except CredentialsUnreadable:
                failed.append(f"{label} {row.pk}")
                continue
            rotated += model.objects.filter(pk=row.pk, **{field: token}).update(**{field: fresh})
    return ReencryptedBatch(rotated=rotated, failed=failed, last_pk=None)
