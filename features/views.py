"""Staff pages: an integration's features, and the add/edit feature page.

The page's forms only collect input; ``features.services`` applies the same rules as the API and
its messages are shown next to the inputs they name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import urlencode

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
from features.preview import feature_mapping_preview
from features.runs import feature_draft_try, feature_try_choices

BLANK = "blank"
SAMPLE_INPUT = "try_input"  # shared by the preview and "Try it with a connection"
SAMPLE_INPUT_RULE = 'The sample input must be a JSON object, such as {"email": "ada@example.com"}'
PREVIEW_HEADER = "X-Feature-Preview"


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
        # That editor's errors are cleared: the preview checks the form as typed.
        as_typed = FeatureEditor(template=template, mapping=mapping, data=data)
        return _render(request, integration, editor, preview_of=as_typed)
    editor = FeatureEditor(template=template, mapping=mapping, data=data)
    if data is not None and "preview" in data:
        if request.headers.get(PREVIEW_HEADER):  # the page's script refreshing only the panel
            preview = _preview(integration, editor, data.get(SAMPLE_INPUT))
            return render(request, "features/_preview.html", {"preview": preview})
        return _render(request, integration, editor, action="preview")
    if data is not None and "try" in data:
        trial = _try_it(request, integration, editor)
        return _render(
            request, integration, editor, action="try", trial=trial, status=200 if trial.ok else 400
        )
    if data is not None and editor.is_valid():
        saved = editor.save(integration)
        if saved is not None:
            verb = "updated" if mapping else "added"
            messages.success(request, f"Feature “{saved.feature_template_name}” {verb}.")
            return redirect("features:list", integration.pk)
    return _render(request, integration, editor, status=400 if data is not None else 200)


def _render(
    request, integration, editor: FeatureEditor, *, action="save", trial=None, status=200, preview_of=None
):
    sample = request.POST.get(SAMPLE_INPUT) if request.method == "POST" else None
    context = {
        "integration": integration,
        "editor": editor,
        "template": editor.template,
        "mapping": editor.mapping,
        "action": action,
        "trial": trial,
        "preview": _preview(integration, preview_of or editor, sample),
        "try_connections": feature_try_choices(integration_id=integration.pk),
    }
    return render(request, "features/feature_form.html", context, status=status)


@dataclass
class RequestPreview:
    """The "Preview the request" panel: what the form as it stands would send for the sample
    input — computed by the API's preview, never sent."""

    input_text: str
    request: dict | None = None
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    steps: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        query = urlencode((self.request or {}).get("query") or {}, doseq=True)
        return f"{self.request['method']} {self.request['path']}" + (f"?{query}" if query else "")

    @property
    def body_text(self) -> str:
        body = (self.request or {}).get("body")
        return "" if body is None else json.dumps(body, indent=2, ensure_ascii=False)


def _sample_input(text: str) -> dict | None:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _preview(integration, editor: FeatureEditor, input_text: str | None) -> RequestPreview:
    if input_text is None:
        input_text = json.dumps(editor.sample_input(), indent=2, ensure_ascii=False)
    preview = RequestPreview(input_text=input_text)
    user_input = _sample_input(input_text)
    if user_input is None:
        preview.problems.append(SAMPLE_INPUT_RULE)
    if not editor.is_bound:
        draft = editor.mapping
        if draft is None:
            preview.problems.append("Fill in the endpoint path and turn on fields: the request appears here.")
    elif editor.is_valid():
        draft = FeatureMapping(integration=integration)
        try:
            services.feature_mapping_draft(mapping=draft, **editor.payload())
        except ApplicationError as exc:
            preview.problems += exc.errors or [exc.message]
    else:
        preview.problems += editor.problems()
    if preview.problems:
        return preview
    result = feature_mapping_preview(mapping=draft, user_input=user_input)
    preview.request = result["request"]
    preview.problems = result["validationErrors"]
    preview.ignored = result["ignoredInput"]
    preview.steps = result["steps"]
    return preview


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
        connection_id=request.POST.get("try_connection", ""), input_text=request.POST.get(SAMPLE_INPUT, "")
    )
    user_input = _sample_input(trial.input_text)
    if user_input is None:
        trial.errors.append(SAMPLE_INPUT_RULE)
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
def feature_index(request):
    integrations = selectors.feature_integration_list()
    return render(request, "features/feature_index.html", {"integrations": integrations})


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
