"""Calling a provider through a connection: the authenticated proxy.

``connection_proxy()`` sends one request to the connection's resolved base URL with its
credentials applied exactly as connection tests apply them (``authenticate_request``), the
integration's custom headers expanded for the connection's owner, through the guarded outbound
client. Around that one request:

- the path must stay under the base URL (``proxy_path``); a caller's hop-by-hop headers and its
  own ``Authorization``/``Cookie`` are dropped, and the connection's credentials win;
- a per-connection rate limit (``PROXY_RATE``);
- 429 and 5xx answers (and lost connections) are retried with exponential backoff and jitter,
  honouring ``Retry-After``, at most ``PROXY_MAX_RETRIES`` times, for idempotent methods only
  unless the caller sent an ``Idempotency-Key``;
- an OAuth connection answered 401 gets a fresh token once (a sign-in connection's through
  ``oauth_token_refresh``, which marks it needing reconnection when the grant is gone) and the
  request is sent once more;
- every call is recorded as a ``ProxyCall``: method, path with query values masked, status,
  duration, attempts and caller — never a body, a header value or a credential.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.conf import settings
from django.utils import timezone

from accounts.access import actor_label
from connections.models import Connection, ProxyCall
from connections.oauth.tokens import connection_credentials_for_use, oauth_token_refresh
from connections.selectors import (
    connection_base_url,
    connection_credentials,
    connection_get_for_actor,
    connection_get_for_use,
    connection_secrets_visible_to,
)
from core import metrics
from core.errors import ApplicationError, Conflict, TooManyRequests, ValidationFailed
from core.outbound_http import (
    CALLER_REFUSED_HEADERS,
    HOP_BY_HOP_HEADERS,
    OutboundConnectionFailed,
    OutboundConnectionRefused,
    OutboundError,
    OutboundResponse,
    OutboundTimeout,
    outbound_request,
)
from core.prepared import PreparedInsert
from core.rate_limits import rate_limit_take
from core.redaction import MASK, scrub
from integrations.auth_appliers import AppliedAuth, AuthApplyError
from integrations.connection_gateway import ConnectionRequest as ProxyRequest
from integrations.connectivity import authenticate_request
from integrations.custom_headers import HEADER_NAME, CustomHeaderError, custom_headers_expand

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
IDEMPOTENT_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
# Auth methods whose applier fetches a new token on every apply: refreshing is applying again.
FETCHED_TOKEN_TYPES = {"oauth2_client_credentials", "oauth2_refresh_token"}
RETRYABLE_ERRORS = (OutboundTimeout, OutboundConnectionFailed, OutboundConnectionRefused)
SPACE_OR_CONTROL = re.compile("[\x00-\x20\x7f]")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# %2e (.), %5c (\) and %00, also double-encoded (%252e …).
ENCODED_ESCAPE = re.compile(r"%(?:25)*(?:2e|5c|00)", re.IGNORECASE)
# Response headers that describe this hop or hold the provider's session, never passed back.
UNFORWARDED_RESPONSE_HEADERS = HOP_BY_HOP_HEADERS | {"set-cookie", "content-length", "content-encoding"}
TEXT_TYPES = re.compile(r"^text/|[/+](json|xml|javascript|x-www-form-urlencoded|csv|yaml)\b", re.IGNORECASE)
MAX_RECORDED_PATH = 500
# Every proxied call writes its record: the INSERT is compiled once per database connection.
_RECORD = PreparedInsert(ProxyCall, *(f.name for f in ProxyCall._meta.concrete_fields if not f.primary_key))


# --- The path


def _path_problem(path: str) -> str | None:
    """Why ``path`` could leave the base URL (or is not a path), or None."""
    if SPACE_OR_CONTROL.search(path):
        return "must not contain spaces or control characters (percent-encode them)"
    if "\\" in path:
        return "must not contain backslashes"
    if "@" in path.partition("?")[0]:
        return "must not contain @ (before the query)"
    if "#" in path:
        return "must not contain a fragment (#)"
    if SCHEME.match(path):
        return "must be relative to the connection's base URL, not an absolute URL"
    if ENCODED_ESCAPE.search(path):
        return "must not contain encoded dots, backslashes or NUL characters"
    decoded = path.partition("?")[0]
    for _ in range(3):  # what a server decoding once, twice or three times would see
        if decoded.startswith("//") or SCHEME.match(decoded) or "\\" in decoded:
            return "must not name another host"
        if any(segment in (".", "..") for segment in decoded.split("/")):
            return "must not contain . or .. segments"
        decoded = unquote(decoded)
    return None


def proxy_path(path: str) -> tuple[str, list[tuple[str, str]]]:
    """``path`` as a path under the base URL (leading ``/``) and the query it carries.

    ``ValidationFailed`` (400) for anything that could reach another host or leave the base
    URL's path: absolute URLs, ``//host``, ``@``, backslashes, dot segments, encoded dots.
    """
    problem = _path_problem(path) if path else "is required"
    if problem:
        raise ValidationFailed([f"path {problem}"], message="Path refused")
    path, _, query = path.partition("?")
    if not path.startswith("/"):
        path = "/" + path
    return path, parse_qsl(query, keep_blank_values=True)


def _query_pairs(query: dict[str, Any]) -> list[tuple[str, str]]:
    def text(value) -> str:
        return json.dumps(value) if isinstance(value, bool) else str(value)

    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((str(name), text(item)))
    return pairs


def recorded_path(path: str, query: dict[str, Any] | None = None) -> str:
    """The path as a call's record keeps it: query values masked (they may hold personal data)."""
    bare, _, inline = path.partition("?")
    names = [name for name, _ in parse_qsl(inline, keep_blank_values=True)] + list(query or {})
    recorded = bare + ("?" + "&".join(f"{name}={MASK}" for name in names) if names else "")
    return recorded[:MAX_RECORDED_PATH]


