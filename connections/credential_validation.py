"""Checking a connection's credentials and configuredVariables against its integration's document.

An auth method's ``fields`` are the credentials; its ``additionalFields`` are the
configuredVariables (the baseUrl's ``{{variables}}`` among them). Every problem is collected, so a
caller sees them all at once, in the seed's style: ``credentials.clientId is required``.

``showWhen`` makes a field conditional: it is shown, required and accepted only while the field it
names has the given value; a hidden field is neither required nor accepted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator

from core.errors import ValidationFailed
from core.outbound_http import host_in_allowlist, url_port
from integrations.documents import is_secret_field, is_sign_in_method, method_base_url
from integrations.models import Integration
from integrations.url_templates import (
    UrlTemplateError,
    host_matches,
    instance_address,
    resolve_template,
    resolved_host,
    template_variables,
)

CREDENTIALS = "credentials"
VARIABLES = "configuredVariables"
MAX_VALUE_LENGTH = 10_000
TEXT_TYPES = {"string", "text", "textarea", "password"}
_url_validator = URLValidator(schemes=["http", "https"])
_email_validator = EmailValidator()


@dataclass(frozen=True)
class ConnectionInput:
    """A validated, complete set of values for one auth method."""

    auth_method: dict
    credentials: dict
    configured_variables: dict
    base_url: str


def auth_method_or_error(integration: Integration, auth_method_id: str) -> dict:
    method = integration.auth_method(auth_method_id)
    if method is None:
        ids = ", ".join(m["id"] for m in integration.auth_methods)
        raise ValidationFailed([f"authMethodId must be one of: {ids}"])
    return method


def _as_text(value) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _visible(field: dict, values: dict, defaults: dict) -> bool:
    condition = field.get("showWhen")
    if not condition:
        return True
    current = values.get(condition["key"], defaults.get(condition["key"]))
    return current is not None and _as_text(current) == _as_text(condition["value"])


def _value_errors(field: dict, value, path: str) -> list[str]:
    """Type and format problems of one supplied, non-blank value."""
    kind = field["type"]
    if isinstance(value, (dict, list)):
        return [f"{path} must be a single value"]
    if kind == "number":
        if isinstance(value, bool):
            return [f"{path} must be a number"]
        try:
            float(value)
        except (TypeError, ValueError):
            return [f"{path} must be a number"]
        return []
    if kind == "select":
        allowed = [o["value"] for o in field["options"]]
        if _as_text(value) not in {_as_text(a) for a in allowed}:
            return [f"{path} must be one of: {', '.join(_as_text(a) for a in allowed)}"]
        return []
    if not isinstance(value, str):
        return [f"{path} must be a string"]
    if len(value) > MAX_VALUE_LENGTH:
        return [f"{path} must be at most {MAX_VALUE_LENGTH} characters"]
    errors = []
    if kind == "url":
        try:
            _url_validator(value.strip())
        except DjangoValidationError:
            return [f"{path} must be a valid URL"]
    elif kind == "email":
        try:
            _email_validator(value.strip())
        except DjangoValidationError:
            return [f"{path} must be a valid email address"]
    if "minLength" in field and len(value) < field["minLength"]:
        errors.append(f"{path} must be at least {field['minLength']} characters")
    if "maxLength" in field and len(value) > field["maxLength"]:
        errors.append(f"{path} must be at most {field['maxLength']} characters")
    if "pattern" in field and not errors and not re.fullmatch(field["pattern"], value.strip()):
        errors.append(f"{path} {field.get('patternMessage') or 'does not have the expected format'}")
    return errors


def _check_group(
    *,
    fields: list[dict],
    values: dict,
    supplied: set[str],
    label: str,
    all_values: dict,
    defaults: dict,
    errors: list[str],
) -> dict:
    """Validate one group (credentials or configuredVariables); returns its clean values.

    ``supplied`` names the keys the caller sent in this request: only those can be "not accepted"
    (a value kept from before, for a field now hidden, is dropped quietly).
    """
    by_name = {f["name"]: f for f in fields}
    for key in values:
        if key not in by_name and key in supplied:
            errors.append(f"{label}.{key} is not a field of this auth method")
    clean: dict = {}
    for field in fields:
        name, path = field["name"], f"{label}.{field['name']}"
        value = values.get(name)
        if not _visible(field, all_values, defaults):
            if name in supplied and not _is_blank(value):
                condition = field["showWhen"]
                errors.append(
                    f"{path} is only used when {condition['key']} is {_as_text(condition['value'])}"
                )
            elif "default" in field:
                # A hidden field takes its default (GitLab.com's server_url when not self-managed).
                clean[name] = field["default"]
            continue
        # An unconditional field left out takes its default; a showWhen field's default is only
        # what it means while hidden (once shown, the user must fill it in).
        if _is_blank(value) and "default" in field and name not in supplied and "showWhen" not in field:
            value = field["default"]
        if _is_blank(value):
            if field.get("required"):
                errors.append(f"{path} cannot be empty" if name in values else f"{path} is required")
            continue
        if isinstance(value, str):
            value = value.strip()  # what is checked is what is stored (pasted keys bring spaces)
            if "instanceOf" in field:
                value = instance_address(value, field["instanceOf"])
        problems = _value_errors(field, value, path)
        errors.extend(problems)
        if not problems:
            clean[name] = value
    return clean


def resolve_base_url(integration: Integration, variables: dict, auth_method: dict | None) -> str:
    """The API root of ``auth_method`` (its own baseUrl, else the integration's) filled from
    ``variables``: https (or allowlisted http) on one of the document's ``allowedHosts``.
    ValidationFailed otherwise, naming the variable to fix."""
    template = method_base_url(integration.document, auth_method) if auth_method else integration.base_url
    try:
        url = resolve_template(template, variables, label=VARIABLES)
    except UrlTemplateError as exc:
        raise ValidationFailed([str(exc)]) from None
    names = template_variables(template)
    subject = f"{VARIABLES}.{names[0]}" if len(names) == 1 else VARIABLES
    parts = urlsplit(url)
    scheme, host = parts.scheme, resolved_host(url)
    try:
        port = url_port(parts)
    except ValueError:
        port = None
    if not host or port is None:
        raise ValidationFailed([f"{subject} must make the baseUrl a valid URL"])
    if scheme != "https" and not (scheme == "http" and host_in_allowlist(host, port)):
        raise ValidationFailed([f"{subject} must make the baseUrl an https URL"])
    allowed = integration.document.get("allowedHosts") or [resolved_host(template)]
    if not host_matches(host, allowed):
        raise ValidationFailed([f"{subject} must point at {', '.join(allowed)}"])
    return url


def validate_connection_input(
    *,
    integration: Integration,
    auth_method_id: str,
    credentials: dict,
    configured_variables: dict,
    supplied_credentials: set[str] | None = None,
    supplied_variables: set[str] | None = None,
    variables_from_provider: frozenset[str] = frozenset(),
) -> ConnectionInput:
    """Validate a complete set of values; ValidationFailed lists every problem.

    ``supplied_*`` name the keys the caller actually sent (all of them when omitted); on an
    update the rest come from the stored connection. ``variables_from_provider`` are left out
    (a sign-in's token response brings them), and then the baseUrl is not resolved yet.

    A sign-in method's credentials are the provider's tokens, not fields: they are kept as they
    are (an accessToken is required) and never merged with what a caller sends.
    """
    method = auth_method_or_error(integration, auth_method_id)
    fields = method.get("fields", [])
    additional = [f for f in method.get("additionalFields", []) if f["name"] not in variables_from_provider]
    all_values = {**configured_variables, **credentials}
    defaults = {f["name"]: f["default"] for f in fields + additional if "default" in f}
    errors: list[str] = []
    clean_credentials = _check_group(
        fields=fields,
        values=credentials,
        label=CREDENTIALS,
        all_values=all_values,
        defaults=defaults,
        supplied=set(credentials) if supplied_credentials is None else supplied_credentials,
        errors=errors,
    )
    clean_variables = _check_group(
        fields=additional,
        values=configured_variables,
        label=VARIABLES,
        all_values=all_values,
        defaults=defaults,
        errors=errors,
        supplied=set(configured_variables) if supplied_variables is None else supplied_variables,
    )
    if is_sign_in_method(method):
        clean_credentials = dict(credentials)
        if credentials and not isinstance(credentials.get("accessToken"), str):
            errors.append(f"{CREDENTIALS}.accessToken is required")
    base_url = ""
    if not errors and not variables_from_provider:
        try:
            base_url = resolve_base_url(integration, clean_variables, method)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return ConnectionInput(
        auth_method=method,
        credentials=clean_credentials,
        configured_variables=clean_variables,
        base_url=base_url,
    )


# A sign-in connection's stored tokens: always masked, whatever the document says.
TOKEN_SECRETS = {"accessToken", "refreshToken"}


def secret_field_names(auth_method: dict | None) -> set[str]:
    if not auth_method:
        return set()
    tokens = TOKEN_SECRETS if is_sign_in_method(auth_method) else set()
    return tokens | {
        f["name"]
        for f in auth_method.get("fields", []) + auth_method.get("additionalFields", [])
        if is_secret_field(f)
    }
