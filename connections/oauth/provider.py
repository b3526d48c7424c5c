"""Talking to a provider's OAuth 2.0 endpoints: the authorize URL, the token endpoint (code
exchange and refresh, RFC 6749) and the revocation endpoint (RFC 7009).

Every request goes through the guarded client (``core.outbound_http``). The token and revocation
URLs must be https on one of the integration's ``allowedHosts`` (plain http only for hosts in
``OUTBOUND_ALLOWLIST``, i.e. local development and tests). No message raised here holds a token,
a code or the client secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode, urlsplit

from django.utils import timezone

from connections.oauth.clients import OAuthClient
from core.outbound_http import OutboundError, host_in_allowlist, outbound_request, url_port
from integrations.auth_appliers import MAX_PROVIDER_TEXT, basic_authorization, provider_error_text
from integrations.connectivity import scrub
from integrations.url_templates import (
    PLACEHOLDER,
    UrlTemplateError,
    host_matches,
    resolve_template,
    resolved_host,
)

# Token endpoint errors that no retry can fix: the grant or the app is gone (RFC 6749 §5.2, and
# Slack's names for the same).
PERMANENT_ERRORS = {
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "access_denied",
    "invalid_refresh_token",
    "token_revoked",
    "token_expired",
    "app_uninstalled",
}


class OAuthProviderError(Exception):
    """The provider refused or could not be reached. ``message`` is safe to show; ``permanent``
    means only signing in again can help (invalid_grant, a revoked app)."""

    def __init__(self, message: str, *, error_code: str = "", permanent: bool = False, status_code=None):
        self.message = message
        self.error_code = error_code
        self.permanent = permanent
        self.status_code = status_code
        super().__init__(message)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    token_type: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: list[str] | None  # as granted; None when the provider did not say
    variables: dict = field(default_factory=dict)  # configuredVariables from the response

    def __repr__(self) -> str:
        return f"TokenSet(token_type={self.token_type!r}, expires_at={self.expires_at!r})"


# --- PKCE (RFC 7636): a few lines of hashlib, not worth a dependency.


def pkce_pair() -> tuple[str, str]:
    """A new (verifier, S256 challenge): 43 characters of 256 random bits, and its hash."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- URLs


