from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from accounts.api_keys import api_key_authenticate
from accounts.models import ApiKey


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """``request.user`` for a call made with an API key: the host product's backend,
    which acts on behalf of any user and may manage the catalog."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_api_key = True
    pk = None
    user_id = None

    @property
    def throttle_ident(self) -> str:
        return f"apikey:{self.api_key.pk}"

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


def api_key_principal(request) -> ApiKeyPrincipal | None:
    """The caller, when ``Authorization: Bearer <key>`` names an active key; else None (no key,
    another scheme, a bad key), and ``ApiKeyAuthentication`` says why. For a hot path that answers
    without DRF's dispatch (the proxy)."""
    scheme, _, raw_key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != ApiKeyAuthentication.keyword.lower() or not raw_key.strip():
        return None
    api_key = api_key_authenticate(raw_key=raw_key.strip())
    return ApiKeyPrincipal(api_key) if api_key is not None else None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>``."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw_key = raw_key.strip()
        if not raw_key:
            raise exceptions.AuthenticationFailed("No API key given after Bearer")
        api_key = api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key")
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'
