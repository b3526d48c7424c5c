"""The connect link's pages: take the link up, send the browser into the wizard, and back out."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from connections.connect.services import (
    SESSION_KEY,
    ConnectLinkRefused,
    connect_session_exchange,
    connect_session_finish,
    connect_session_get_open,
)
from connections.models import Connection

BACKEND = "django.contrib.auth.backends.ModelBackend"


def connect_start(request: HttpRequest, token: str) -> HttpResponse:
    """The URL the host product opens. The first browser here is signed in as the link's user for
    the link's lifetime; the token then leaves the address bar."""
    current = request.session.get(SESSION_KEY)
    if current is not None and connect_session_get_open(session_id=current, user_id=request.user.pk):
        return redirect("connect-entry")  # this browser already took the link up (a reload)
    try:
        connect_session = connect_session_exchange(token=token)
    except ConnectLinkRefused as exc:
        return render(
            request, "connections/connect/refused.html", {"message": exc.message}, status=exc.status_code
        )
    login(request, connect_session.user, backend=BACKEND)  # a fresh session key: nothing carries over
    request.session[SESSION_KEY] = connect_session.pk
    request.session.set_expiry(connect_session.expires_at)
    return redirect("connect-entry")


def connect_entry(request: HttpRequest) -> HttpResponse:
    """Where a connect session starts: the one connection, the one integration, or the catalog."""
    connect_session = getattr(request, "connect_session", None)
    if connect_session is None:
        return redirect("home")
    if connect_session.connection_id is not None:
        connection = Connection.objects.get(pk=connect_session.connection_id)
        return redirect("connection-edit", connection_id=connection.connection_id)
    wizard = reverse("connection-new")
    if len(connect_session.integration_ids) == 1:
        return redirect(f"{wizard}?integration={connect_session.integration_ids[0]}")
    return redirect(wizard)


def connect_session_leave(request: HttpRequest, connection: Connection | None) -> HttpResponse:
    """End the browser's connect session and go back to the host product (or say it is done)."""
    connect_session = request.connect_session
    target = connect_session_finish(session=connect_session, connection=connection)
    logout(request)
    if target:
        return redirect(target)
    return render(request, "connections/connect/finished.html", {"connection": connection})


@require_POST
def connect_finish(request: HttpRequest, connection_id: str) -> HttpResponse:
    """Done: back to the host product with ``connectionId`` and ``status``."""
    connection = None
    if request.user.is_authenticated:  # a connect link's session may have ended
        connection = Connection.objects.filter(connection_id=connection_id, user=request.user).first()
    if connection is None or getattr(request, "connect_session", None) is None:
        return render(
            request, "connections/connect/refused.html", {"message": "Connection not found"}, status=404
        )
    return connect_session_leave(request, connection)


@require_POST
def connect_cancel(request: HttpRequest) -> HttpResponse:
    """Leave without connecting: back to the host product with ``status=cancelled``."""
    if getattr(request, "connect_session", None) is None:
        return redirect("home")
    return connect_session_leave(request, None)
