"""The end user's pages: the connection wizard and My Connections.

Every page works as plain HTML forms; ``static/js`` adds live filtering, showWhen fields and live
connection tests on top. Secrets never travel back to the browser: the wizard saves the
connection at step 3 and reviews the stored (masked) connection at step 4.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from connections.connect.services import connect_session_connections
from connections.connect.views import connect_session_leave
from connections.forms import CREDENTIALS, NAME_FIELD, VARIABLES, ConnectionForm, initial_values
from connections.models import CheckRun, Connection
from connections.oauth.clients import oauth_callback_url, oauth_configured_methods
from connections.oauth.flow import oauth_flow_finish, oauth_flow_start, return_url_with_result
from connections.oauth.revocation import connection_delete_permanently_and_revoke
from connections.selectors import connection_credentials, connection_get_for_actor, connection_list_for_user
from connections.services import (
    ConnectionChanges,
    connection_create,
    connection_create_idempotent,
    connection_delete,
    connection_reactivate,
    connection_update,
    idempotency_fingerprint,
)
from connections.test_run_services import test_run_create
from connections.wizard_drafts import (
    wizard_draft_end,
    wizard_draft_idempotency_key,
    wizard_draft_keep_secrets,
    wizard_draft_new_token,
    wizard_draft_secrets,
)
from core.errors import ApplicationError, NotFound, ValidationFailed
from integrations.documents import is_secret_field, is_sign_in_method, provider_variables
from integrations.models import Integration, category_label
from integrations.selectors import integration_list

STEP_LABELS = ("Integration", "Authentication", "Details", "Review & test")
# Connection cards on one page of My Connections.
PAGE_SIZE = 50


# --- Shared pieces --------------------------------------------------------------------------


def _owned_connection(request: HttpRequest, connection_id: str) -> Connection:
    """The signed-in user's own connection. Operators manage other people's in the admin."""
    try:
        connection = connection_get_for_actor(actor=request.user, connection_id=connection_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if connection.user_id != request.user.pk:
        raise Http404("Connection not found")
    return connection


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _steps(step: int, *, urls: tuple[str | None, ...]) -> dict:
    return {"step": step, "steps": [(n + 1, label, urls[n]) for n, label in enumerate(STEP_LABELS)]}


def _save_errors(form: ConnectionForm, exc: ApplicationError) -> None:
    if isinstance(exc, ValidationFailed):
        form.add_service_errors(exc.errors or [exc.message])
    else:
        form.add_error(None, exc.message)


def _error_count(form: ConnectionForm) -> int:
    return sum(len(errors) for errors in form.errors.values())


def _test_result(connection: Connection) -> dict | None:
    if not connection.last_test_status:
        return None
    return {
        "status": connection.last_test_status,
        "message": connection.last_test_message,
        "date": connection.last_test_date,
    }


# --- The wizard: create ---------------------------------------------------------------------


@login_required
def connection_wizard(request: HttpRequest) -> HttpResponse:
    """Steps 1–3 of a new connection, driven by query parameters so every step is a plain link:
    ``?integration=<id>`` then ``&authMethod=<id>``. ``?mode=edit&connectionId=…`` edits one."""
    if request.GET.get("mode") == "edit":
        return connection_edit(request, connection_id=request.GET.get("connectionId", ""))
    integration_id = request.GET.get("integration", "")
    if not integration_id:
        return _choose_integration(request)
    integration = Integration.objects.filter(pk=integration_id, status=Integration.Status.ACTIVE).first()
    if integration is None:
        raise Http404("Integration not found")
    method_id = request.GET.get("authMethod", "")
    only_method = len(integration.auth_methods) == 1
    if not method_id and only_method:  # nothing to choose: step 2 is skipped
        return redirect(
            f"{request.path}?{urlencode({'integration': integration.pk, 'authMethod': integration.auth_methods[0]['id']})}"
        )
    if not method_id:
        return _choose_auth_method(request, integration)
    auth_method = integration.auth_method(method_id)
    if auth_method is None:
        raise Http404("Authentication method not found")
    if is_sign_in_method(auth_method):
        return _sign_in_step(request, integration, auth_method)

    draft = request.POST.get("draft") or wizard_draft_new_token()
    kept = wizard_draft_secrets(session=request.session, token=draft) if request.method == "POST" else {}
    form = ConnectionForm(
        request.POST or None,
        auth_method=auth_method,
        initial={NAME_FIELD: integration.display_name},
        kept=frozenset(kept),
    )
    duplicate = None
    if request.method == "POST" and form.is_valid():
        try:
            return _create_from_draft(request, integration, method_id, form, draft=draft, kept=kept)
        except _SameName as same:
            duplicate = same.connection
        except ApplicationError as exc:
            _save_errors(form, exc)
    if request.method == "POST":
        _keep_draft_secrets(request, form, draft=draft, kept=kept)
    start = request.path
    method_step = None if only_method else f"{start}?integration={integration.pk}"
    return render(
        request,
        "connections/wizard/configure.html",
        {
            **_steps(3, urls=(start, method_step, None, None)),
            "integration": integration,
            "auth_method": auth_method,
            "form": form,
            "error_count": _error_count(form),
            "reenter": form.secrets_to_reenter() if form.errors else [],
            "draft": draft,
            "duplicate": duplicate,
            "back_url": method_step or start,
        },
    )


class _SameName(Exception):
    """The user already has an active connection with this integration and name."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.connection_id)
        self.connection = connection


