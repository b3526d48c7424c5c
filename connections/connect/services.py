"""Creating, exchanging and ending connect sessions, and where they may send the browser back to."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import actor_label
from accounts.models import User
from connections.models import Connection, ConnectSession, new_connect_session_token
from connections.selectors import connection_state
from core.errors import ApplicationError, NotFound, ValidationFailed
from integrations.models import Integration

logger = logging.getLogger(__name__)

# Where a connect session's id lives in the browser's (Django) session.
SESSION_KEY = "connect_session_id"
CANCELLED = "cancelled"


class ConnectLinkRefused(ApplicationError):
    """A connect link that cannot be used: unknown, already used by a browser, expired or ended."""

    status_code = 410


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def return_url_allowed(url: str) -> bool:
    """Whether ``url`` is on CONNECT_RETURN_URL_ALLOWLIST: an entry's scheme and host (and port)
    exactly, and under its path when it has one (``https://app.example.com/settings`` allows
    ``/settings`` and ``/settings/…``, not ``/settings-other``)."""
    if any(ch in url for ch in "\\\r\n\t ") or len(url) > 2000:
        return False
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname or target.username is not None:
        return False
    for entry in settings.CONNECT_RETURN_URL_ALLOWLIST:
        allowed = urlsplit(entry)
        same_origin = (target.scheme, target.netloc.lower()) == (allowed.scheme, allowed.netloc.lower())
        prefix = allowed.path.rstrip("/")
        if same_origin and (not prefix or target.path == prefix or target.path.startswith(prefix + "/")):
            return True
    return False


def _validated_integration_ids(integration_ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(integration_ids))
    active = set(
        Integration.objects.filter(pk__in=ids, status=Integration.Status.ACTIVE).values_list("pk", flat=True)
    )
    unknown = [i for i in ids if i not in active]
    if unknown:
        raise ValidationFailed([f"integrationIds: no active integration '{i}'" for i in unknown])
    return ids


def connect_session_create(
    *,
    actor,
    user: User,
    integration_ids: list[str] | None = None,
    connection_id: str | None = None,
    return_url: str = "",
) -> tuple[ConnectSession, str]:
    """A new connect session and its one-time token (returned once, stored only as a digest)."""
    if not user.is_active:
        raise ValidationFailed([f"userId '{user.user_id}' is inactive"])
    if user.is_staff:
        # Operators act for everyone; a link that signs one in must never exist.
        raise ValidationFailed(
            [f"userId '{user.user_id}' is an operator: connect sessions are for end users"]
        )
    ids = _validated_integration_ids(integration_ids or [])
    connection = None
    if connection_id:
        connection = Connection.objects.filter(connection_id=connection_id, user=user).first()
        if connection is None:
            raise NotFound(
                "Connection not found", error=f"userId '{user.user_id}' has no connection {connection_id}"
            )
        if ids and connection.integration_id not in ids:
            raise ValidationFailed(["connectionId: its integration is not one of integrationIds"])
    if return_url and not return_url_allowed(return_url):
        raise ValidationFailed(["returnUrl must match an entry of CONNECT_RETURN_URL_ALLOWLIST"])
    token = new_connect_session_token()
    session = ConnectSession.objects.create(
        token_hash=_digest(token),
        user=user,
        integration_ids=ids,
        connection=connection,
        return_url=return_url,
        created_by=actor_label(actor),
        expires_at=timezone.now() + timedelta(minutes=settings.CONNECT_SESSION_MINUTES),
    )
    logger.info("connect session %s created for %s by %s", session.pk, user.user_id, session.created_by)
    return session, token


def connect_session_exchange(*, token: str) -> ConnectSession:
    """Take the link up, once: the first browser to bring it gets the session; any later use is
    refused (ConnectLinkRefused), as is an expired or ended one."""
    now = timezone.now()
    session = ConnectSession.objects.select_related("user").filter(token_hash=_digest(token)).first()
    if session is None:
        raise ConnectLinkRefused("This link is not valid.", status_code=404)
    taken = ConnectSession.objects.filter(
        pk=session.pk, exchanged_at__isnull=True, finished_at__isnull=True, expires_at__gt=now
    ).update(exchanged_at=now)
    if not taken:
        if session.finished_at is not None:
            raise ConnectLinkRefused("This link was already used.")
        if session.exchanged_at is not None and session.is_open(now):
            raise ConnectLinkRefused("This link was already opened in another browser.")
        raise ConnectLinkRefused("This link has expired. Ask for a new one.")
    if not session.user.is_active:
        raise ConnectLinkRefused("This link is not valid.", status_code=404)
    session.exchanged_at = now
    return session


def connect_session_get_open(*, session_id: int, user_id: int) -> ConnectSession | None:
    """The browser's connect session while it is usable, else None."""
    session = ConnectSession.objects.filter(pk=session_id, user_id=user_id).first()
    return session if session is not None and session.is_open(timezone.now()) else None


def connect_session_allows_integration(session: ConnectSession, integration_id: str) -> bool:
    if session.connection_id is not None:
        return False  # reconnect/edit sessions reach their one connection, not the catalog
    return not session.integration_ids or integration_id in session.integration_ids


def connect_session_allows_connection(session: ConnectSession, connection: Connection) -> bool:
    if connection.user_id != session.user_id:
        return False
    if session.connection_id is not None:
        return connection.pk == session.connection_id
    return not session.integration_ids or connection.integration_id in session.integration_ids


def connect_session_connections(session: ConnectSession) -> Q:
    """The user's connections ``session`` reaches, as a filter."""
    if session.connection_id is not None:
        return Q(pk=session.connection_id)
    return Q(integration_id__in=session.integration_ids) if session.integration_ids else Q()


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


@transaction.atomic
def connect_session_finish(*, session: ConnectSession, connection: Connection | None) -> str:
    """End the session; the URL to send the browser to (``returnUrl`` with ``connectionId`` and
    ``status``), or "" when the host product gave none. ``connection`` None means cancelled."""
    if connection is not None and not connect_session_allows_connection(session, connection):
        raise NotFound("Connection not found")
    ConnectSession.objects.filter(pk=session.pk, finished_at__isnull=True).update(finished_at=timezone.now())
    if connection is None:
        status, params = CANCELLED, {"status": CANCELLED}
    else:
        status = connection_state(connection=connection)
        params = {"connectionId": connection.connection_id, "status": status}
    logger.info("connect session %s finished: %s", session.pk, status)
    return _with_query(session.return_url, **params) if session.return_url else ""
