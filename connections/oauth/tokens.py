"""The tokens of sign-in connections: their stored shape, a live access token on demand, exactly
one refresh at a time, and marking a connection that only signing in again can fix.

Stored shape (encrypted, like every credential): ``{"accessToken", "refreshToken"?, "tokenType",
"expiresAt"}`` with ``expiresAt`` in epoch milliseconds or null. The columns beside it
(``oauth_scopes``, ``oauth_expires_at``, ``oauth_has_refresh_token``) hold what is not secret, so
lists and the refresh schedule never decrypt.

Exactly one refresh per token, across threads, processes and machines: a refresh first *claims*
the connection with one conditional UPDATE (``oauth_refresh_claim`` empty or its lease expired →
a random id). The database makes that UPDATE atomic on PostgreSQL (row lock) and SQLite (database
write lock) alike, so one caller wins; the others wait for the claim to go and then use the token
it saved. The HTTP call runs outside any transaction; the new access token and a rotated refresh
token are then written in one UPDATE that also releases the claim, so a crash can never keep the
old, now invalid, refresh token beside a new access token.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connections import encryption
from connections.models import AuditEvent, Connection
from connections.oauth.clients import OAuthClient, oauth_client_get
from connections.oauth.provider import OAuthProviderError, TokenSet, token_request
from connections.selectors import connection_credentials
from connections.services import audit_record
from connections.webhooks import Event, webhook_event_emit
from core import metrics
from core.errors import ApplicationError
from integrations.connectivity import allowed_hosts_for

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "oauth"
WAIT_STEP_SECONDS = 0.05


class ReconnectRequired(ApplicationError):
    """The connection's grant is gone: the user must sign in again (Reconnect)."""

    status_code = 409
    default_message = "The connection needs to be reconnected"


class TokenRefreshFailed(ApplicationError):
    """The provider could not be reached or answered an error that may pass; try again later."""

    status_code = 502
    default_message = "Could not refresh the access token"


# --- Stored shape


def _epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def oauth_credentials_from(tokens: TokenSet, *, previous: dict | None = None) -> dict:
    """The credentials dict for ``tokens``; a refresh that returned no refresh token keeps the old one."""
    refresh = tokens.refresh_token or (previous or {}).get("refreshToken")
    credentials = {
        "accessToken": tokens.access_token,
        "tokenType": tokens.token_type,
        "expiresAt": _epoch_ms(tokens.expires_at),
    }
    if refresh:
        credentials["refreshToken"] = refresh
    return credentials


def oauth_columns(credentials: dict, *, scopes: list[str]) -> dict[str, Any]:
    """Connection column values that describe ``credentials`` (none of them secret)."""
    expires_ms = credentials.get("expiresAt")
    expires_at = None
    if expires_ms is not None:
        expires_at = datetime.fromtimestamp(int(expires_ms) / 1000, tz=timezone.get_current_timezone())
    return {
        "oauth_scopes": list(scopes),
        "oauth_expires_at": expires_at,
        "oauth_has_refresh_token": bool(credentials.get("refreshToken")),
        "needs_reconnect": False,
        "reconnect_reason": "",
    }


def _due(connection: Connection, *, margin: timedelta | None = None) -> bool:
    margin = timedelta(seconds=settings.OAUTH_REFRESH_MARGIN) if margin is None else margin
    return connection.oauth_expires_at is not None and connection.oauth_expires_at <= timezone.now() + margin


# --- Needing reconnection


def oauth_connection_mark_needs_reconnect(
    *, connection: Connection, reason: str, actor: Any = SYSTEM_ACTOR
) -> None:
    """Flag the connection (My Connections, admin and the API show it with ``reason``) and keep
    it out of refresh until the user signs in again. ``reason`` must hold no secret."""
    with transaction.atomic():
        changed = Connection.objects.filter(pk=connection.pk, needs_reconnect=False).update(
            needs_reconnect=True, reconnect_reason=reason[:1000]
        )
        if changed:
            audit_record(
                connection=connection,
                action=AuditEvent.Action.NEEDS_RECONNECT,
                actor=actor,
                fields=["needsReconnect"],
                detail=reason[:1000],
            )
    connection.needs_reconnect, connection.reconnect_reason = True, reason[:1000]
    logger.warning("connection %s needs reconnection: %s", connection.connection_id, reason)


# --- Refresh


def _claim(pk: int) -> str | None:
    claim = secrets.token_hex(16)
    now = timezone.now()
    lease = timedelta(seconds=settings.OUTBOUND_DEADLINE + 10)
    taken = (
        Connection.objects.filter(pk=pk)
        .exclude(oauth_refresh_claim__gt="", oauth_refresh_claimed_until__gt=now)
        .update(oauth_refresh_claim=claim, oauth_refresh_claimed_until=now + lease)
    )
    return claim if taken else None


