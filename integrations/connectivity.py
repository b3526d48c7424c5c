"""Running an integration's test request with a connection's credentials.

``perform_test_request()`` is pure: it takes plain values (no models), talks to the provider
through the guarded client and returns a ``CheckOutcome``. It never raises for a network or
provider problem, and no message it returns contains a credential.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlencode, urlsplit

from django.utils import timezone

from core.outbound_http import OutboundError, OutboundResponse, outbound_request
from core.redaction import MASK, all_forms, mask_forms, scrub
from integrations.auth_appliers import (
    AppliedAuth,
    AuthApplyError,
    apply_credentials,
    provider_error_text,
    render_template,
    safe_header_value,
)
from integrations.identity import AccountIdentity, identity_from_answer, identity_spec
from integrations.url_templates import (
    PLACEHOLDER,
    UrlTemplateError,
    host_matches,
    resolve_template,
    resolved_host,
)

logger = logging.getLogger(__name__)

SUCCESS_MESSAGE = "Connection successful"


@dataclass(frozen=True)
class CheckOutcome:
    status: Literal["success", "error"]
    status_code: int | None
    response_time_ms: int | None
    endpoint: str  # the URL called, credential values masked
    message: str  # "Connection successful" or what went wrong
    timestamp: datetime
    # The connected account, read after a successful test when the integration says how.
    identity: AccountIdentity | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "success"

    @property
    def error_message(self) -> str | None:
        return None if self.succeeded else self.message


def allowed_hosts_for(document: dict) -> list[str]:
    """The hosts credentials may go to: ``allowedHosts``, or else the baseUrl's fixed host."""
    if document.get("allowedHosts"):
        return document["allowedHosts"]
    host = resolved_host(document["baseUrl"])
    return [] if PLACEHOLDER.search(host) or not host else [host]


def authenticate_request(
    *,
    document: dict,
    apply_spec: dict,
    url: str,
    base_url: str,
    credentials: dict,
    configured_variables: dict,
) -> AppliedAuth:
    """Headers and query parameters that put a connection's credentials on a request to ``url``:
    the one way connection tests and proxied requests authenticate.

    Raises ``AuthApplyError``, also for a ``url`` outside the integration's hosts (checked
    before any credential is applied, so none can go to another host).
    """
    host = resolved_host(url)
    allowed = allowed_hosts_for(document)
    if urlsplit(url).scheme not in ("http", "https") or not host_matches(host, allowed):
        raise AuthApplyError(f"Blocked: {host or url} is not one of this integration's hosts")
    return apply_credentials(
        apply_spec=apply_spec,
        credentials=credentials,
        configured_variables=configured_variables,
        base_url=base_url,
        allowed_hosts=allowed,
    )


def _status_text(code: int, reason: str) -> str:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = reason
    return f"{code} {phrase}".strip()


def _status_message(code: int, reason: str, expected: list[int], provider_text: str) -> str:
    status = _status_text(code, reason)
    if code in (401, 403):
        message = f"Invalid credentials. The service answered {status}"
    elif code == 429:
        message = f"Rate limited. The service answered {status}"
    else:
        message = f"Unexpected status {status} (expected {', '.join(map(str, expected))})"
    return f"{message}: {provider_text}" if provider_text else f"{message}."


def _json_mismatch(body, expect_json: dict) -> str | None:
    """Why the answer's JSON does not carry the expected top-level values, or None when it does."""
    if not expect_json:
        return None
    if not isinstance(body, dict):
        return "not with the JSON object expected"
    for key, value in expect_json.items():
        if body.get(key, object()) != value:
            return f"reported a failure ({key} is not {json.dumps(value)})"
    return None


@dataclass(frozen=True)
class _Trace:
    """What every outcome of one test carries: when it started and which values to mask."""

    started_at: datetime
    started: float  # monotonic; restarted when the API call itself begins
    secrets: list[str]

    def outcome(self, status, message: str, *, endpoint: str, status_code: int | None = None) -> CheckOutcome:
        forms = all_forms(self.secrets)  # worked out once for both texts (base64 in every variant…)
        return CheckOutcome(
            status=status,
            status_code=status_code,
            response_time_ms=round((time.monotonic() - self.started) * 1000),
            endpoint=mask_forms(endpoint, forms),
            message=mask_forms(message, forms),
            timestamp=self.started_at,
        )


@dataclass(frozen=True)
class _Call:
    """The test request with credentials applied, and the endpoint as it may be shown."""

    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]
    body: object
    endpoint: str  # credential query values masked
    secrets: list[str]  # values the auth method added (tokens fetched, encoded headers)
    auth_headers: dict[str, str]  # what the auth method put on the request, to reuse for identity
    auth_params: dict[str, str]


