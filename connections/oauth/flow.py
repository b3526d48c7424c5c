"""Signing in at the provider (OAuth 2.0 authorization code with PKCE): start and finish.

Both are services, so the wizard, the API (``POST /api/user-integrations/oauth/start``) and
connect sessions share them; views only turn requests into calls. The ``state`` is random, single
use, valid for ten minutes and bound to the user it was started for; only its hash is stored. The
PKCE verifier is stored encrypted and never leaves the server.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.access import actor_label
from accounts.models import User
from connections import encryption
from connections.credential_validation import auth_method_or_error, validate_connection_input
from connections.models import CheckRun, Connection, OAuthFlow
from connections.oauth.clients import OAuthClient, oauth_client_get
from connections.oauth.connections import oauth_connection_create, oauth_connection_reconnect
from connections.oauth.provider import (
    OAuthProviderError,
    TokenSet,
    authorization_url,
    endpoint_url,
    pkce_pair,
    token_request,
)
from connections.oauth.resources import oauth_resource_variables
from core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from integrations.connectivity import allowed_hosts_for
from integrations.documents import is_sign_in_method, provider_variables
from integrations.models import Integration

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
# Finished or abandoned sign-ins are deleted this long after they expired.
FLOW_KEEP = timedelta(days=1)


class OAuthFlowFailed(ApplicationError):
    """A sign-in that cannot finish; ``message`` is shown to the user as it is."""

    status_code = 400


@dataclass(frozen=True)
class OAuthStart:
    authorization_url: str
    expires_at: datetime


@dataclass(frozen=True)
class OAuthFinish:
    connection: Connection
    reconnected: bool
    return_url: str
    actor: str  # who started the flow
    # Set by the caller, which tests the connection (test runs sit above this package).
    test_run: CheckRun | None = None


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def return_url_allowed(url: str) -> bool:
    """A path on this app, or a URL under one of ``OAUTH_RETURN_URL_ALLOWLIST`` (same scheme,
    host and port, and the entry's path as a prefix). Anything else would be an open redirect."""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return True
    try:
        target = urlsplit(url)
        target.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    if target.scheme not in ("http", "https") or not target.hostname or target.username or target.password:
        return False
    for entry in settings.OAUTH_RETURN_URL_ALLOWLIST:
        allowed = urlsplit(entry.strip())
        same_origin = (allowed.scheme, allowed.hostname, allowed.port) == (
            target.scheme,
            target.hostname,
            target.port,
        )
        prefix = allowed.path.rstrip("/")
        if same_origin and (not prefix or target.path == prefix or target.path.startswith(prefix + "/")):
            return True
    return False


def _sign_in_method(integration_id: str, auth_method_id: str) -> tuple[Integration, dict]:
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        raise NotFound("Integration not found")
    if integration.status != Integration.Status.ACTIVE:
        raise ValidationFailed([f"integrationId '{integration_id}' is inactive and accepts no connections"])
    method = auth_method_or_error(integration, auth_method_id)
    if not is_sign_in_method(method):
        raise ApplicationError(
            "Authentication method is not a sign-in method",
            error=f"authMethodId '{auth_method_id}' does not use the OAuth 2.0 authorization code flow; "
            "connect it with POST /api/user-integrations/connect",
        )
    return integration, method


def _reconnected_connection(connection_id: str, user: User, integration: Integration) -> Connection:
    connection = Connection.objects.filter(connection_id=connection_id, user=user).first()
    if connection is None:
        raise NotFound("Connection not found")
    if connection.integration_id != integration.pk:
        raise ValidationFailed([f"connectionId '{connection_id}' is a connection to another integration"])
    return connection


def _checked_variables(
    integration: Integration, method: dict, variables: dict | None, reconnecting: Connection | None
) -> dict:
    """The variables the sign-in starts with: those given, else the reconnected connection's
    less what the provider supplies (it supplies them again: a reconnect keeps its site)."""
    if variables is None and reconnecting:
        supplied = provider_variables(method)
        variables = {k: v for k, v in reconnecting.configured_variables.items() if k not in supplied}
    valid = validate_connection_input(
        integration=integration,
        auth_method_id=method["id"],
        credentials={},
        configured_variables=variables or {},
        variables_from_provider=provider_variables(method),
    )
    return valid.configured_variables


def oauth_flow_start(
    *,
    actor: Any,
    user: User,
    integration_id: str,
    auth_method_id: str,
    redirect_uri: str,
    connection_name: str | None = None,
    configured_variables: dict | None = None,
    connection_id: str | None = None,
    return_url: str | None = None,
    requires_session: bool = True,
) -> OAuthStart:
    """Begin a sign-in (or a reconnect of ``connection_id``) for ``user``: the URL of the
    provider's consent page to send the user's browser to, and when it stops working.

    404 unknown integration or connection; 400 not a sign-in method, bad variables or a
    ``return_url`` not allowed; 409 when the integration's OAuth app is not set up.
    """
    integration, method = _sign_in_method(integration_id, auth_method_id)
    if not user.is_active:
        raise ValidationFailed([f"userId '{user.user_id}' is inactive"])
    reconnecting = _reconnected_connection(connection_id, user, integration) if connection_id else None
    if return_url and not return_url_allowed(return_url):
        raise ValidationFailed(["returnUrl is not allowed: it must match OAUTH_RETURN_URL_ALLOWLIST"])
    client = oauth_client_get(integration=integration, auth_method_id=method["id"])
    if client is None:
        raise Conflict(
            "OAuth app not configured",
            error=f"An operator must set the client ID and secret of {integration.display_name}'s OAuth app "
            f"(admin → OAuth apps, or the environment variables described in the README)",
        )
    variables = _checked_variables(integration, method, configured_variables, reconnecting)
    spec, allowed = method["apply"], allowed_hosts_for(integration.document)
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair() if spec.get("pkce", True) else ("", None)
    try:
        # Checked now, so a misconfigured document fails before the consent page.
        for key in ("tokenUrl", "resourcesUrl"):
            if key in spec:
                endpoint_url(spec, key, variables=variables, allowed_hosts=allowed)
        url = authorization_url(
            spec=spec,
            client=client,
            redirect_uri=redirect_uri,
            state=state,
            challenge=challenge,
            variables=variables,
        )
    except OAuthProviderError as exc:
        raise ApplicationError("Cannot start the sign-in", error=exc.message) from None
    now = timezone.now()
    state_hash = _state_hash(state)
    with transaction.atomic():
        OAuthFlow.objects.filter(expires_at__lt=now - FLOW_KEEP).delete()
        OAuthFlow.objects.create(
            state_hash=state_hash,
            user=user,
            integration=integration,
            auth_method_id=method["id"],
            connection=reconnecting,
            connection_name=(connection_name or "").strip(),
            configured_variables=variables,
            redirect_uri=redirect_uri,
            return_url=return_url or "",
            code_verifier_encrypted=encryption.encrypt(verifier.encode(), bound_to=state_hash)
            if verifier
            else "",
            actor=actor if isinstance(actor, str) else actor_label(actor),
            requires_session=requires_session,
            expires_at=now + STATE_TTL,
        )
    return OAuthStart(authorization_url=url, expires_at=now + STATE_TTL)


def _take_flow(state: str, session_user: User | None) -> OAuthFlow:
    """The sign-in ``state`` names, used up: it can never be taken twice."""
    if not state:
        raise OAuthFlowFailed("The provider sent you back without the sign-in's state. Please start again.")
    flow = (
        OAuthFlow.objects.filter(state_hash=_state_hash(state)).select_related("integration", "user").first()
    )
    if flow is None:
        raise OAuthFlowFailed("This sign-in link is unknown. Please start again.")
    if not OAuthFlow.objects.filter(pk=flow.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise OAuthFlowFailed("This sign-in link has already been used. Please start again.")
    if flow.expires_at <= timezone.now():
        raise OAuthFlowFailed("This sign-in expired (it is valid for 10 minutes). Please start again.")
    signed_in = session_user is not None and session_user.is_authenticated
    if (signed_in and session_user.pk != flow.user_id) or (flow.requires_session and not signed_in):
        raise OAuthFlowFailed(
            "This sign-in was started by another user. Please start again from your account."
        )
    return flow


def _provider_refusal(flow: OAuthFlow, error: str, description: str) -> OAuthFlowFailed:
    name = flow.integration.display_name
    if error == "access_denied":
        return OAuthFlowFailed(f"You declined access at {name}. Nothing was saved.")
    detail = f"{error[:100]}" + (f" ({description[:200]})" if description else "")
    return OAuthFlowFailed(f"{name} refused the sign-in: {detail}. Nothing was saved.")


def oauth_flow_finish(
    *, state: str, code: str, error: str = "", error_description: str = "", session_user: User | None = None
) -> OAuthFinish:
    """The provider sent the user back: exchange the code, store the tokens (a new connection, or
    the reconnected one), test it. OAuthFlowFailed, with nothing stored, when anything is wrong."""
    flow = _take_flow(state, session_user)
    if error:
        raise _provider_refusal(flow, error, error_description)
    if not code:
        raise OAuthFlowFailed("The provider sent you back without an authorization code. Nothing was saved.")
    integration = flow.integration
    method = integration.auth_method(flow.auth_method_id)
    client = oauth_client_get(integration=integration, auth_method_id=flow.auth_method_id)
    if method is None or not is_sign_in_method(method) or client is None:
        raise OAuthFlowFailed(
            f"{integration.display_name} sign-in is no longer set up here. Nothing was saved."
        )
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri}
    if flow.code_verifier_encrypted:
        grant["code_verifier"] = encryption.decrypt(
            flow.code_verifier_encrypted, bound_to=flow.state_hash
        ).decode()
    try:
        tokens = _exchange(method["apply"], client, grant, flow)
    except OAuthProviderError as exc:
        raise OAuthFlowFailed(
            f"Signing in at {integration.display_name} failed: {exc.message}. Nothing was saved."
        ) from None
    try:
        connection, reconnected = _store(flow, method, tokens)
    except ValidationFailed as exc:
        problems = "; ".join(exc.errors or [exc.message])
        raise OAuthFlowFailed(
            f"{integration.display_name} answered with unusable settings: {problems}"
        ) from None
    return OAuthFinish(
        connection=connection, reconnected=reconnected, return_url=flow.return_url, actor=flow.actor
    )


def _exchange(spec: dict, client: OAuthClient, grant: dict, flow: OAuthFlow) -> TokenSet:
    """The code exchange, then (for providers that need it) the lookup of the site the token
    reaches; the variables of both come with the tokens."""
    allowed_hosts = allowed_hosts_for(flow.integration.document)
    tokens = token_request(
        spec=spec,
        client=client,
        grant=grant,
        variables=flow.configured_variables,
        allowed_hosts=allowed_hosts,
    )
    site = oauth_resource_variables(
        spec=spec,
        access_token=tokens.access_token,
        variables={**flow.configured_variables, **tokens.variables},
        allowed_hosts=allowed_hosts,
        previous=flow.connection.configured_variables if flow.connection_id else {},
    )
    return replace(tokens, variables={**tokens.variables, **site}) if site else tokens


def _store(flow: OAuthFlow, method: dict, tokens) -> tuple[Connection, bool]:
    variables = {**flow.configured_variables, **tokens.variables}
    if flow.connection_id:
        connection = oauth_connection_reconnect(
            connection=flow.connection, actor=flow.actor, tokens=tokens, configured_variables=variables
        )
        return connection, True
    connection = oauth_connection_create(
        actor=flow.actor,
        user=flow.user,
        integration=flow.integration,
        auth_method_id=method["id"],
        tokens=tokens,
        requested_scopes=method["apply"].get("scopes", []),
        configured_variables=variables,
        connection_name=flow.connection_name,
    )
    return connection, False


def return_url_with_result(finish: OAuthFinish) -> str:
    """The host product's returnUrl with ``connectionId`` and ``status`` added."""
    url = finish.return_url
    status = "success" if finish.test_run is None or finish.test_run.status == "success" else "error"
    query = urlencode({"connectionId": finish.connection.connection_id, "status": status})
    return url + ("&" if "?" in url else "?") + query
