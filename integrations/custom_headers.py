"""An integration's custom headers, sent with every proxied request through its connections.

The document's ``headers`` maps a header name to a value that may hold variables, expanded at
request time for the connection's owner:

- ``${user.email}``, ``${user.name}``, ``${user.userId}``;
- ``${connection.<name>}`` for a configured variable (an ``additionalFields`` entry) that every
  auth method of the integration declares.

Unknown variables are refused when the document is saved (``custom_header_errors``), so a
request never fails on a typo. Credentials are never variables: they go on the request only as
the auth method's ``apply`` says.
"""

from __future__ import annotations

import re

from core.outbound_http import CALLER_REFUSED_HEADERS, header_value_problem

VARIABLE = re.compile(r"\$\{([^}]*)\}")
USER_VARIABLES = ("email", "name", "userId")
# RFC 9110 token characters.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


class CustomHeaderError(ValueError):
    """A header whose expanded value cannot be sent; the message names the header, not the value."""


def _variable_error(variable: str, auth_methods: list[dict]) -> str | None:
    scope, _, name = variable.partition(".")
    if scope == "user" and name in USER_VARIABLES:
        return None
    if scope == "connection" and name:
        missing = [
            method["id"]
            for method in auth_methods
            if name not in {field["name"] for field in method.get("additionalFields", [])}
        ]
        if not missing:
            return None
        return f"${{{variable}}} is not a configured variable of auth method(s) {', '.join(missing)}"
    known = ", ".join(f"${{user.{n}}}" for n in USER_VARIABLES)
    return f"unknown variable ${{{variable}}}; use {known} or ${{connection.<configured variable>}}"


def custom_header_errors(document: dict) -> list[str]:
    """Problems with the document's ``headers``, each prefixed with its JSON path."""
    errors: list[str] = []
    for name, template in document.get("headers", {}).items():
        here = f"$.headers.{name}"
        if not HEADER_NAME.match(name):
            errors.append(f"{here}: not a valid header name")
            continue
        if name.lower() in CALLER_REFUSED_HEADERS:
            errors.append(f"{here}: {name} is set by the connection's credentials or the HTTP client")
        problem = header_value_problem(VARIABLE.sub("", template))
        if problem:
            errors.append(f"{here}: the value {problem}")
        for variable in VARIABLE.findall(template):
            problem = _variable_error(variable, document.get("authMethods", []))
            if problem:
                errors.append(f"{here}: {problem}")
    return errors


def custom_headers_expand(
    *, templates: dict[str, str], user_values: dict[str, str], configured_variables: dict
) -> dict[str, str]:
    """The headers with every variable filled; a value missing is sent empty.

    ``user_values`` holds ``email``, ``name`` and ``userId``. Raises ``CustomHeaderError`` for a
    value that holds a line break or NUL once expanded (it could smuggle in another header).
    """

    def value_for(match: re.Match) -> str:
        scope, _, key = match.group(1).partition(".")
        value = (user_values if scope == "user" else configured_variables).get(key)
        return "" if value is None else str(value)

    headers: dict[str, str] = {}
    for name, template in templates.items():
        value = VARIABLE.sub(value_for, template)
        problem = header_value_problem(value)
        if problem:
            raise CustomHeaderError(f"The {name} header's value {problem} once expanded")
        headers[name] = value
    return headers
