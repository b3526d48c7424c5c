"""Connections as the API answers them, built by plain functions: the list of a thousand
connections and the detail are hot paths, and a serializer class costs several times more per
item. The serializer classes in ``serializers.py`` describe the same shapes for the OpenAPI schema
and for the rare answers; ``tests/connections/api/test_representations.py`` keeps the two equal.

The functions take a model instance or a ``ConnectionRow`` (the list's plain values, under the
same names). To add a field, add it here (and to ``ConnectionRow`` if the list needs a column)
and to the matching serializer class, in the same place.
"""

from __future__ import annotations

from connections.models import Connection
from connections.selectors import (
    ConnectionRow,
    ConnectionRowsPage,
    auth_method_facts,
    connection_credentials,
    connection_credentials_masked,
    connection_rows_credentials_masked,
    connection_secrets_visible_to,
)
from core.api.fields import iso_timestamp
from integrations.models import Integration


def oauth_state(connection: Connection | ConnectionRow) -> dict | None:
    """The ``oauth`` block of a sign-in connection (None for others); from columns, never decrypting."""
    facts = auth_method_facts(integration=connection.integration, auth_method_id=connection.auth_method_id)
    if not facts.sign_in:
        return None
    return {
        "scopes": connection.oauth_scopes,
        "expiresAt": iso_timestamp(connection.oauth_expires_at),
        "hasRefreshToken": connection.oauth_has_refresh_token,
        "needsReconnect": connection.needs_reconnect,
        "reconnectReason": connection.reconnect_reason or None,
    }


def _integration_summary(integration: Integration) -> dict:
    return {
        "displayName": integration.display_name,
        "category": integration.category,
        "iconUrl": integration.icon_url,
    }


def _item(
    connection: Connection | ConnectionRow, *, user_id: str, decrypted: dict, integration: dict
) -> dict:
    return {
        "connectionId": connection.connection_id,
        "userId": user_id,
        "integrationId": connection.integration_id,
        "integrationName": connection.integration.display_name,
        "connectionName": connection.connection_name,
        "authMethodId": connection.auth_method_id,
        "authMethodLabel": connection.auth_method_label,
        "status": connection.status,
        "configuredVariables": connection.configured_variables,
        "credentials": {"encrypted": connection.credentials_encrypted, "decrypted": decrypted},
        "lastTestStatus": connection.last_test_status,
        "lastTestMessage": connection.last_test_message,
        "lastTestDate": iso_timestamp(connection.last_test_date),
        "consecutiveFailures": connection.consecutive_failures,
        "needsAttention": connection.needs_attention,
        "account": connection.account,
        "oauth": oauth_state(connection),
        "createdAt": iso_timestamp(connection.created_at),
        "updatedAt": iso_timestamp(connection.updated_at),
        "integration": integration,
    }


def connection_list_item(connection: Connection) -> dict:
    """An item of my-connections: secrets masked (ConnectionListItemOutput)."""
    return _item(
        connection,
        user_id=connection.user.user_id,
        decrypted=connection_credentials_masked(connection=connection),
        integration=_integration_summary(connection.integration),
    )


def connection_list_items(page: ConnectionRowsPage) -> list[dict]:
    """The items of my-connections from a page of rows, as ``connection_list_item`` makes each."""
    masked = connection_rows_credentials_masked(rows=page.items)
    return [
        _item(
            row, user_id=page.user_id, decrypted=decrypted, integration=_integration_summary(row.integration)
        )
        for row, decrypted in zip(page.items, masked, strict=True)
    ]


def connection_detail(connection: Connection, *, actor) -> dict:
    """The detail (ConnectionDetailOutput): decrypted for whoever may see the secrets, else masked."""
    decrypted = connection_credentials(connection=connection)
    if not connection_secrets_visible_to(actor=actor, connection=connection):
        decrypted = connection_credentials_masked(connection=connection, credentials=decrypted)
    integration = {
        **_integration_summary(connection.integration),
        "description": connection.integration.description,
    }
    return _item(connection, user_id=connection.user.user_id, decrypted=decrypted, integration=integration)
