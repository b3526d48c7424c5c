"""Who a connection's credentials belong to at the provider: the connected account's identity.

An integration document's optional ``identity`` block (or one auth method's own) says where to read
it: a ``request`` and JSON pointers (RFC 6901) into its JSON answer for ``accountId``,
``displayName`` and ``email``. A pointer may be a list, the first one that yields a value wins
(GitHub's ``/name`` is often empty, ``/login`` never is). Without ``request`` the test request's
own answer is read, so no second call is made.

This module only reads answers; ``integrations/connectivity.py`` makes the call, with the
credentials applied exactly as for a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The model's column sizes (connections.models.Connection.account_*).
MAX_ACCOUNT_ID = 255
MAX_DISPLAY_NAME = 255
MAX_EMAIL = 254

_MISSING = object()


@dataclass(frozen=True)
class AccountIdentity:
    account_id: str
    display_name: str = ""
    email: str = ""


def identity_spec(document: dict, auth_method: dict) -> dict | None:
    """The identity block that applies to ``auth_method``: its own, else the document's."""
    return auth_method.get("identity") or document.get("identity")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer_value(document: Any, pointer: str) -> Any:
    """The value ``pointer`` (RFC 6901) names in ``document``, or ``_MISSING``."""
    if pointer == "":
        return document
    current = document
    for token in (_unescape(part) for part in pointer.split("/")[1:]):
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return _MISSING
    return current


def _first_text(document: Any, pointers: str | list[str] | None, limit: int) -> str:
    """The first pointer's value that is a non-empty string or a number, as text ("" if none)."""
    if pointers is None:
        return ""
    for pointer in [pointers] if isinstance(pointers, str) else pointers:
        value = pointer_value(document, pointer)
        if isinstance(value, bool) or value is _MISSING or value is None:
            continue
        if isinstance(value, (int, float)):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()[:limit]
    return ""


def identity_from_answer(spec: dict, answer: Any) -> AccountIdentity | None:
    """Read the identity out of a provider's JSON answer; None when it names no account id."""
    account_id = _first_text(answer, spec["accountId"], MAX_ACCOUNT_ID)
    if not account_id:
        return None
    email = _first_text(answer, spec.get("email"), MAX_EMAIL)
    return AccountIdentity(
        account_id=account_id,
        display_name=_first_text(answer, spec.get("displayName"), MAX_DISPLAY_NAME),
        # A provider's "email" that is not one (a placeholder, a phone number) is left out.
        email=email if "@" in email else "",
    )
