"""Token import (seed 004): a host product moves OAuth tokens it already holds into a sign-in
connection, without the user signing in again.

The connection is made exactly as the sign-in flow makes one (connections/oauth/connections.py:
configuredVariables validated, tokens encrypted in the same shape, refreshed like any sign-in
connection), audited as an import and tested by a worker. A keyed hash of the access token (never
the token) finds an earlier import of the same token, so importing twice creates nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac

from accounts.models import User
from connections import test_run_services
from connections.models import AuditEvent, CheckRun, Connection
from connections.oauth.connections import oauth_connection_create
from connections.oauth.provider import TokenSet
from connections.services import audit_record
from core.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from integrations.documents import is_sign_in_method
from integrations.models import Integration

logger = logging.getLogger(__name__)


class AlreadyImported(Conflict):
    """This token was imported before: the answer names the connection it made."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(
            "Connection already exists",
            error="This access token was already imported for this user and integration",
        )
        self.connection_id = connection.connection_id


@dataclass(frozen=True)
class ImportedTokens:
    access_token: str
    scopes: list[str]
    refresh_token: str | None = None
    expires_at_ms: int | None = None  # epoch milliseconds; None: the token does not expire


def import_fingerprint(*, integration_id: str, access_token: str) -> str:
    """A keyed hash (SECRET_KEY) of the token: comparable, useless for recovering the token."""
    return salted_hmac(
        "connections.token_import", f"{integration_id}\0{access_token}", algorithm="sha256"
    ).hexdigest()


def _sign_in_method(integration: Integration, auth_method_id: str | None) -> dict:
    if auth_method_id:
        method = integration.auth_method(auth_method_id)
        if method is None:
            raise ValidationFailed([f"authMethodId '{auth_method_id}' is not a method of '{integration.pk}'"])
        if not is_sign_in_method(method):
            raise ValidationFailed(
                [
                    f"authMethodId '{auth_method_id}' is not an OAuth sign-in method: tokens cannot be imported into it"
                ]
            )
        return method
    method = next((m for m in integration.auth_methods if is_sign_in_method(m)), None)
    if method is None:
        raise ValidationFailed(
            [f"integrationId '{integration.pk}' has no OAuth sign-in method to import tokens into"]
        )
    return method


def _token_set(tokens: ImportedTokens) -> TokenSet:
    expires_at = None
    if tokens.expires_at_ms is not None:
        expires_at = datetime.fromtimestamp(tokens.expires_at_ms / 1000, tz=UTC)
        if expires_at <= datetime.now(tz=UTC) and not tokens.refresh_token:
            raise ValidationFailed(["expiresAt is in the past and there is no refreshToken to renew it"])
    return TokenSet(
        access_token=tokens.access_token,
        token_type="Bearer",
        refresh_token=tokens.refresh_token,
        expires_at=expires_at,
        scopes=list(tokens.scopes),
    )


def _existing(user: User, integration: Integration, fingerprint: str) -> Connection | None:
    return Connection.objects.filter(
        user=user, integration=integration, import_fingerprint=fingerprint, deleted_at__isnull=True
    ).first()


def connection_import(
    *,
    actor: Any,
    user: User,
    integration_id: str,
    tokens: ImportedTokens,
    auth_method_id: str | None = None,
    connection_name: str = "",
    configured_variables: dict | None = None,
) -> tuple[Connection, CheckRun | None]:
    """A new sign-in connection holding ``tokens``, and the test run queued for it (with the task
    queue down it waits, queued, for the sweeper). AlreadyImported (409) when this token was
    imported for this user and integration before."""
    if not user.is_active:
        raise ValidationFailed([f"userId '{user.user_id}' is inactive"])
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        raise NotFound("Integration not found")
    if integration.status != Integration.Status.ACTIVE:
        raise ValidationFailed([f"integrationId '{integration_id}' is inactive and accepts no connections"])
    method = _sign_in_method(integration, auth_method_id)
    fingerprint = import_fingerprint(integration_id=integration.pk, access_token=tokens.access_token)
    existing = _existing(user, integration, fingerprint)
    if existing is not None:
        raise AlreadyImported(existing)
    token_set = _token_set(tokens)
    try:
        with transaction.atomic():
            connection = oauth_connection_create(
                actor=actor,
                user=user,
                integration=integration,
                auth_method_id=method["id"],
                tokens=token_set,
                requested_scopes=list(tokens.scopes),
                configured_variables=configured_variables or {},
                connection_name=connection_name,
            )
            # The unique constraint turns a concurrent import of the same token into an IntegrityError.
            Connection.objects.filter(pk=connection.pk).update(import_fingerprint=fingerprint)
            connection.import_fingerprint = fingerprint
            audit_record(
                connection=connection,
                action=AuditEvent.Action.IMPORT,
                actor=actor,
                fields=["credentials.accessToken", "oauth.scopes"]
                + (["credentials.refreshToken"] if tokens.refresh_token else [])
                + (["credentials.expiresAt"] if tokens.expires_at_ms is not None else []),
            )
    except IntegrityError:
        existing = _existing(user, integration, fingerprint)
        if existing is None:
            raise
        raise AlreadyImported(existing) from None
    try:
        run = test_run_services.test_run_enqueue(connection=connection, actor=actor)
    except ServiceUnavailable:
        # Saved as queued all the same: the sweeper sends it once the queue is back.
        logger.warning("imported connection %s: task queue down, test sent later", connection.connection_id)
        run = connection.test_runs.order_by("-queued_at", "-id").first()
    return connection, run