def _release(pk: int, claim: str) -> None:
    Connection.objects.filter(pk=pk, oauth_refresh_claim=claim).update(
        oauth_refresh_claim="", oauth_refresh_claimed_until=None
    )


def _load(pk: int) -> Connection:
    return Connection.objects.select_related("integration", "user").get(pk=pk)


def _claim_or_wait(pk: int, seen: datetime | None) -> tuple[str | None, Connection]:
    """Claim the refresh, or wait until whoever holds it is done. Returns (claim, connection);
    the claim is None when somebody else refreshed meanwhile (use the connection as it is)."""
    give_up = time.monotonic() + settings.OUTBOUND_DEADLINE + 15
    while True:
        claim = _claim(pk)
        current = _load(pk)
        if current.oauth_refreshed_at != seen or current.needs_reconnect:
            if claim:
                _release(pk, claim)
            return None, current
        if claim:
            return claim, current
        if time.monotonic() > give_up:
            raise TokenRefreshFailed(error="Another refresh of this connection did not finish in time")
        time.sleep(WAIT_STEP_SECONDS)


def _request_refresh(connection: Connection, credentials: dict, client: OAuthClient | None) -> TokenSet:
    method = connection.integration.auth_method(connection.auth_method_id)
    if client is None:
        raise OAuthProviderError("The OAuth app of this integration is no longer set up", permanent=True)
    return token_request(
        spec=method["apply"],
        client=client,
        grant={"grant_type": "refresh_token", "refresh_token": credentials["refreshToken"]},
        variables=connection.configured_variables,
        allowed_hosts=allowed_hosts_for(connection.integration.document),
    )


def _save_refreshed(connection: Connection, claim: str, tokens: TokenSet, previous: dict) -> None:
    credentials = oauth_credentials_from(tokens, previous=previous)
    columns = oauth_columns(credentials, scopes=tokens.scopes or connection.oauth_scopes)
    # One statement: the new access token, a rotated refresh token and the claim's release.
    written = Connection.objects.filter(pk=connection.pk, oauth_refresh_claim=claim).update(
        credentials_encrypted=encryption.encrypt_json(credentials, bound_to=connection.connection_id),
        oauth_refreshed_at=timezone.now(),
        oauth_refresh_claim="",
        oauth_refresh_claimed_until=None,
        **columns,
    )
    if not written:
        # Our lease ran out (a stalled process) and someone else refreshed: theirs stands.
        logger.error("connection %s: refresh finished after its claim expired", connection.connection_id)


def _refresh_claimed(current: Connection, claim: str, client: OAuthClient | None) -> None:
    """Ask the provider for new tokens of ``current`` (claimed by ``claim``) with ``client`` (the
    app's; None when it is no longer set up) and save them, releasing the claim whatever happens. ReconnectRequired / TokenRefreshFailed as for a refresh."""
    try:
        credentials = connection_credentials(connection=current)
        if not credentials.get("refreshToken"):
            raise OAuthProviderError(
                "The access token expired and the provider gave no refresh token", permanent=True
            )
        tokens = _request_refresh(current, credentials, client)
    except OAuthProviderError as exc:
        _release(current.pk, claim)
        if exc.permanent:
            metrics.OAUTH_REFRESHES.labels(current.integration_id, "reconnect_required").inc()
            oauth_connection_mark_needs_reconnect(connection=current, reason=exc.message)
            raise ReconnectRequired(error=exc.message) from None
        metrics.OAUTH_REFRESHES.labels(current.integration_id, "failure").inc()
        logger.warning("connection %s: token refresh failed: %s", current.connection_id, exc.message)
        webhook_event_emit(event_type=Event.CONNECTION_REFRESH_FAILED, connection=current, reason=exc.message)
        raise TokenRefreshFailed(error=exc.message) from None
    except BaseException:
        _release(current.pk, claim)
        metrics.OAUTH_REFRESHES.labels(current.integration_id, "failure").inc()
        raise
    _save_refreshed(current, claim, tokens, credentials)
    metrics.OAUTH_REFRESHES.labels(current.integration_id, "success").inc()
    logger.info("connection %s: access token refreshed", current.connection_id)


def oauth_token_refresh(*, connection: Connection) -> Connection:
    """Replace the tokens ``connection`` holds (as loaded) with fresh ones; exactly one caller at
    a time talks to the provider, the others wait and get its result, and a caller whose tokens
    were already replaced gets the newer ones without a request. Returns the connection reloaded.

    ReconnectRequired when the grant is gone (the connection is marked so); TokenRefreshFailed
    when the provider could not be reached or answered an error that may pass.
    """
    # The tokens the caller holds are those obtained at ``oauth_refreshed_at``: if the row has
    # newer ones, somebody refreshed since and those are the answer.
    claim, current = _claim_or_wait(connection.pk, connection.oauth_refreshed_at)
    if claim is None:
        if current.needs_reconnect:
            raise ReconnectRequired(error=current.reconnect_reason or None)
        return current
    client = oauth_client_get(integration=current.integration, auth_method_id=current.auth_method_id)
    _refresh_claimed(current, claim, client)
    return _load(current.pk)


