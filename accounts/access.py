"""Who may act for whom. API keys and operators act for any user; an end user only for themselves.

A user id that names someone else is answered as "not found", never with their data.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from accounts.models import User
from accounts.selectors import user_get
from core.errors import NotFound


def acts_for_any_user(actor) -> bool:
    return bool(getattr(actor, "is_api_key", False) or getattr(actor, "is_staff", False))


def user_for_request(actor, user_id: str | None) -> User | None:
    """The user a request acts on: the named one (keys, operators) or the signed-in one.

    Returns None when a key or operator names nobody; callers decide whether that is an error.
    """
    if acts_for_any_user(actor):
        return user_get(user_id=user_id) if user_id else None
    if user_id and user_id != actor.user_id:
        raise NotFound("User not found")
    return actor


def user_or_user_id_for_request(actor, user_id: str | None) -> User | str | None:
    """As ``user_for_request``, but a key's or operator's user comes back as its userId, for a
    caller that loads the user within its own query (and answers "User not found" itself)."""
    if acts_for_any_user(actor):
        return user_id
    return user_for_request(actor, user_id)


def actor_label(actor) -> str:
    """How audit records name whoever made a request."""
    if getattr(actor, "is_api_key", False):
        return f"api-key:{actor.api_key.name} ({actor.api_key.prefix})"
    if getattr(actor, "is_authenticated", False):
        return f"user:{actor.user_id}"
    return "system"


class IsApiKey(BasePermission):
    """Calls only a host product's backend makes (they act for its users)."""

    message = "This action needs an API key"

    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "is_api_key", False))


class IsApiKeyOrOperator(BasePermission):
    """Catalog and administrative writes."""

    message = "This action needs an API key or an operator account"

    def has_permission(self, request, view) -> bool:
        return acts_for_any_user(request.user)


class ReadOrApiKeyOrOperator(BasePermission):
    """Anyone signed in reads; only keys and operators write."""

    message = IsApiKeyOrOperator.message

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return acts_for_any_user(request.user)