# --- Headers


def caller_headers(headers: dict[str, str]) -> dict[str, str]:
    """The caller's headers fit to forward: hop-by-hop ones (and those ``Connection`` names),
    ``Authorization``, ``Cookie``, ``Host`` and ``Content-Length`` dropped. ValidationFailed for a
    name or value that could not be sent (a line break could smuggle in another header)."""
    errors = []
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            errors.append(f"headers.{name}: not a valid header name")
        elif not isinstance(value, str) or any(ch in value for ch in "\r\n\0"):
            errors.append(f"headers.{name}: must be text without line breaks")
    if errors:
        raise ValidationFailed(errors)
    lowered = {name.lower(): value for name, value in headers.items()}
    named = {token.strip().lower() for token in lowered.get("connection", "").split(",")}
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in CALLER_REFUSED_HEADERS and name.lower() not in named
    }


def _merged_headers(*layers: dict[str, str]) -> dict[str, str]:
    """Later layers win, whatever the case of the names."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


# --- Credentials


class _ConnectionAuth:
    """The connection's credentials on a request, applied once and refreshed at most once."""

    def __init__(self, connection: Connection, *, url: str, base_url: str) -> None:
        self.connection = connection
        self.method = connection.integration.auth_method(connection.auth_method_id) or {}
        self.url, self.base_url = url, base_url
        self.credentials = connection_credentials_for_use(connection=connection)
        self.sign_in = connection.is_sign_in
        self._applied: AppliedAuth | None = None
        self.refreshed = False

    @property
    def secrets(self) -> list[str]:
        values = [str(v) for v in self.credentials.values() if v is not None]
        if self._applied:
            values += [*self._applied.secrets, *self._applied.headers.values(), *self._applied.query.values()]
        return values

    def applied(self) -> AppliedAuth:
        if self._applied is None:
            self._applied = authenticate_request(
                document=self.connection.integration.document,
                apply_spec=self.method.get("apply", {}),
                url=self.url,
                base_url=self.base_url,
                credentials=self.credentials,
                configured_variables=self.connection.configured_variables,
            )
        return self._applied

    def refresh(self) -> bool:
        """Get a fresh token once (OAuth only); False when there is nothing to refresh."""
        if self.refreshed or not (
            self.sign_in or self.method.get("apply", {}).get("type") in FETCHED_TOKEN_TYPES
        ):
            return False
        self.refreshed = True
        if self.sign_in:  # ReconnectRequired (409) or TokenRefreshFailed (502) when it cannot
            self.credentials = connection_credentials(
                connection=oauth_token_refresh(connection=self.connection)
            )
        self._applied = None
        return True


# --- Retries


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now (a number or an HTTP date), or None."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter: half the step fixed, half random, so retries spread out."""
    step = settings.PROXY_RETRY_BACKOFF * 2**attempt
    return step / 2 + random.uniform(0, step / 2)