def _refuse_same_name(request: HttpRequest, integration: Integration, name: str) -> None:
    """Ask before a second connection with the same integration and name, unless the user
    already chose "Create it anyway"."""
    if request.POST.get("allow_duplicate"):
        return
    existing = Connection.objects.filter(
        user=request.user,
        integration=integration,
        connection_name=name.strip() or integration.display_name,
        status=Connection.Status.ACTIVE,
    ).first()
    if existing is not None:
        raise _SameName(existing)


def _create_from_draft(
    request: HttpRequest,
    integration: Integration,
    method_id: str,
    form: ConnectionForm,
    *,
    draft: str,
    kept: dict,
) -> HttpResponse | None:
    """Create the draft's one connection and go to its review (post/redirect/get); None when
    the services refused it (their errors are on ``form``). A draft that was saved already —
    Back, then submit again — leads to the connection it made instead of a second one."""
    shown = form.values_for_update(CREDENTIALS)
    credentials = {**{n: v for n, v in kept.items() if n in shown}, **form.credentials}
    made = []

    def create() -> Connection:
        _refuse_same_name(request, integration, form.cleaned_data[NAME_FIELD] or "")
        made.append(
            connection_create(
                actor=request.user,
                user=request.user,
                integration_id=integration.pk,
                auth_method_id=method_id,
                connection_name=form.cleaned_data[NAME_FIELD],
                credentials=credentials,
                configured_variables=form.configured_variables,
            )
        )
        return made[0]

    connection = connection_create_idempotent(
        actor=request.user,
        idempotency_key=wizard_draft_idempotency_key(token=draft),
        # Any resubmit of the draft is the same create, whatever was changed on the way back.
        request_fingerprint=idempotency_fingerprint({"wizardDraft": draft}),
        create=create,
    )
    wizard_draft_end(session=request.session, token=draft)
    if not made:
        messages.info(
            request,
            f"“{connection.connection_name}” was already saved, so no second connection was created. "
            "Edit it here to change anything.",
        )
    elif request.POST.get("then") == "test":
        _test_now(request, connection)
    return redirect("connection-review", connection_id=connection.connection_id)


def _test_now(request: HttpRequest, connection: Connection) -> None:
    """Test in this request (no worker needed) and say how it went in a toast."""
    run = test_run_create(connection=connection, actor=request.user, trigger=CheckRun.Trigger.PAGE)
    if run.status == "success":
        messages.success(request, f"{connection.connection_name}: connection test successful.")
    else:
        messages.error(request, f"{connection.connection_name}: connection test failed — {run.error_message}")


def _keep_draft_secrets(request: HttpRequest, form: ConnectionForm, *, draft: str, kept: dict) -> None:
    """After a refused submit: keep the secrets the user typed (or had kept) for the draft,
    except those the services rejected, and show them as kept."""
    rejected = {form.specs[key][1]["name"] for key in form.errors if key in form.specs}
    values = {n: v for n, v in {**kept, **form.secrets_typed()}.items() if n not in rejected}
    wizard_draft_keep_secrets(session=request.session, token=draft, values=values)
    form.mark_kept(frozenset(values))


