"""The wizard's draft: one new connection being filled in, named by a random token carried in a
hidden input of the configure step.

- Secrets typed into a submit the server refused are kept for that draft only, encrypted
  (``connections/encryption.py``), in the user's session; they never go back into the HTML.
- The draft's token is also the idempotency key of its one create: a resubmit after Back
  finds the connection it already made instead of making a second one.
- A saved draft forgets its secrets.
"""

from __future__ import annotations

import secrets

from connections import encryption
from connections.encryption import CredentialsUnreadable

SESSION_KEY = "wizard_drafts"
# Drafts kept per session; the oldest is dropped so an abandoned tab cannot grow the session.
MAX_DRAFTS = 5


def wizard_draft_new_token() -> str:
    return secrets.token_urlsafe(24)


def wizard_draft_idempotency_key(*, token: str) -> str:
    return f"wizard-draft:{token}"


def _bound_to(session, token: str) -> str:
    # Bound to the session as well: a token copied into another session decrypts nothing.
    return f"wizard-draft:{session.session_key}:{token}"


def wizard_draft_keep_secrets(*, session, token: str, values: dict[str, str]) -> None:
    """Keep ``values`` (secret name → typed value) for the draft, replacing what it held."""
    drafts = {k: v for k, v in session.get(SESSION_KEY, {}).items() if k != token}
    if values:
        if session.session_key is None:
            session.save()
        drafts[token] = encryption.encrypt_json(values, bound_to=_bound_to(session, token))
    session[SESSION_KEY] = dict(list(drafts.items())[-MAX_DRAFTS:])


def wizard_draft_secrets(*, session, token: str) -> dict[str, str]:
    """The secrets kept for the draft; nothing for an unknown, ended or unreadable draft."""
    stored = session.get(SESSION_KEY, {}).get(token)
    if not stored:
        return {}
    try:
        return encryption.decrypt_json(stored, bound_to=_bound_to(session, token))
    except CredentialsUnreadable:
        return {}


def wizard_draft_end(*, session, token: str) -> None:
    drafts = session.get(SESSION_KEY, {})
    if token in drafts:
        session[SESSION_KEY] = {k: v for k, v in drafts.items() if k != token}