def with_retries(send: Callable[[], OutboundResponse], *, retryable: bool) -> tuple[OutboundResponse, int]:
    """``send()`` again after a 429, a 5xx or a lost connection, up to ``PROXY_MAX_RETRIES`` times
    when ``retryable``. A ``Retry-After`` longer than ``PROXY_RETRY_MAX_WAIT`` ends the retries:
    the caller gets the answer and can wait itself. Returns the last answer and the attempts made."""
    retries = settings.PROXY_MAX_RETRIES if retryable else 0
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = send()
        except RETRYABLE_ERRORS:
            if last:
                raise
            time.sleep(backoff_delay(attempt))
            continue
        if last or not (response.status_code == 429 or response.status_code >= 500):
            return response, attempt + 1
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is not None and wait > settings.PROXY_RETRY_MAX_WAIT:
            return response, attempt + 1
        time.sleep(backoff_delay(attempt) if wait is None else wait)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


# --- The call


@dataclass(frozen=True)
class _Call:
    method: str
    url: str
    headers: dict[str, str]
    params: list[tuple[str, str]]
    body: Any
    retryable: bool


def _require_usable(connection: Connection) -> None:
    if connection.status != Connection.Status.ACTIVE:
        raise Conflict("Connection is inactive", error="Reactivate it (PUT status active) before using it")
    if connection.needs_reconnect:
        raise Conflict(
            "Connection needs reconnection", error="Its user must connect the account again before it is used"
        )
    if connection.integration.status != connection.integration.Status.ACTIVE:
        raise Conflict("Integration is inactive", error=f"'{connection.integration_id}' accepts no requests")


def _take_rate(connection: Connection) -> None:
    wait = rate_limit_take(key=f"proxy:{connection.connection_id}", rate=settings.PROXY_RATE)
    if wait is not None:
        raise TooManyRequests(
            "Rate limit reached for this connection",
            retry_after=wait,
            error=f"At most {settings.PROXY_RATE} requests per connection (PROXY_RATE); retry in {wait} s",
        )


def _prepare(connection: Connection, request: ProxyRequest, base_url: str) -> _Call:
    method = request.method.upper()
    if method not in METHODS:
        raise ValidationFailed([f"method must be one of {', '.join(METHODS)}"])
    path, inline_query = proxy_path(request.path)
    url = base_url.rstrip("/") + path
    base = urlsplit(base_url)
    if urlsplit(url).netloc != base.netloc or not urlsplit(url).path.startswith(base.path.rstrip("/")):
        raise ValidationFailed(["path must stay under the connection's base URL"], message="Path refused")
    headers = caller_headers(request.headers)
    if request.idempotency_key:
        headers = _merged_headers(headers, {"Idempotency-Key": request.idempotency_key})
    user = connection.user
    try:
        custom = custom_headers_expand(
            templates=connection.integration.document.get("headers", {}),
            user_values={"email": user.email, "name": user.name, "userId": user.user_id},
            configured_variables=connection.configured_variables,
        )
    except CustomHeaderError as exc:
        raise ApplicationError("A custom header could not be sent", error=str(exc)) from None
    has_key = any(name.lower() == "idempotency-key" for name in headers)
    return _Call(
        method=method,
        url=url,
        headers=_merged_headers(headers, custom),
        params=inline_query + _query_pairs(request.query),
        body=request.body,
        retryable=method in IDEMPOTENT_METHODS or has_key,
    )


def _send(call: _Call, auth: _ConnectionAuth) -> OutboundResponse:
    applied = auth.applied()
    params = [(name, value) for name, value in call.params if name not in applied.query]
    body: dict[str, Any] = {}
    if isinstance(call.body, str):
        body["data"] = call.body.encode()
    elif call.body is not None:
        body["json"] = call.body
    return outbound_request(
        call.method,
        call.url,
        # The connection's credentials win over anything of the same name.
        headers=_merged_headers(call.headers, applied.headers),
        params=[*params, *applied.query.items()],
        max_bytes=settings.PROXY_MAX_RESPONSE_BYTES,
        **body,
    )


def _call_provider(connection: Connection, request: ProxyRequest, record: ProxyCall) -> OutboundResponse:
    base_url = connection_base_url(connection=connection)
    call = _prepare(connection, request, base_url)
    auth = _ConnectionAuth(connection, url=call.url, base_url=base_url)
    try:
        response, record.attempts = with_retries(lambda: _send(call, auth), retryable=call.retryable)
        if response.status_code == 401 and auth.refresh():
            response, more = with_retries(lambda: _send(call, auth), retryable=call.retryable)
            record.attempts += more
    except AuthApplyError as exc:
        raise ApplicationError(
            "The connection's credentials could not be applied",
            error=scrub(exc.message, auth.secrets),
            status_code=502,
        ) from None
    except OutboundError as exc:
        status = 504 if isinstance(exc, OutboundTimeout) else 502
        raise ApplicationError(
            "The provider could not be reached", error=scrub(exc.message, auth.secrets), status_code=status
        ) from None
    return response