def _choose_integration(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    category = request.GET.get("category", "")
    integrations = integration_list(category=category or None, q=query)
    connect_session = getattr(request, "connect_session", None)
    if connect_session is not None and connect_session.integration_ids:
        integrations = integrations.filter(pk__in=connect_session.integration_ids)
    return render(
        request,
        "connections/wizard/choose_integration.html",
        {
            **_steps(1, urls=(None, None, None, None)),
            "integrations": list(integrations),
            "categories": [
                (value, category_label(value))
                for value in integration_list()
                .order_by("category")
                .values_list("category", flat=True)
                .distinct()
            ],
            "query": query,
            "category": category,
        },
    )


def _choose_auth_method(
    request: HttpRequest, integration: Integration, *, connection: Connection | None = None
):
    if connection is None:
        base, back = f"{request.path}?integration={integration.pk}&", request.path
        urls = (request.path, None, None, None)
    else:
        base = back = reverse("connection-edit", args=[connection.connection_id])
        base += "?"
        urls = (None, None, back, None)
    return render(
        request,
        "connections/wizard/choose_auth_method.html",
        {
            **_steps(2, urls=urls),
            "integration": integration,
            "connection": connection,
            "editing": connection is not None,
            "current_method_id": connection.auth_method_id if connection else None,
            "sign_in_methods": {m["id"] for m in integration.auth_methods if is_sign_in_method(m)},
            "configured_methods": oauth_configured_methods(integration=integration),
            "method_base_url": base,
            "back_url": back,
        },
    )


# --- The wizard: edit -----------------------------------------------------------------------


@login_required
def connection_edit(request: HttpRequest, connection_id: str) -> HttpResponse:
    """Step 3 pre-filled from the stored connection. Secret inputs start empty; left empty they
    keep the stored value. ``?step=auth`` picks another auth method, ``?authMethod=`` uses it."""
    connection = _owned_connection(request, connection_id)
    integration = connection.integration
    if request.GET.get("step") == "auth":
        return _choose_auth_method(request, integration, connection=connection)
    method_id = request.GET.get("authMethod") or connection.auth_method_id
    auth_method = integration.auth_method(method_id)
    if auth_method is None:
        raise Http404("Authentication method not found")
    if is_sign_in_method(auth_method):
        return _sign_in_step(request, integration, auth_method, connection=connection)
    same_method = method_id == connection.auth_method_id
    stored = connection_credentials(connection=connection) if same_method else {}
    form = ConnectionForm(
        request.POST or None,
        auth_method=auth_method,
        editing=same_method,
        initial=initial_values(
            auth_method=auth_method,
            connection_name=connection.connection_name,
            configured_variables=connection.configured_variables,
            credentials=stored,
        ),
    )
    if request.method == "POST" and form.is_valid():
        try:
            connection_update(
                connection=connection,
                actor=request.user,
                changes=ConnectionChanges(
                    connection_name=form.cleaned_data[NAME_FIELD],
                    auth_method_id=method_id,
                    # Blank inputs are sent too, so clearing an optional value clears it; a
                    # blank secret is the service's cue to keep the stored one.
                    credentials=form.values_for_update(CREDENTIALS),
                    configured_variables=form.values_for_update(VARIABLES),
                ),
            )
        except ApplicationError as exc:
            _save_errors(form, exc)
        else:
            messages.success(request, "Changes saved.")
            return redirect(reverse("connection-review", args=[connection.connection_id]) + "?edited=1")
    edit_url = reverse("connection-edit", args=[connection.connection_id])
    return render(
        request,
        "connections/wizard/configure.html",
        {
            **_steps(3, urls=(None, f"{edit_url}?step=auth", None, None)),
            "editing": True,
            "connection": connection,
            "integration": integration,
            "auth_method": auth_method,
            "form": form,
            "error_count": _error_count(form),
            "back_url": reverse("my-connections"),
        },
    )


# --- The wizard: review & test --------------------------------------------------------------


def _shown_value(spec: dict, value):
    """A select's option label rather than its value ("United States", not "us")."""
    labels = {str(o.get("value")): o.get("label") for o in spec.get("options") or []}
    return labels.get(str(value)) or value


def _summary(connection: Connection, auth_method: dict | None, credentials: dict) -> list[dict]:
    """Label/value rows of what is stored; secrets only say that they are set."""
    rows = [
        {"label": "Integration", "value": connection.integration.display_name},
        {"label": "Authentication", "value": connection.auth_method_label},
    ]
    method = auth_method or {}
    for specs, stored in (
        (method.get("fields", []), credentials),
        (method.get("additionalFields", []), connection.configured_variables),
    ):
        for spec in specs:
            if spec["name"] in stored:
                secret = is_secret_field(spec)
                rows.append(
                    {
                        "label": spec["label"],
                        "secret": secret,
                        "value": "" if secret else _shown_value(spec, stored[spec["name"]]),
                    }
                )
    return rows


@login_required
def connection_review(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _owned_connection(request, connection_id)
    edit_url = reverse("connection-edit", args=[connection.connection_id])
    return render(
        request,
        "connections/wizard/review.html",
        {
            **_steps(4, urls=(None, f"{edit_url}?step=auth", edit_url, None)),
            "editing": request.GET.get("edited") == "1",
            "connection": connection,
            "integration": connection.integration,
            "summary": _summary(
                connection,
                connection.integration.auth_method(connection.auth_method_id),
                connection_credentials(connection=connection),
            ),
            "test_result": _test_result(connection),
        },
    )


# --- My Connections -------------------------------------------------------------------------


def _fix_url(connection: Connection) -> str:
    """Where "Reconnect / Fix" leads for a failing connection: its details, to correct them."""
    return reverse("connection-edit", args=[connection.connection_id])


@login_required
def my_connections(request: HttpRequest) -> HttpResponse:
    """Newest first, PAGE_SIZE cards a page; "Older connections" follows the cursor."""
    status = request.GET.get("status", "")
    status = status if status in Connection.Status.values else ""
    integration_id = request.GET.get("integration", "")
    query = request.GET.get("q", "").strip()
    connect_session = getattr(request, "connect_session", None)
    within = connect_session_connections(connect_session) if connect_session else Q()
    try:
        page = connection_list_for_user(
            user=request.user,
            status=status or None,
            integration_id=integration_id or None,
            q=query,
            limit=PAGE_SIZE,
            cursor=request.GET.get("cursor") or None,
            newest_first=True,
            within=within,
        )
    except ValidationFailed as exc:  # a cursor edited by hand
        raise Http404(exc.errors[0]) from exc
    for connection in page.items:
        connection.test_result = _test_result(connection)
        connection.fix_url = _fix_url(connection)
    filters = {"status": status, "integration": integration_id, "q": query}
    kept = {name: value for name, value in filters.items() if value}
    return render(
        request,
        "connections/my_connections.html",
        {
            "connections": page.items,
            "stats": page.stats,
            "total": page.total,
            "filters": filters,
            "filtered": bool(kept),
            "older_url": f"?{urlencode({**kept, 'cursor': page.next_cursor})}" if page.next_cursor else None,
            "newest_url": f"?{urlencode(kept)}" if request.GET.get("cursor") else None,
            "integration_choices": Integration.objects.filter(
                Exists(
                    Connection.objects.filter(
                        within, user=request.user, integration=OuterRef("pk"), deleted_at__isnull=True
                    )
                )
            ),
        },
    )


@login_required
def connection_delete_view(request: HttpRequest, connection_id: str) -> HttpResponse:
    """Deactivate (reversible) or, with ``action=permanent``, delete for good."""
    connection = _owned_connection(request, connection_id)
    if request.method == "POST":
        name = connection.connection_name
        if request.POST.get("action") == "permanent":
            connection_delete_permanently_and_revoke(connection=connection, actor=request.user)
            messages.success(request, f"“{name}” was deleted permanently; its saved credentials were erased.")
        else:
            connection_delete(connection=connection, actor=request.user)
            messages.success(request, f"“{name}” was deactivated. You can reactivate it at any time.")
        return redirect("my-connections")
    return render(request, "connections/confirm_delete.html", {"connection": connection})


@login_required
@require_POST
def connection_reactivate_view(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _owned_connection(request, connection_id)
    try:
        connection_reactivate(connection=connection, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{connection.connection_name}” is active again.")
    return redirect(_next_url(request, reverse("my-connections")))


@login_required
@require_POST
def connection_test_view(request: HttpRequest, connection_id: str) -> HttpResponse:
    """The Test button without JavaScript: run the test now, then show the page again with the
    result (the connection's last test) and a toast. With JavaScript the button uses the API's
    ``?async=true`` and polls instead."""
    connection = _owned_connection(request, connection_id)
    _test_now(request, connection)
    return redirect(_next_url(request, reverse("my-connections")))


# --- Sign-in connections (OAuth 2.0 authorization code) ---------------------------------------


def _send_to_provider(request: HttpRequest, integration: Integration, url: str) -> HttpResponse:
    """A page that moves on to the provider at once. A redirect would do, but the CSP's
    form-action 'self' also covers redirects after a form post, so the page hands over instead
    (works without JavaScript; the link is there if the browser does not follow the refresh)."""
    return render(request, "connections/oauth/redirect.html", {"integration": integration, "url": url})


def _sign_in_step(
    request: HttpRequest, integration: Integration, auth_method: dict, *, connection: Connection | None = None
) -> HttpResponse:
    """Step 3 of a sign-in method: the settings the provider does not supply, then "Sign in with
    <provider>". Editing a sign-in connection signs in again (reconnect) with the same settings."""
    pending = provider_variables(auth_method)
    asked = {
        **auth_method,
        "fields": [],
        "additionalFields": [f for f in auth_method.get("additionalFields", []) if f["name"] not in pending],
    }
    initial = {NAME_FIELD: connection.connection_name if connection else integration.display_name}
    if connection:
        initial |= initial_values(
            auth_method=asked,
            connection_name=connection.connection_name,
            configured_variables=connection.configured_variables,
            credentials={},
        )
    form = ConnectionForm(request.POST or None, auth_method=asked, initial=initial)
    configured = auth_method["id"] in oauth_configured_methods(integration=integration)
    if request.method == "POST" and configured and form.is_valid():
        try:
            started = oauth_flow_start(
                actor=request.user,
                user=request.user,
                integration_id=integration.pk,
                auth_method_id=auth_method["id"],
                redirect_uri=oauth_callback_url(request=request),
                connection_name=form.cleaned_data[NAME_FIELD],
                configured_variables=form.configured_variables,
                connection_id=connection.connection_id if connection else None,
            )
        except ApplicationError as exc:
            _save_errors(form, exc)
        else:
            return _send_to_provider(request, integration, started.authorization_url)
    start = reverse("connection-new")
    # With one method there is no step 2 to go back to.
    back = start if len(integration.auth_methods) == 1 else f"{start}?integration={integration.pk}"
    return render(
        request,
        "connections/wizard/sign_in.html",
        {
            **_steps(3, urls=(start, back, None, None)),
            "editing": connection is not None,
            "connection": connection,
            "integration": integration,
            "auth_method": auth_method,
            "configured": configured,
            "form": form,
            "error_count": _error_count(form),
            "back_url": reverse("my-connections") if connection else back,
        },
    )


@login_required
@require_POST
def connection_reconnect_view(request: HttpRequest, connection_id: str) -> HttpResponse:
    """Sign in at the provider again for this connection: new tokens, same id, name and history."""
    connection = _owned_connection(request, connection_id)
    try:
        started = oauth_flow_start(
            actor=request.user,
            user=request.user,
            integration_id=connection.integration_id,
            auth_method_id=connection.auth_method_id,
            redirect_uri=oauth_callback_url(request=request),
            connection_id=connection.connection_id,
        )
    except ApplicationError as exc:
        messages.error(
            request, f"{connection.connection_name}: cannot reconnect — {exc.error or exc.message}"
        )
        return redirect("my-connections")
    return _send_to_provider(request, connection.integration, started.authorization_url)


def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where every provider sends the user back (``PUBLIC_URL`` + ``/oauth/callback``). No sign-in
    required: a host product's user may not have a session here; the state says who it is for."""
    try:
        finish = oauth_flow_finish(
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            error=request.GET.get("error", ""),
            error_description=request.GET.get("error_description", ""),
            session_user=request.user if request.user.is_authenticated else None,
        )
    except ApplicationError as exc:
        return render(request, "connections/oauth/failed.html", {"message": exc.message}, status=400)
    if finish.connection.status == Connection.Status.ACTIVE:
        finish = replace(finish, test_run=test_run_create(connection=finish.connection, actor=finish.actor))
    if getattr(request, "connect_session", None) is not None:
        # Signed in from a host product's connect link: straight back to its returnUrl.
        return connect_session_leave(request, finish.connection)
    if finish.return_url:
        return redirect(return_url_with_result(finish))
    connection = finish.connection
    verb = "reconnected" if finish.reconnected else "connected"
    run = finish.test_run
    if run is None or run.status == "success":
        messages.success(request, f"“{connection.connection_name}” is {verb} and its test passed.")
    else:
        messages.warning(
            request, f"“{connection.connection_name}” is {verb}, but its test failed: {run.error_message}"
        )
    return redirect("my-connections")
