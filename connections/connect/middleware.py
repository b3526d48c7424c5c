"""Keeps a browser that came in through a connect link inside it.

A Django session holding a connect session's id reaches only the wizard and My Connections of
that user, and only the integrations (or the one connection) the host product named: every other
page, the admin and the API (but the two calls the pages make to test a connection) answer 403,
another connection or integration 404. Once the connect session has expired or ended, the browser
is signed out. Connect pages may be framed by CONNECT_FRAME_ANCESTORS; everything else never is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from connections.connect.services import (
    SESSION_KEY,
    connect_session_allows_connection,
    connect_session_allows_integration,
    connect_session_get_open,
)
from connections.models import CheckRun, Connection, ConnectSession
from core.api.envelope import api_error_response, is_api_request
from core.errors import ApplicationError, NotFound

# What a connect session may open (URL names); everything else is out of bounds.
ALLOWED_VIEWS = frozenset(
    {
        "home",
        "connect-start",
        "connect-entry",
        "connect-finish",
        "connect-cancel",
        "connect-integration",
        "connection-new",
        "connection-edit",
        "connection-review",
        "connection-test",
        "connection-delete",
        "connection-reactivate",
        # OAuth sign-in: reconnecting, and the provider sending the user back.
        "connection-reconnect",
        "oauth-callback",
        "my-connections",
        "my-connections-html",
        "integration-icon",
        # The pages' live test: queue it, then poll the run.
        "api-connection-test",
        "api-connection-test-detail",
    }
)
# Pages that may be framed by CONNECT_FRAME_ANCESTORS even before the link is exchanged.
FRAMEABLE_WITHOUT_SESSION = frozenset({"connect-start"})


class OutOfBounds(ApplicationError):
    status_code = 403
    default_message = "Not available in a connect session"


def _connection_in_scope(
    session: ConnectSession, *, connection_id: str | None = None, run_id: str | None = None
):
    if run_id is not None:
        run = CheckRun.objects.select_related("connection").filter(run_id=run_id).first()
        connection = run.connection if run else None
    else:
        connection = Connection.objects.filter(connection_id=connection_id).first()
    if connection is None or not connect_session_allows_connection(session, connection):
        raise NotFound("Connection not found")


def check_scope(session: ConnectSession, request: HttpRequest) -> None:
    """OutOfBounds or NotFound unless the request stays inside ``session``."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        raise NotFound("Not found") from None
    if match.url_name not in ALLOWED_VIEWS:
        raise OutOfBounds()
    if "connection_id" in match.kwargs:
        _connection_in_scope(session, connection_id=match.kwargs["connection_id"])
    if "run_id" in match.kwargs:
        _connection_in_scope(session, run_id=match.kwargs["run_id"])
    if match.url_name in ("connect-integration", "connection-new"):
        # The wizard's own parameters: edit mode on another connection, or another integration
        # (a session for one connection reaches no new ones).
        if request.GET.get("connectionId"):
            _connection_in_scope(session, connection_id=request.GET["connectionId"])
        elif session.connection_id is not None:
            raise NotFound("Integration not found")
        integration_id = request.GET.get("integration")
        if integration_id and not connect_session_allows_integration(session, integration_id):
            raise NotFound("Integration not found")


def _refusal(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    if is_api_request(request):
        return api_error_response(request, exc)
    return render(
        request, "connections/connect/refused.html", {"message": exc.message}, status=exc.status_code
    )


def _connect_policy(response: HttpResponse, connect_session: ConnectSession | None = None) -> HttpResponse:
    """Framing by CONNECT_FRAME_ANCESTORS only; and the Finish and Cancel forms may end on the host
    product's returnUrl (browsers hold a form's redirects to the page's form-action too)."""
    ancestors = settings.CONNECT_FRAME_ANCESTORS
    replace = {**getattr(response, "_csp_replace", {}), "frame-ancestors": ancestors or ["'none'"]}
    if connect_session is not None and connect_session.return_url:
        target = urlsplit(connect_session.return_url)
        replace["form-action"] = ["'self'", f"{target.scheme}://{target.netloc}"]
    response._csp_replace = replace
    if ancestors:
        response.xframe_options_exempt = True  # CSP frame-ancestors decides instead
    return response


class ConnectSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session_id = request.session.get(SESSION_KEY)
        if session_id is None:
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            if match is not None and match.url_name in FRAMEABLE_WITHOUT_SESSION:
                _connect_policy(response)
            return response
        connect_session = connect_session_get_open(session_id=session_id, user_id=request.user.pk)
        if connect_session is None:
            logout(request)
            ended = ApplicationError(
                "Your connect session has ended. Go back and start again.", status_code=401
            )
            return _connect_policy(_refusal(request, ended))
        request.connect_session = connect_session
        try:
            check_scope(connect_session, request)
        except ApplicationError as exc:
            return _connect_policy(_refusal(request, exc), connect_session)
        return _connect_policy(self.get_response(request), connect_session)