def connection_proxy(
    *, connection: Connection, actor: Any, request: ProxyRequest, feature_mapping_id: str = ""
) -> OutboundResponse:
    """Send ``request`` to the provider through ``connection`` and return its answer.

    409 for an inactive connection or one needing reconnection, 429 (with ``retry_after``) past
    ``PROXY_RATE``, 400 for a path or header that cannot be sent, 502/504 when the provider
    cannot be reached. A provider's own error status is an answer, returned like any other.
    """
    _require_usable(connection)
    _take_rate(connection)
    record = ProxyCall(
        connection=connection,
        method=str(request.method).upper()[:8],
        path=recorded_path(request.path, request.query),
        actor=actor if isinstance(actor, str) else actor_label(actor),
        feature_mapping_id=feature_mapping_id,
    )
    started = time.monotonic()
    try:
        response = _call_provider(connection, request, record)
        record.status_code = response.status_code
        return response
    except ApplicationError as exc:
        record.error = (
            "; ".join(exc.errors) if exc.errors else f"{exc.message}: {exc.error or ''}".rstrip(": ")
        )
        raise
    finally:
        elapsed = time.monotonic() - started
        record.duration_ms = round(elapsed * 1000)
        _RECORD.insert(record)
        _count(connection, record, elapsed)


def _count(connection: Connection, record: ProxyCall, elapsed: float) -> None:
    method = record.method if record.method in METHODS else "other"  # labels stay a short list
    metrics.PROXY_REQUESTS.labels(
        integration=connection.integration_id,
        method=method,
        status_class=metrics.status_class(record.status_code),
    ).inc()
    metrics.PROXY_REQUEST_DURATION.labels(integration=connection.integration_id).observe(elapsed)


# --- The answer, as the API gives it


def _decoded_body(content: bytes, content_type: str) -> tuple[Any, str]:
    if not content:
        return None, "text"
    if "json" in content_type.lower():
        try:
            return json.loads(content), "json"
        except ValueError:
            pass
    if TEXT_TYPES.search(content_type) or not content_type:
        try:
            return content.decode("utf-8"), "text"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(content).decode(), "base64"


def proxy_result(response: OutboundResponse) -> dict:
    """``{success, status, headers, contentType, bodyEncoding, body}`` for the API: ``success`` is
    whether the provider answered 2xx or 3xx; a JSON body parsed, text as text, else base64."""
    content_type = response.headers.get("Content-Type", "")
    body, encoding = _decoded_body(response.content, content_type)
    result = {
        "success": response.status_code < 400,
        "status": response.status_code,
        "headers": {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in UNFORWARDED_RESPONSE_HEADERS
        },
        "contentType": content_type,
        "bodyEncoding": encoding,
        "body": body,
    }
    if response.status_code >= 400:
        result["message"] = f"The provider answered {response.status_code} {response.reason}".strip()
    return result


# --- For the apps beside this one (features), through integrations.connection_gateway


class ProxyGateway:
    def send(self, *, actor, connection_id, build, operator_trial=False) -> dict:
        if operator_trial and getattr(actor, "is_staff", False):
            connection = connection_get_for_actor(actor=actor, connection_id=connection_id)
        else:
            connection = connection_get_for_use(actor=actor, connection_id=connection_id)
        request, feature_mapping_id = build(connection.integration_id)
        response = connection_proxy(
            connection=connection, actor=actor, request=request, feature_mapping_id=feature_mapping_id
        )
        result = proxy_result(response)
        if operator_trial and not connection_secrets_visible_to(actor=actor, connection=connection):
            # Operators see a connection's secrets masked everywhere, also quoted back by a provider.
            secrets = [str(v) for v in connection_credentials(connection=connection).values() if v]
            result = json.loads(scrub(json.dumps(result), secrets))
        return result

    def choices(self, *, integration_id) -> list[tuple[str, str]]:
        connections = Connection.objects.filter(
            integration_id=integration_id, status=Connection.Status.ACTIVE
        ).select_related("user")
        return [(c.connection_id, f"{c.connection_name} ({c.user.user_id})") for c in connections[:200]]
