"""Creating and reconnecting sign-in connections from tokens a provider issued.

Used by the sign-in flow (connections/oauth/flow.py) and by anything else that brings tokens in
(token import): the same validation of configuredVariables, the same encrypted shape
(connections/oauth/tokens.py), the same audit records.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from connections import encryption
from connections.credential_validation import validate_connection_input
from connections.models import AuditEvent, Connection
from connections.oauth.provider import TokenSet
from connections.oauth.tokens import oauth_columns, oauth_credentials_from
from connections.services import audit_record
from integrations.models import Integration


def oauth_connection_create(
    *,
    actor: Any,
    user: User,
    integration: Integration,
    auth_method_id: str,
    tokens: TokenSet,
    requested_scopes: list[str],
    configured_variables: dict,
    connection_name: str = "",
) -> Connection:
    """A new active connection holding ``tokens``. ValidationFailed for bad configuredVariables
    (nothing is stored then). Scopes are those granted, or the requested ones when the provider
    does not say."""
    method = integration.auth_method(auth_method_id)
    valid = validate_connection_input(
        integration=integration,
        auth_method_id=auth_method_id,
        credentials={},
        configured_variables=configured_variables,
    )
    credentials = oauth_credentials_from(tokens)
    connection = Connection(
        user=user,
        integration=integration,
        auth_method_id=auth_method_id,
        auth_method_label=method["label"],
        connection_name=connection_name.strip() or integration.display_name,
        configured_variables=valid.configured_variables,
        oauth_refreshed_at=timezone.now(),
        **oauth_columns(credentials, scopes=tokens.scopes if tokens.scopes is not None else requested_scopes),
    )
    connection.credentials_encrypted = encryption.encrypt_json(credentials, bound_to=connection.connection_id)
    with transaction.atomic():
        connection.save()
        audit_record(
            connection=connection,
            action=AuditEvent.Action.CREATE,
            actor=actor,
            fields=["connectionName", "authMethodId", "status"]
            + [f"configuredVariables.{k}" for k in valid.configured_variables]
            + [f"credentials.{k}" for k in credentials],
        )
    return connection


def oauth_connection_reconnect(
    *, connection: Connection, actor: Any, tokens: TokenSet, configured_variables: dict
) -> Connection:
    """New tokens for an existing connection after the user signed in again: it keeps its
    connectionId, name and history, is active again and no longer needs reconnection."""
    integration = connection.integration
    with transaction.atomic():
        current = Connection.objects.select_for_update(of=("self",)).get(pk=connection.pk)
        method = integration.auth_method(current.auth_method_id)
        valid = validate_connection_input(
            integration=integration,
            auth_method_id=current.auth_method_id,
            credentials={},
            configured_variables=configured_variables,
        )
        credentials = oauth_credentials_from(tokens)
        scopes = tokens.scopes if tokens.scopes is not None else method["apply"].get("scopes", [])
        updates = {
            "credentials_encrypted": encryption.encrypt_json(credentials, bound_to=current.connection_id),
            "configured_variables": valid.configured_variables,
            "status": Connection.Status.ACTIVE,
            "oauth_refreshed_at": timezone.now(),
            "oauth_refresh_claim": "",
            "oauth_refresh_claimed_until": None,
            "version": current.version + 1,
            "updated_at": timezone.now(),
            **oauth_columns(credentials, scopes=scopes),
        }
        Connection.objects.filter(pk=current.pk).update(**updates)
        for name, value in updates.items():
            setattr(current, name, value)
        audit_record(
            connection=current,
            action=AuditEvent.Action.RECONNECT,
            actor=actor,
            fields=sorted({"status", "needsReconnect"} | {f"credentials.{k}" for k in credentials}),
        )
    current.integration = integration
    return current
