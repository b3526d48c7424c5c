"""Staff pages: an integration's features, and the add/edit feature page.

The page's forms only collect input; ``features.services`` applies the same rules as the API and
its messages are shown next to the inputs they name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFound
from features import selectors, services
from features.forms import FeatureEditor
from features.models import FeatureMapping, FeatureTemplate
from features.runs import feature_draft_try, feature_try_choices

BLANK = "blank"


def operator_required(view):
    """Signed-out visitors go to the login page; signed-in end users get 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _integration(integration_id: str):
    try:
        return selectors.feature_integration_get(integration_id=integration_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _mapping(integration, mapping_id: str) -> FeatureMapping:
    try:
        return selectors.feature_mapping_get(integration=integration, mapping_id=mapping_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _editor_page(request, integration, *, template, mapping):
    data = request.POST if request.method == "POST" else None
    if data is not None and "add_extra" in data:
        editor = FeatureEditor.with_another_extra_row(template=template, mapping=mapping, data=data)
        return render(request, "features/feature_form.html", _context(integration, editor))
    editor = FeatureEditor(template=template, mapping=mapping, data=data)
    if data is not None and "try" in data:
        trial = _try_it(request, integration, editor)
        context = {**_context(integration, editor), "trial": trial}
        return render(request, "features/feature_form.html", context, status=200 if trial.ok else 400)
    if data is not None and editor.is_valid():
        saved = editor.save(integration)
        if saved is not None:
            verb = "updated" if mapping else "added"
            messages.success(request, f"Feature “{saved.feature_template_name}” {verb}.")
            return redirect("features:list", integration.pk)
    status = 400 if data is not None else 200
    return render(request, "features/feature_form.html", _context(integration, editor), status=status)


def _context(integration, editor: FeatureEditor) -> dict:
    return {
        "integration": integration,
        "editor": editor,
        "template": editor.template,
        "mapping": editor.mapping,
        "try_connections": feature_try_choices(integration_id=integration.pk),
    }


@dataclass
class Trial:
    """The "Try it with a connection" panel's state: what was asked and what came back."""

    connection_id: str
    input_text: str
    result: dict | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def body_text(self) -> str:
        body = (self.result or {}).get("body")
        return (
            json.dumps(body, indent=2, ensure_ascii=False)
            if isinstance(body, (dict, list))
            else str(body or "")
        )


def _try_it(request, integration, editor: FeatureEditor) -> Trial:
    """Run the feature as the form now describes it (saved or not) through the chosen connection."""
    trial = Trial(
        connection_id=request.POST.get("try_connection", ""), input_text=request.POST.get("try_input", "")
    )
    try:
        user_input = json.loads(trial.input_text or "{}")
    except ValueError:
        user_input = None
    if not isinstance(user_input, dict):
        trial.errors.append('The sample input must be a JSON object, such as {"email": "ada@example.com"}')
    if not trial.connection_id:
        trial.errors.append("Choose a connection")
    if not editor.is_valid():
        trial.errors.append("Fix the problems marked below first")
    if trial.errors:
        return trial
    draft = editor.mapping or FeatureMapping(integration=integration)
    try:
        services.feature_mapping_draft(mapping=draft, **editor.payload())
        trial.result = feature_draft_try(
            operator=request.user, connection_id=trial.connection_id, mapping=draft, user_input=user_input
        )
    except ApplicationError as exc:
        trial.errors += exc.errors or [f"{exc.message}: {exc.error}" if exc.error else exc.message]
    return trial


@operator_required
def feature_list(request, integration_id: str):
    integration = _integration(integration_id)
    mappings = selectors.feature_mapping_list(integration=integration)
    return render(request, "features/feature_list.html", {"integration": integration, "mappings": mappings})


@operator_required
def feature_add(request, integration_id: str):
    integration = _integration(integration_id)
    choice = request.GET.get("template", "")
    if not choice:
        templates = selectors.feature_template_list()
        return render(
            request, "features/feature_start.html", {"integration": integration, "templates": templates}
        )
    template = None
    if choice != BLANK:
        template = FeatureTemplate.objects.filter(pk=choice).first()
        if template is None:
            raise Http404("Feature template not found")
    return _editor_page(request, integration, template=template, mapping=None)


@operator_required
def feature_edit(request, integration_id: str, mapping_id: str):
    integration = _integration(integration_id)
    mapping = _mapping(integration, mapping_id)
    return _editor_page(request, integration, template=mapping.feature_template, mapping=mapping)


@require_POST
@operator_required
def feature_delete(request, integration_id: str, mapping_id: str):
    integration = _integration(integration_id)
    mapping = _mapping(integration, mapping_id)
    services.feature_mapping_delete(mapping=mapping)
    messages.success(request, f"Feature “{mapping.feature_template_name}” deleted.")
    return redirect("features:list", integration.pk)
