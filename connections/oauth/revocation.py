"""Revoking a sign-in connection's tokens at the provider (RFC 7009) when it is deleted for good.

Best effort: the deletion goes ahead whatever the provider answers; the outcome is recorded in
the connection's history.
"""

from __future__ import annotations

import logging
from typing import Any

from connections.encryption import CredentialsUnreadable
from connections.models import AuditEvent, Connection
from connections.oauth.clients import oauth_client_get
from connections.oauth.provider import revoke
from connections.selectors import connection_credentials
from connections.services import audit_record, connection_delete_permanently
from integrations.connectivity import allowed_hosts_for
from integrations.documents import is_sign_in_method

logger = logging.getLogger(__name__)


def oauth_tokens_revoke(*, connection: Connection, actor: Any) -> str | None:
    """Revoke the refresh token (which ends the grant at most providers) and the access token
    where the document names a ``revocationUrl``. Returns the recorded outcome, or None when
    there is nothing to revoke (not a sign-in connection, no revocation endpoint)."""
    method = connection.integration.auth_method(connection.auth_method_id)
    if not is_sign_in_method(method) or not method["apply"].get("revocationUrl"):
        return None
    client = oauth_client_get(integration=connection.integration, auth_method_id=connection.auth_method_id)
    try:
        credentials = connection_credentials(connection=connection)
    except CredentialsUnreadable:
        credentials = {}
    outcomes = []
    for hint, key in (("refresh_token", "refreshToken"), ("access_token", "accessToken")):
        if not credentials.get(key):
            continue
        if client is None:
            outcomes.append(f"{hint} not revoked: the OAuth app is no longer set up")
            continue
        outcomes.append(
            revoke(
                spec=method["apply"],
                client=client,
                token=credentials[key],
                hint=hint,
                variables=connection.configured_variables,
                allowed_hosts=allowed_hosts_for(connection.integration.document),
            )
        )
    detail = "; ".join(outcomes) or "no token to revoke"
    audit_record(
        connection=connection,
        action=AuditEvent.Action.REVOKE,
        actor=actor,
        fields=["credentials"],
        detail=detail,
    )
    logger.info("connection %s: revocation: %s", connection.connection_id, detail)
    return detail


def connection_delete_permanently_and_revoke(*, connection: Connection, actor: Any) -> Connection:
    """Permanent delete, with a sign-in connection's tokens first revoked at the provider (while
    they can still be read). The revocation is best effort: the delete happens whatever it answers."""
    if connection.deleted_at is None and connection.is_sign_in:
        oauth_tokens_revoke(connection=connection, actor=actor)  # records failures, never raises them
    return connection_delete_permanently(connection=connection, actor=actor)
