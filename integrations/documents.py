"""The integration document: validated against ``auth_schema.schema.json`` wherever it enters.

Errors name the JSON path of the problem (``$.authMethods[0].fields[1].type: …``) so a broken
provider file or API payload can be fixed without guessing.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from core.outbound_http import header_value_problem
from integrations.custom_headers import HEADER_NAME, custom_header_errors
from integrations.url_templates import PLACEHOLDER, host_matches, resolved_host, template_variables

SCHEMA_PATH = Path(__file__).with_name("auth_schema.schema.json")
PROVIDERS_DIR = Path(__file__).resolve().parent / "providers"
DOCUMENT_FILE_NAME = "auth.schema.json"
# The same rule as the schema's $.id pattern; lets lookups turn down impossible ids without a query.
INTEGRATION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
# A path on this app (never another host: pages must not load logos from elsewhere).
LOCAL_ICON_URL = re.compile(r"^/(?![/\\])[^\s]*$")
SECRET_FIELD_TYPES = {"password"}
SIGN_IN_APPLY_TYPE = "oauth2_authorization_code"


class DocumentError(ValueError):
    def __init__(self, errors: list[str], source: str | None = None) -> None:
        self.errors = errors
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(errors))


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _schema_errors(document) -> list[str]:
    errors = []
    for error in sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        # oneOf failures are more useful as the closest sub-error.
        if error.context:
            error = best_match(error.context) or error
        errors.append(f"{json_path(error.absolute_path)}: {error.message}")
    return errors


def is_secret_field(field: dict) -> bool:
    return field.get("type") in SECRET_FIELD_TYPES or bool(field.get("secret"))


def _semantic_errors(document: dict) -> list[str]:
    errors: list[str] = []
    if "iconUrl" in document and not LOCAL_ICON_URL.match(document["iconUrl"]):
        errors.append("$.iconUrl: must be a path on this app, such as /static/img/acme.svg")
    errors.extend(_base_url_errors(document["baseUrl"], "$.baseUrl", document))

    seen_methods: set[str] = set()
    for m_index, method in enumerate(document["authMethods"]):
        here = f"$.authMethods[{m_index}]"
        if method["id"] in seen_methods:
            errors.append(f"{here}.id: duplicate auth method id '{method['id']}'")
        seen_methods.add(method["id"])

        fields = [("fields", i, f) for i, f in enumerate(method.get("fields", []))]
        fields += [("additionalFields", i, f) for i, f in enumerate(method.get("additionalFields", []))]
        names: set[str] = set()
        for group, f_index, field in fields:
            at = f"{here}.{group}[{f_index}]"
            if field["name"] in names:
                errors.append(f"{at}.name: duplicate field name '{field['name']}'")
            names.add(field["name"])
            if "pattern" in field:
                try:
                    re.compile(field["pattern"])
                except re.error as exc:
                    errors.append(f"{at}.pattern: not a valid regular expression ({exc})")
            if (
                "default" in field
                and field.get("options")
                and field["default"] not in [o["value"] for o in field["options"]]
            ):
                errors.append(f"{at}.default: not one of the options")
        for group, f_index, field in fields:
            if group == "additionalFields" and is_secret_field(field):
                # configuredVariables are stored and shown in plain text; secrets belong in fields.
                errors.append(
                    f"{here}.{group}[{f_index}]: a secret must be one of the method's fields, not an additionalField"
                )
            show_when = field.get("showWhen")
            if show_when and show_when["key"] not in names:
                errors.append(f"{here}.{group}[{f_index}].showWhen.key: no field named '{show_when['key']}'")

        additional = {f["name"] for f in method.get("additionalFields", [])}
        if "baseUrl" in method:
            errors.extend(_base_url_errors(method["baseUrl"], f"{here}.baseUrl", document))
        for variable in template_variables(method_base_url(document, method)):
            if variable not in additional:
                errors.append(
                    f"{here}.additionalFields: baseUrl variable '{variable}' needs a field of that name"
                )

        for key, value in method["apply"].items():
            if isinstance(value, str) and key != "tokenUrl":
                for name in template_variables(value):
                    if name not in names:
                        errors.append(f"{here}.apply.{key}: refers to unknown field '{name}'")
        if method["apply"].get("type") == "bearer" and method["apply"]["field"] not in names:
            errors.append(f"{here}.apply.field: refers to unknown field '{method['apply']['field']}'")
        if method["apply"].get("type") == SIGN_IN_APPLY_TYPE:
            errors.extend(_sign_in_errors(method, here, additional))
    return errors


def _base_url_errors(base_url: str, here: str, document: dict) -> list[str]:
    errors = []
    host_part = base_url.split("://", 1)[-1].split("/", 1)[0]
    if (base_url.startswith("{{") or PLACEHOLDER.search(host_part)) and not document.get("allowedHosts"):
        errors.append("$.allowedHosts: required when a {{variable}} sits in the baseUrl's host")
    elif here != "$.baseUrl" and not PLACEHOLDER.search(host_part):
        allowed = document.get("allowedHosts") or [resolved_host(document["baseUrl"])]
        if not host_matches(resolved_host(base_url), allowed):
            errors.append(f"{here}: host {resolved_host(base_url)} is not one of the allowedHosts")
    return errors


def method_base_url(document: dict, method: dict) -> str:
    """The API root of connections using ``method``: its own baseUrl, else the document's."""
    return method.get("baseUrl") or document["baseUrl"]