def _secure_or_allowlisted(url: str) -> bool:
    """https, or plain http to a host (and port) in OUTBOUND_ALLOWLIST: local development and tests."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and host_in_allowlist(resolved_host(url), url_port(parts))


def endpoint_url(spec: dict, key: str, *, variables: dict, allowed_hosts: list[str]) -> str:
    """``spec[key]`` resolved with the connection's variables, on one of ``allowed_hosts``, https
    (or http to an allowlisted host). OAuthProviderError otherwise."""
    template = spec[key]
    try:
        url = resolve_template(template, variables) if PLACEHOLDER.search(template) else template
    except UrlTemplateError as exc:
        raise OAuthProviderError(str(exc)) from None
    host = resolved_host(url)
    if not _secure_or_allowlisted(url):
        raise OAuthProviderError(f"The OAuth {key} must be an https URL")
    if not host_matches(host, allowed_hosts):
        raise OAuthProviderError(
            f"Blocked: the OAuth {key}'s host {host} is not one of this integration's hosts"
        )
    return url


def authorization_url(
    *, spec: dict, client: OAuthClient, redirect_uri: str, state: str, challenge: str | None, variables: dict
) -> str:
    """The provider's consent page for this sign-in. The browser goes there, not this server, so
    only its scheme is checked (https, or http to an allowlisted host)."""
    try:
        base = resolve_template(spec["authorizeUrl"], variables)
    except UrlTemplateError as exc:
        raise OAuthProviderError(str(exc)) from None
    if not _secure_or_allowlisted(base):
        raise OAuthProviderError("The OAuth authorizeUrl must be an https URL")
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        **spec.get("authorizeParams", {}),
    }
    if spec.get("scopes"):
        params["scope"] = spec.get("scopeSeparator", " ").join(spec["scopes"])
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return base + ("&" if "?" in base else "?") + urlencode(params, quote_via=quote)


# --- The token endpoint


def _client_auth(spec: dict, client: OAuthClient, form: dict, headers: dict) -> None:
    if spec.get("clientAuth", "body") == "basic" and client.client_secret:
        # RFC 6749 §2.3.1: form-urlencode each part before joining them.
        headers["Authorization"] = basic_authorization(
            quote(client.client_id, safe=""), quote(client.client_secret, safe="")
        )
    else:
        form["client_id"] = client.client_id
        if client.client_secret:
            form["client_secret"] = client.client_secret


def _post(spec: dict, url: str, form: dict, headers: dict):
    headers = {"Accept": "application/json", **headers}
    if spec.get("tokenRequestFormat") == "json":
        return outbound_request("POST", url, json=form, headers=headers, truncate=True)
    return outbound_request("POST", url, data=form, headers=headers, truncate=True)


def _error_from(response, payload, secrets_: list[str]) -> OAuthProviderError:
    code = payload.get("error") if isinstance(payload, dict) else None
    code = code if isinstance(code, str) else ""
    description = ""
    if isinstance(payload, dict):
        description = provider_error_text({"error_description": payload.get("error_description")})
    detail = code[:MAX_PROVIDER_TEXT] + (f" ({description})" if description else "")
    detail = detail or provider_error_text(payload) or response.reason or "no reason given"
    return OAuthProviderError(
        scrub(f"The provider refused the token request ({response.status_code}): {detail}", secrets_),
        error_code=code,
        permanent=code in PERMANENT_ERRORS,
        status_code=response.status_code,
    )


def _scopes(payload: dict) -> list[str] | None:
    scope = payload.get("scope")
    if isinstance(scope, list):
        return [str(s) for s in scope]
    if not isinstance(scope, str):
        return None
    # Space-separated per RFC 6749; Slack and Shopify answer with commas.
    return [s for s in scope.replace(",", " ").split() if s]


def _expiry(payload: dict) -> datetime | None:
    expires_in = payload.get("expires_in")
    try:
        seconds = int(float(expires_in))
    except (TypeError, ValueError):
        return None
    return timezone.now() + timedelta(seconds=max(0, seconds))


def token_request(
    *, spec: dict, client: OAuthClient, grant: dict, variables: dict, allowed_hosts: list[str]
) -> TokenSet:
    """POST ``grant`` to the token endpoint; the tokens, or OAuthProviderError."""
    url = endpoint_url(spec, "tokenUrl", variables=variables, allowed_hosts=allowed_hosts)
    form, headers = dict(grant), {}
    _client_auth(spec, client, form, headers)
    sent_secrets = [
        v for k, v in form.items() if k in ("code", "refresh_token", "code_verifier", "client_secret")
    ]
    try:
        response = _post(spec, url, form, headers)
    except OutboundError as exc:
        raise OAuthProviderError(f"The token endpoint could not be reached: {exc.message}") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not 200 <= response.status_code < 300 or not isinstance(token, str) or not token:
        if 200 <= response.status_code < 300 and not (isinstance(payload, dict) and payload.get("error")):
            raise OAuthProviderError("The token endpoint's answer had no access_token", status_code=200)
        raise _error_from(response, payload, sent_secrets)
    refresh = payload.get("refresh_token")
    return TokenSet(
        access_token=token,
        token_type=str(payload.get("token_type") or "Bearer"),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=_expiry(payload),
        scopes=_scopes(payload),
        variables={
            name: str(payload[key])
            for name, key in spec.get("tokenResponseVariables", {}).items()
            if isinstance(payload.get(key), (str, int))
        },
    )


def revoke(
    *, spec: dict, client: OAuthClient, token: str, hint: str, variables: dict, allowed_hosts: list[str]
) -> str:
    """RFC 7009 revocation of one token; returns the outcome as a sentence (never raises)."""
    started = time.monotonic()
    try:
        url = endpoint_url(spec, "revocationUrl", variables=variables, allowed_hosts=allowed_hosts)
        form, headers = {"token": token, "token_type_hint": hint}, {}
        _client_auth(spec, client, form, headers)
        response = _post(spec, url, form, headers)
    except OAuthProviderError as exc:
        return f"{hint} not revoked: {exc.message}"
    except OutboundError as exc:
        return f"{hint} not revoked: {exc.message}"
    took = round((time.monotonic() - started) * 1000)
    if 200 <= response.status_code < 300:
        return f"{hint} revoked ({response.status_code} in {took} ms)"
    return f"{hint} not revoked: the provider answered {response.status_code}"
