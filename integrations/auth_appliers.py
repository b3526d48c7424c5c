"""Putting a connection's credentials on a request, the way its auth method's ``apply`` says.

One small class per ``apply.type`` of the auth schema, registered by that type. Each turns the
apply spec and the connection's values into headers and query parameters; the OAuth 2.0 ones
first fetch an access token from the provider through the guarded client.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import quote, urlsplit

from core.outbound_http import OutboundError, header_value_problem, outbound_request
from integrations.url_templates import (
    PLACEHOLDER,
    UrlTemplateError,
    host_matches,
    resolve_template,
    resolved_host,
)

MAX_PROVIDER_TEXT = 200


class AuthApplyError(Exception):
    """Credentials that could not be applied. ``message`` is safe to show once secrets are scrubbed;
    ``status_code`` is the provider's answer when there was one (a rejected token request)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.message = message
        self.status_code = status_code
        super().__init__(message)


@dataclass
class AppliedAuth:
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    # Secrets obtained while applying (access tokens), to keep out of messages like the credentials.
    secrets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ApplyContext:
    values: dict  # the connection's credentials and configured variables
    base_url: str  # resolved
    allowed_hosts: list[str]


def render_template(template: str, values: dict) -> str:
    """Fill ``{{field}}`` placeholders; surrounding whitespace of a value is dropped (pasted keys)."""

    def value_for(match) -> str:
        value = values.get(match.group(1))
        if value is None or str(value).strip() == "":
            raise AuthApplyError(f"credentials.{match.group(1)} is required")
        return str(value).strip()

    return PLACEHOLDER.sub(value_for, template)


def safe_header_value(name: str, value: str) -> str:
    # requests would refuse it with the value in the error text (or fail to encode it and say
    # only "could not connect"); refuse it here, saying why, without the value.
    problem = header_value_problem(value)
    if problem:
        raise AuthApplyError(f"The value for the {name} header {problem}")
    return value


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class AuthApplier:
    type: ClassVar[str]

    def apply(self, spec: dict, context: ApplyContext) -> AppliedAuth:
        raise NotImplementedError


APPLIERS: dict[str, AuthApplier] = {}


def register(cls: type[AuthApplier]) -> type[AuthApplier]:
    APPLIERS[cls.type] = cls()
    return cls


@register
class BearerApplier(AuthApplier):
    type = "bearer"

    def apply(self, spec, context):
        token = render_template("{{" + spec["field"] + "}}", context.values)
        return AppliedAuth(headers={"Authorization": safe_header_value("Authorization", f"Bearer {token}")})


@register
class HeaderApplier(AuthApplier):
    type = "header"

    def apply(self, spec, context):
        value = render_template(spec["value"], context.values)
        return AppliedAuth(headers={spec["name"]: safe_header_value(spec["name"], value)})


@register
class QueryApplier(AuthApplier):
    type = "query"

    def apply(self, spec, context):
        return AppliedAuth(query={spec["name"]: render_template(spec["value"], context.values)})


@register
class BasicApplier(AuthApplier):
    type = "basic"

    def apply(self, spec, context):
        username = render_template(spec["username"], context.values)
        password = render_template(spec["password"], context.values)
        # A username built from a template ("{{email}}/token") is not a stored value: keep the
        # pair itself out of messages too (a provider may quote the header back).
        return AppliedAuth(
            headers={"Authorization": basic_authorization(username, password)},
            secrets=[f"{username}:{password}"],
        )


def provider_error_text(payload) -> str:
    """A short human message from a provider's JSON error body, or ""."""
    if isinstance(payload, list) and payload:
        return provider_error_text(payload[0])  # Salesforce: [{"message": …, "errorCode": …}]
    if not isinstance(payload, dict):
        return ""
    for key in ("error_description", "message", "error", "detail", "title", "error_message"):
        value = payload.get(key)
        if isinstance(value, (dict, list)):
            value = provider_error_text(value)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= MAX_PROVIDER_TEXT else text[: MAX_PROVIDER_TEXT - 1] + "…"
    return ""