def oauth_access_token_get(*, connection: Connection) -> str:
    """A live access token: the stored one, or a fresh one when it expires within
    ``OAUTH_REFRESH_MARGIN``. ReconnectRequired / TokenRefreshFailed as for a refresh; a failed
    refresh of a token that has not expired yet still returns that token."""
    if connection.needs_reconnect:
        raise ReconnectRequired(error=connection.reconnect_reason or None)
    if _due(connection):
        try:
            connection = oauth_token_refresh(connection=connection)
        except TokenRefreshFailed:
            if _due(connection, margin=timedelta(0)):
                raise
    return connection_credentials(connection=connection)["accessToken"]


def oauth_connections_due(*, within: timedelta, limit: int) -> list[int]:
    """Primary keys of active, refreshable connections whose token expires within ``within``
    and that nobody is refreshing right now, soonest first."""
    now = timezone.now()
    return list(
        Connection.objects.filter(
            status=Connection.Status.ACTIVE,
            oauth_has_refresh_token=True,
            needs_reconnect=False,
            oauth_expires_at__lte=now + within,
        )
        .exclude(oauth_refresh_claim__gt="", oauth_refresh_claimed_until__gt=now)
        .order_by("oauth_expires_at")
        .values_list("pk", flat=True)[:limit]
    )


def _claim_unchanged(connection: Connection) -> str | None:
    """Claim the refresh of ``connection`` only while its row still holds the tokens it was
    loaded with (nobody refreshed, reconnected, edited or flagged it since) and nobody else
    holds the claim: one conditional UPDATE, no reload."""
    claim = secrets.token_hex(16)
    now = timezone.now()
    taken = (
        Connection.objects.filter(
            pk=connection.pk,
            oauth_refreshed_at=connection.oauth_refreshed_at,
            version=connection.version,
            needs_reconnect=False,
        )
        .exclude(oauth_refresh_claim__gt="", oauth_refresh_claimed_until__gt=now)
        .update(
            oauth_refresh_claim=claim,
            oauth_refresh_claimed_until=now + timedelta(seconds=settings.OUTBOUND_DEADLINE + 10),
        )
    )
    return claim if taken else None


def oauth_refresh_many_if_due(*, connection_pks: list[int], within: timedelta, budget_seconds: float) -> int:
    """The worker's side of proactive refresh, for a chunk of connections queued by one beat
    tick: each one still due (another worker or a request may have done it since) is refreshed
    under its own claim, one after the other. A connection someone else is refreshing is skipped,
    not waited for. Starts no refresh after ``budget_seconds``: what is left is still due and the
    next tick queues it again. Returns how many this call refreshed.

    One query loads the chunk and each OAuth app is read once, so a refresh costs two UPDATEs
    (the claim; the new tokens with the claim's release) beside the token request."""
    ends = time.monotonic() + budget_seconds
    loaded = Connection.objects.filter(
        pk__in=connection_pks, status=Connection.Status.ACTIVE, needs_reconnect=False
    ).select_related("integration", "user")
    clients: dict[tuple[str, str], OAuthClient | None] = {}
    refreshed = 0
    for connection in loaded:
        if time.monotonic() > ends:
            logger.warning("proactive refresh: time budget spent; the rest waits for the next tick")
            break
        if not _due(connection, margin=within) or (claim := _claim_unchanged(connection)) is None:
            continue
        app = (connection.integration_id, connection.auth_method_id)
        if app not in clients:
            clients[app] = oauth_client_get(integration=connection.integration, auth_method_id=app[1])
        try:
            _refresh_claimed(connection, claim, clients[app])
        except (ReconnectRequired, TokenRefreshFailed):
            continue
        refreshed += 1
    return refreshed


def oauth_refresh_window() -> timedelta:
    """How far ahead proactive refresh looks: the margin plus two beat intervals, so a token is
    refreshed before any request would have to."""
    return timedelta(seconds=settings.OAUTH_REFRESH_MARGIN + 2 * settings.OAUTH_REFRESH_EVERY_SECONDS)


def connection_credentials_for_use(*, connection: Connection) -> dict:
    """The decrypted credentials to put on a request (a test, a proxied call); for a sign-in
    connection with a live access token (refreshed first when it expires within
    OAUTH_REFRESH_MARGIN). ReconnectRequired / TokenRefreshFailed as for a refresh."""
    credentials = connection_credentials(connection=connection)
    if connection.is_sign_in:
        credentials["accessToken"] = oauth_access_token_get(connection=connection)
    return credentials