class _NotSent(Exception):
    """The test request could not be built or was refused before it was sent."""

    def __init__(self, message: str, *, endpoint: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message, self.endpoint, self.status_code = message, endpoint, status_code


def _endpoint(url: str, query: dict[str, str]) -> str:
    joiner = "&" if "?" in url else "?"
    return url + (joiner + urlencode(query, safe="*") if query else "")


def _prepare_call(
    *, document: dict, method: dict, test: dict, base_url: str, credentials: dict, configured_variables: dict
) -> _Call:
    url = base_url.rstrip("/") + test["path"]
    values = {**configured_variables, **credentials}
    query: dict[str, str] = {}
    try:
        query = {name: render_template(value, values) for name, value in test.get("query", {}).items()}
        headers = {
            name: safe_header_value(name, render_template(value, values))
            for name, value in test.get("headers", {}).items()
        }
        applied = authenticate_request(
            document=document,
            apply_spec=method["apply"],
            url=url,
            base_url=base_url,
            credentials=credentials,
            configured_variables=configured_variables,
        )
    except AuthApplyError as exc:
        message = exc.message
        if exc.status_code in (400, 401, 403):
            message = f"Invalid credentials. {message}"
        raise _NotSent(message, endpoint=_endpoint(url, query), status_code=exc.status_code) from None
    except OutboundError as exc:  # a token request made by the auth method
        raise _NotSent(exc.message, endpoint=_endpoint(url, query)) from None
    return _Call(
        method=test["method"],
        url=url,
        headers=headers | applied.headers,
        params={**query, **applied.query},
        body=test.get("body") if test["method"] == "POST" else None,
        endpoint=_endpoint(url, query | {name: MASK for name in applied.query}),
        # What goes on the wire too: a provider may quote a whole header back, re-encoded.
        secrets=[*applied.secrets, *applied.headers.values(), *applied.query.values()],
        auth_headers=applied.headers,
        auth_params=applied.query,
    )


def _identity_url(request: dict, *, document: dict, base_url: str, variables: dict) -> str | None:
    """Where the identity request goes, or None when it may not go there (then nothing is sent)."""
    try:
        url = (
            resolve_template(request["url"], variables)
            if "url" in request
            else base_url.rstrip("/") + request["path"]
        )
    except UrlTemplateError:
        return None
    if urlsplit(url).scheme not in ("http", "https") or not host_matches(
        resolved_host(url), allowed_hosts_for(document)
    ):
        return None
    return url


def _fetch_identity(
    spec: dict,
    *,
    document: dict,
    call: _Call,
    answer: OutboundResponse,
    base_url: str,
    variables: dict,
    values: dict,
) -> AccountIdentity | None:
    """The connected account, from the test's own answer or from the identity request sent with
    the same credentials. None when it cannot be read; a test never fails because of it."""
    request = spec.get("request")
    if request is not None:
        url = _identity_url(request, document=document, base_url=base_url, variables=variables)
        if url is None:
            logger.warning("identity request of %s refused: not one of its hosts", document.get("id"))
            return None
        try:
            query = {name: render_template(value, values) for name, value in request.get("query", {}).items()}
            headers = {
                name: render_template(value, values) for name, value in request.get("headers", {}).items()
            }
            answer = outbound_request(
                request["method"],
                url,
                headers=headers | call.auth_headers,
                params=query | call.auth_params,
                json=request.get("body") if request["method"] == "POST" else None,
                truncate=True,
            )
        except (AuthApplyError, OutboundError) as exc:
            logger.info(
                "identity request of %s failed: %s", document.get("id"), scrub(str(exc), call.secrets)
            )
            return None
    if not 200 <= answer.status_code < 300:
        logger.info("identity request of %s answered %s", document.get("id"), answer.status_code)
        return None
    try:
        return identity_from_answer(spec, answer.json())
    except ValueError:
        return None


def _judge(response: OutboundResponse, test: dict) -> tuple[Literal["success", "error"], str]:
    """Whether the answer proves the credentials work, and the message that says so or why not."""
    expected = test.get("expectedStatus", [200])
    try:
        body = response.json()
    except ValueError:
        body = None
    provider_text = provider_error_text(body) if body is not None else ""
    if response.status_code not in expected:
        return "error", _status_message(response.status_code, response.reason, expected, provider_text)
    mismatch = _json_mismatch(body, test.get("expectJson", {}))
    if mismatch is None:
        return "success", SUCCESS_MESSAGE
    message = f"The service answered {_status_text(response.status_code, response.reason)} but {mismatch}"
    return "error", f"{message}: {provider_text}" if provider_text else f"{message}."


def perform_test_request(
    *,
    integration_document: dict,
    auth_method_id: str,
    base_url: str,
    credentials: dict,
    configured_variables: dict,
) -> CheckOutcome:
    """Call the integration's test request (the auth method's own first) on ``base_url``.

    ``base_url`` is the connection's resolved base URL. Success iff the answer's status is one of
    the test request's ``expectedStatus``.
    """
    trace = _Trace(
        started_at=timezone.now(),
        started=time.monotonic(),
        secrets=[str(v) for v in credentials.values() if v is not None],
    )
    method = next((m for m in integration_document.get("authMethods", []) if m["id"] == auth_method_id), None)
    if method is None:
        message = f"Unknown auth method '{auth_method_id}' for this integration"
        return trace.outcome("error", message, endpoint=base_url.rstrip("/"))
    test = method.get("testRequest") or integration_document["testRequest"]
    try:
        call = _prepare_call(
            document=integration_document,
            method=method,
            test=test,
            base_url=base_url,
            credentials=credentials,
            configured_variables=configured_variables,
        )
    except _NotSent as exc:
        return trace.outcome("error", exc.message, endpoint=exc.endpoint, status_code=exc.status_code)
    # Time the API call itself, not the token request.
    trace = replace(trace, started=time.monotonic(), secrets=trace.secrets + call.secrets)
    try:
        response = outbound_request(
            call.method, call.url, headers=call.headers, params=call.params, json=call.body, truncate=True
        )
    except OutboundError as exc:
        return trace.outcome("error", exc.message, endpoint=call.endpoint)
    status, message = _judge(response, test)
    outcome = trace.outcome(status, message, endpoint=call.endpoint, status_code=response.status_code)
    spec = identity_spec(integration_document, method)
    if outcome.succeeded and spec:
        identity = _fetch_identity(
            spec,
            document=integration_document,
            call=call,
            answer=response,
            base_url=base_url,
            variables=configured_variables,
            values={**configured_variables, **credentials},
        )
        outcome = replace(outcome, identity=identity)
    return outcome
