"""The operator's OAuth apps: which client ID and secret sign users in for a sign-in auth method.

An app saved in admin or through the API (``OAuthApp``, secret encrypted with the credentials'
key ring) wins; the bundled catalog can also take ``OAUTH_<INTEGRATION>_CLIENT_ID`` /
``OAUTH_<INTEGRATION>_CLIENT_SECRET`` from the environment (``settings.OAUTH_CLIENTS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from connections import encryption
from connections.models import OAuthApp
from core.errors import NotFound, ValidationFailed
from integrations.documents import is_sign_in_method
from integrations.models import Integration

ADMIN = "admin"
ENVIRONMENT = "environment"


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str = ""
    source: str = ADMIN

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return f"OAuthClient(client_id={self.client_id!r}, source={self.source!r})"


def oauth_environment_prefix(integration_id: str) -> str:
    """``google-sheets`` → ``OAUTH_GOOGLE_SHEETS`` (then ``_CLIENT_ID`` / ``_CLIENT_SECRET``)."""
    return "OAUTH_" + integration_id.upper().replace("-", "_")


def _from_environment(integration_id: str) -> OAuthClient | None:
    values = settings.OAUTH_CLIENTS.get(oauth_environment_prefix(integration_id).removeprefix("OAUTH_"))
    if not values:
        return None
    return OAuthClient(values["clientId"], values["clientSecret"], source=ENVIRONMENT)


def oauth_client_get(*, integration: Integration, auth_method_id: str) -> OAuthClient | None:
    """The client to sign in with, secret decrypted; None when nobody has set one up."""
    app = OAuthApp.objects.filter(integration=integration, auth_method_id=auth_method_id).first()
    if app is None:
        return _from_environment(integration.pk)
    secret = ""
    if app.client_secret_encrypted:
        secret = encryption.decrypt(app.client_secret_encrypted, bound_to=app.encryption_binding).decode()
    return OAuthClient(app.client_id, secret, source=ADMIN)


def oauth_configured_methods(*, integration: Integration) -> set[str]:
    """Ids of the integration's sign-in methods whose OAuth app is set up (one query)."""
    sign_in = {m["id"] for m in integration.auth_methods if is_sign_in_method(m)}
    if not sign_in:
        return set()
    saved = set(
        OAuthApp.objects.filter(integration=integration, auth_method_id__in=sign_in).values_list(
            "auth_method_id", flat=True
        )
    )
    return sign_in if _from_environment(integration.pk) else saved


def sign_in_method_or_error(*, integration: Integration, auth_method_id: str) -> dict:
    method = integration.auth_method(auth_method_id)
    if method is None:
        raise NotFound("Authentication method not found")
    if not is_sign_in_method(method):
        raise ValidationFailed(
            [f"authMethodId '{auth_method_id}' of {integration.pk} is not a sign-in method"]
        )
    return method


@transaction.atomic
def oauth_app_save(
    *, integration: Integration, auth_method_id: str, client_id: str, client_secret: str | None = None
) -> OAuthApp:
    """Create or update the app of one sign-in method. A secret that is None or empty keeps the
    stored one (forms leave password inputs blank)."""
    sign_in_method_or_error(integration=integration, auth_method_id=auth_method_id)
    client_id = (client_id or "").strip()
    if not client_id:
        raise ValidationFailed(["clientId is required"])
    app, _ = OAuthApp.objects.select_for_update().get_or_create(
        integration=integration, auth_method_id=auth_method_id, defaults={"client_id": client_id}
    )
    app.client_id = client_id
    if client_secret:
        app.client_secret_encrypted = encryption.encrypt(
            client_secret.strip().encode(), bound_to=app.encryption_binding
        )
    app.save()
    return app


def oauth_callback_url(*, request: HttpRequest | None = None) -> str:
    """The one redirect URI of this app: ``PUBLIC_URL`` + ``/oauth/callback`` (from the request
    when PUBLIC_URL is not set)."""
    path = reverse("oauth-callback")
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL + path
    if request is None:
        return "http://127.0.0.1:8000" + path
    return request.build_absolute_uri(path)
