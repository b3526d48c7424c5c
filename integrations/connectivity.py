"""Running an integration's test request with a connection's credentials.

``perform_test_request()`` is pure: it takes plain values (no models), talks to the provider
through the guarded client and returns a ``CheckOutcome``. It never raises for a network or
provider problem, and no message it returns contains a credential.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlencode, urlsplit

from django.utils import timezone

from core.outbound_http import OutboundError, outbound_request
from core.redaction import MASK, scrub
from integrations.auth_appliers import AuthApplyError, apply_credentials, provider_error_text, render_template
from integrations.url_templates import PLACEHOLDER, host_matches, resolved_host

SUCCESS_MESSAGE = "Connection successful"


@dataclass(frozen=True)
class CheckOutcome:
    status: Literal["success", "error"]
    status_code: int | None
    response_time_ms: int | None
    endpoint: str  # the URL called, credential values masked
    message: str  # "Connection successful" or what went wrong
    timestamp: datetime

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
    started_at = timezone.now()
    secrets = [str(v) for v in credentials.values() if v is not None]
    url = base_url.rstrip("/")
    query: dict[str, str] = {}
    started = time.monotonic()

    def outcome(status, message, *, status_code=None) -> CheckOutcome:
        joiner = "&" if "?" in url else "?"
        endpoint = url + (joiner + urlencode(query, safe="*") if query else "")
        elapsed = round((time.monotonic() - started) * 1000)
        return CheckOutcome(
            status=status,
            status_code=status_code,
            response_time_ms=elapsed,
            endpoint=scrub(endpoint, secrets),
            message=scrub(message, secrets),
            timestamp=started_at,
        )

    method = next((m for m in integration_document.get("authMethods", []) if m["id"] == auth_method_id), None)
    if method is None:
        return outcome("error", f"Unknown auth method '{auth_method_id}' for this integration")
    test = method.get("testRequest") or integration_document["testRequest"]
    url = base_url.rstrip("/") + test["path"]
    values = {**configured_variables, **credentials}
    try:
        query = {name: render_template(value, values) for name, value in test.get("query", {}).items()}
        headers = {name: render_template(value, values) for name, value in test.get("headers", {}).items()}
        host = resolved_host(url)
        allowed = allowed_hosts_for(integration_document)
        if urlsplit(url).scheme not in ("http", "https") or not host_matches(host, allowed):
            # Checked before any credential is applied, so none can go to another host.
            return outcome("error", f"Blocked: {host or url} is not one of this integration's hosts")
        applied = apply_credentials(
            apply_spec=method["apply"],
            credentials=credentials,
            configured_variables=configured_variables,
            base_url=base_url,
            allowed_hosts=allowed,
        )
        # What goes on the wire too: a provider may quote a whole header back, re-encoded.
        secrets += [*applied.secrets, *applied.headers.values(), *applied.query.values()]
        headers |= applied.headers
        params = {**query, **applied.query}
        query |= {name: MASK for name in applied.query}
        started = time.monotonic()  # the API call itself, not the token request
        response = outbound_request(
            test["method"],
            url,
            headers=headers,
            params=params,
            json=test.get("body") if test["method"] == "POST" else None,
            truncate=True,
        )
    except AuthApplyError as exc:
        message = exc.message
        if exc.status_code in (400, 401, 403):
            message = f"Invalid credentials. {message}"
        return outcome("error", message, status_code=exc.status_code)
    except OutboundError as exc:
        return outcome("error", exc.message)

    expected = test.get("expectedStatus", [200])
    try:
        body = response.json()
    except ValueError:
        body = None
    provider_text = provider_error_text(body) if body is not None else ""
    if response.status_code in expected:
        mismatch = _json_mismatch(body, test.get("expectJson", {}))
        if mismatch is None:
            return outcome("success", SUCCESS_MESSAGE, status_code=response.status_code)
        message = f"The service answered {_status_text(response.status_code, response.reason)} but {mismatch}"
        return outcome(
            "error",
            f"{message}: {provider_text}" if provider_text else f"{message}.",
            status_code=response.status_code,
        )
    message = _status_message(response.status_code, response.reason, expected, provider_text)
    return outcome("error", message, status_code=response.status_code)