def _sign_in_errors(method: dict, here: str, additional: set[str]) -> list[str]:
    """An authorization-code method: the tokens come from the provider, so the end user types
    no credential, and only configuredVariables can come from the token response or the site
    lookup (``resourcesUrl``)."""
    errors = []
    apply = method["apply"]
    if method.get("fields"):
        errors.append(f"{here}.fields: a sign-in method asks for no credentials (the provider issues tokens)")
    for key in ("tokenResponseVariables", "resourceVariables"):
        for name in apply.get(key, {}):
            if name not in additional:
                errors.append(f"{here}.apply.{key}: '{name}' is not one of the additionalFields")
    match = apply.get("resourceMatch")
    if match and (match["variable"] not in additional or match["variable"] in provider_variables(method)):
        errors.append(
            f"{here}.apply.resourceMatch.variable: '{match['variable']}' must be a field the user fills in"
        )
    return errors


def provider_variables(method: dict) -> frozenset[str]:
    """The configuredVariables of a sign-in method that the provider supplies when the user
    signs in (token response, site lookup): never asked for, not required before."""
    apply = method.get("apply", {})
    return frozenset(apply.get("tokenResponseVariables", {})) | frozenset(apply.get("resourceVariables", {}))


def is_sign_in_method(auth_method: dict | None) -> bool:
    """Whether the user connects by signing in at the provider (OAuth 2.0 authorization code)."""
    return bool(auth_method) and auth_method.get("apply", {}).get("type") == SIGN_IN_APPLY_TYPE


def _identity_errors(document: dict) -> list[str]:
    """An identity request's fixed host must be one credentials may go to; a host built from
    {{variables}} is checked when it is called, as the baseUrl is."""
    blocks = [("$.identity", document.get("identity"))] + [
        (f"$.authMethods[{i}].identity", m.get("identity")) for i, m in enumerate(document["authMethods"])
    ]
    allowed = document.get("allowedHosts") or [resolved_host(document["baseUrl"])]
    errors = []
    for here, block in blocks:
        url = ((block or {}).get("request") or {}).get("url")
        if (
            url
            and not PLACEHOLDER.search(resolved_host(url))
            and not host_matches(resolved_host(url), allowed)
        ):
            errors.append(f"{here}.request.url: host {resolved_host(url)} is not one of the allowedHosts")
        if url:
            known = {f["name"] for m in document["authMethods"] for f in m.get("additionalFields", [])}
            errors += [
                f"{here}.request.url: refers to unknown variable '{name}'"
                for name in template_variables(url)
                if name not in known
            ]
    return errors


def document_errors(document) -> list[str]:
    """Every problem with ``document``, each prefixed with its JSON path; empty when valid."""
    errors = _schema_errors(document)
    if errors:
        return errors
    return (
        _semantic_errors(document)
        + _identity_errors(document)
        + custom_header_errors(document)
        + _header_template_errors(document)
    )


def _header_template_errors(document: dict) -> list[str]:
    """Header names and the fixed text of header values in test requests and auth methods, checked
    when the document is saved: a control character or a non-Latin-1 one could never be sent."""
    places = [("$.testRequest.headers", document.get("testRequest", {}).get("headers", {}))]
    for index, method in enumerate(document.get("authMethods", [])):
        here = f"$.authMethods[{index}]"
        places.append((f"{here}.testRequest.headers", (method.get("testRequest") or {}).get("headers", {})))
        apply = method.get("apply", {})
        if apply.get("type") == "header":
            places.append((f"{here}.apply", {apply["name"]: apply["value"]}))
    errors: list[str] = []
    for where, headers in places:
        for name, template in headers.items():
            if not HEADER_NAME.match(name):
                errors.append(f"{where}.{name}: not a valid header name")
                continue
            problem = header_value_problem(PLACEHOLDER.sub("", template))
            if problem:
                errors.append(f"{where}.{name}: the value {problem}")
    return errors


def validate_document(document, *, source: str | None = None) -> dict:
    errors = document_errors(document)
    if errors:
        raise DocumentError(errors, source)
    return document


def load_document_file(path: Path) -> dict:
    """Read and validate one provider file; problems name the file and the JSON path."""
    text = path.read_text(encoding="utf-8")
    _check_document_text(text, source=str(path), folder=path.parent.name)
    return json.loads(text)


@lru_cache(maxsize=256)
def _check_document_text(text: str, *, source: str, folder: str) -> None:
    """Raise ``DocumentError`` unless ``text`` is a valid document for ``folder``. Remembered when
    valid: the catalog is synced from the same files after every migrate (and every flush of a
    test database), and validating them all took most of a sync."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            [f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"], source
        ) from exc
    validate_document(document, source=source)
    if document["id"] != folder:
        raise DocumentError([f"$.id: '{document['id']}' does not match its folder '{folder}'"], source)