class OAuth2Applier(AuthApplier):
    """Fetch an access token from ``tokenUrl`` (form-encoded POST), then send it as a bearer token."""

    def grant(self, spec: dict, context: ApplyContext) -> dict[str, str]:
        raise NotImplementedError

    def token_url(self, spec: dict, context: ApplyContext) -> str:
        template = spec["tokenUrl"]
        if PLACEHOLDER.search(template):
            try:
                url = resolve_template(template, context.values, label="credentials")
            except UrlTemplateError as exc:
                raise AuthApplyError(str(exc)) from None
            # The host depends on what the user typed: it must be one of the integration's.
            if not host_matches(resolved_host(url), context.allowed_hosts):
                raise AuthApplyError(
                    f"Blocked: the token URL's host {resolved_host(url)} is not one of this integration's hosts"
                )
            return url
        if template.startswith(("https://", "http://")):
            return template  # fixed by the integration document itself
        base = urlsplit(context.base_url)
        return f"{base.scheme}://{base.netloc}/{template.lstrip('/')}"

    def apply(self, spec, context):
        client_id = render_template(spec["clientId"], context.values)
        client_secret = render_template(spec["clientSecret"], context.values)
        form = self.grant(spec, context)
        if spec.get("scope"):
            form["scope"] = spec["scope"]
        headers = {"Accept": "application/json"}
        if spec.get("clientAuth", "body") == "basic":
            # RFC 6749 §2.3.1: form-urlencode each part before joining them.
            headers["Authorization"] = basic_authorization(
                quote(client_id, safe=""), quote(client_secret, safe="")
            )
        else:
            form |= {"client_id": client_id, "client_secret": client_secret}
        try:
            response = outbound_request(
                "POST", self.token_url(spec, context), data=form, headers=headers, truncate=True
            )
        except OutboundError as exc:
            raise AuthApplyError(f"OAuth token request failed: {exc.message}") from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not 200 <= response.status_code < 300:
            detail = ""
            if isinstance(payload, dict) and isinstance(payload.get("error"), str):
                detail = payload["error"][:MAX_PROVIDER_TEXT]
                description = provider_error_text({"error_description": payload.get("error_description")})
                detail += f" ({description})" if description else ""
            else:
                detail = provider_error_text(payload) or response.reason
            raise AuthApplyError(
                f"OAuth token request was rejected ({response.status_code}): {detail}",
                status_code=response.status_code,
            )
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthApplyError("OAuth token response had no access_token", status_code=response.status_code)
        return AppliedAuth(
            headers={"Authorization": safe_header_value("Authorization", f"Bearer {token}")}, secrets=[token]
        )


@register
class OAuth2ClientCredentialsApplier(OAuth2Applier):
    type = "oauth2_client_credentials"

    def grant(self, spec, context):
        return {"grant_type": "client_credentials"}


@register
class OAuth2RefreshTokenApplier(OAuth2Applier):
    type = "oauth2_refresh_token"

    def grant(self, spec, context):
        return {
            "grant_type": "refresh_token",
            "refresh_token": render_template(spec["refreshToken"], context.values),
        }


@register
class OAuth2AuthorizationCodeApplier(AuthApplier):
    """A sign-in connection: the access token the provider issued, as a bearer token. Keeping it
    live (refreshing it first) is the connections app's job, before it calls this."""

    type = "oauth2_authorization_code"

    def apply(self, spec, context):
        token = render_template("{{accessToken}}", context.values)
        header, prefix = spec.get("tokenHeader", "Authorization"), spec.get("tokenPrefix", "Bearer")
        value = f"{prefix} {token}" if prefix else token
        return AppliedAuth(headers={header: safe_header_value(header, value)})


def apply_credentials(
    *,
    apply_spec: dict,
    credentials: dict,
    configured_variables: dict,
    base_url: str,
    allowed_hosts: list[str],
) -> AppliedAuth:
    """Headers and query parameters that authenticate a request to ``base_url``.

    Raises ``AuthApplyError`` (missing value, rejected token request, …); its message may quote
    the provider, so callers scrub credential values from it before showing it.
    """
    applier = APPLIERS.get(apply_spec.get("type", ""))
    if applier is None:
        raise AuthApplyError(f"Unsupported auth type {apply_spec.get('type')!r}")
    context = ApplyContext(
        values={**configured_variables, **credentials}, base_url=base_url, allowed_hosts=allowed_hosts
    )
    return applier.apply(apply_spec, context)
