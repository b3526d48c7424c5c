"""Staff pages: an integration's features, and the add/edit feature page.

The page's forms only collect input; ``features.services`` applies the same rules as the API and
its messages are shown next to the inputs they name.
"""

from __future__ import annotations

import re
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFound, ValidationFailed
from features import selectors, services
from features.forms import ExtraFieldFormSet, FeatureForm, FieldMappingForm
from features.handlers import SLOTS, split_reference
from features.models import FeatureMapping, FeatureTemplate

BLANK = "blank"
ERROR_PATH = re.compile(
    r"^(?:fieldMappings\.(?P<field>\w+)|extraFields\[(?P<index>\d+)\]|apiConfig)?\.?(?P<prop>\w+)?"
)
API_CONFIG_INPUTS = {"method": "method", "endpoint": "endpoint", "apiConfigId": "apiConfigId"}


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


class FeatureEditor:
    """The forms of one add/edit page: the feature, one row per template field, the extra fields."""

    def __init__(
        self, *, template: FeatureTemplate | None, mapping: FeatureMapping | None, data=None
    ) -> None:
        self.template = template
        self.mapping = mapping
        self.page_errors: list[str] = []
        existing_fields = mapping.field_mappings if mapping else {}
        self.existing_extras = {f["fieldKey"]: f for f in (mapping.extra_fields if mapping else [])}
        self.feature_form = FeatureForm(data, initial=self._feature_initial())
        self.field_rows = []
        for key, definition in (template.fields_by_key if template else {}).items():
            entry = existing_fields.get(key)
            initial = self._field_initial(entry, definition)
            form = FieldMappingForm(data, prefix=f"field-{key}", initial=initial)
            self.field_rows.append((key, definition, form))
        self.extra_formset = ExtraFieldFormSet(
            data, prefix="extra", initial=[self._extra_initial(f) for f in self.existing_extras.values()]
        )

    def _feature_initial(self) -> dict:
        if self.mapping:
            return {
                "featureTemplateName": self.mapping.feature_template_name,
                "status": self.mapping.status,
                "method": self.mapping.method,
                "endpoint": self.mapping.endpoint,
                "apiConfigId": self.mapping.api_config_id or "",
            }
        return {"featureTemplateName": self.template.name if self.template else "", "method": "POST"}

    @staticmethod
    def _handler_initial(handlers: dict | None) -> dict:
        return {slot: split_reference((handlers or {}).get(slot))[0] or "" for slot in SLOTS}

    def _field_initial(self, entry: dict | None, definition: dict) -> dict:
        if entry is None:  # a new feature starts with the template's required fields on
            return {"enabled": self.mapping is None and definition.get("required", False)}
        admin_value = entry.get("adminValue")
        return {
            "enabled": entry.get("enabled", True),
            "adminValue": "" if admin_value is None else admin_value,
            **self._handler_initial(entry.get("customHandlers")),
        }

    def _extra_initial(self, field: dict) -> dict:
        values = field.get("possibleValues") or []
        return {
            **{
                k: field.get(k)
                for k in ("fieldKey", "label", "type", "fieldType", "htmlType", "fillBy", "required", "order")
            },
            "possibleValues": "\n".join(f"{v['id']}|{v['label']}" for v in values),
            "adminValue": "" if field.get("adminValue") is None else field["adminValue"],
            **self._handler_initial(field.get("customHandlers")),
        }

    @staticmethod
    def _handlers(cleaned: dict, previous: dict | None) -> dict:
        """Chosen handler names; a handler kept unchanged keeps the parameters set through the API."""
        previous = previous or {}
        chosen = {}
        for slot in SLOTS:
            name = cleaned.get(slot) or None
            before = previous.get(slot)
            chosen[slot] = before if name and split_reference(before)[0] == name else name
        return chosen

    def is_valid(self) -> bool:
        forms_valid = [self.feature_form.is_valid(), self.extra_formset.is_valid()]
        forms_valid += [form.is_valid() for _, _, form in self.field_rows]
        return all(forms_valid)

    def payload(self) -> dict:
        feature = self.feature_form.cleaned_data
        existing_fields = self.mapping.field_mappings if self.mapping else {}
        field_mappings = {}
        for key, _definition, form in self.field_rows:
            previous = existing_fields.get(key) or {}
            field_mappings[key] = {
                "enabled": form.cleaned_data["enabled"],
                "overrides": previous.get("overrides"),
                "customHandlers": self._handlers(form.cleaned_data, previous.get("customHandlers")),
                "adminValue": form.cleaned_data["adminValue"] or None,
            }
        self.extra_forms = [
            form
            for form in self.extra_formset.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and not form.is_blank()
        ]
        extra_fields = []
        for position, form in enumerate(self.extra_forms, start=1):
            data = form.cleaned_data
            previous = self.existing_extras.get(data["fieldKey"], {})
            handlers = self._handlers(data, previous.get("customHandlers"))
            extra = {
                **{
                    k: data[k]
                    for k in ("fieldKey", "label", "type", "fieldType", "htmlType", "fillBy", "required")
                    if data[k] != ""
                },
                **{k: previous[k] for k in ("helpText", "placeholder") if k in previous},
                "possibleValues": data["possibleValues"],
                "customHandlers": handlers if any(handlers.values()) else None,
                "adminValue": data["adminValue"] or None,
                "order": data["order"] if data["order"] is not None else position,
            }
            extra_fields.append(extra)
        return {
            "feature_template_id": self.template.pk if self.template else None,
            "feature_template_name": feature["featureTemplateName"],
            "field_mappings": field_mappings,
            "api_config": {
                "apiConfigId": feature["apiConfigId"] or None,
                "method": feature["method"],
                "endpoint": feature["endpoint"],
            },
            "extra_fields": extra_fields,
            "status": feature["status"],
        }

    def attach_errors(self, errors: list[str]) -> None:
        """Put each rule's message next to the input its path names; the rest above the form."""
        rows = {key: form for key, _, form in self.field_rows}
        for message in errors:
            match = ERROR_PATH.match(message)
            prop = match.group("prop") if match else None
            if match and match.group("field") in rows:
                form = rows[match.group("field")]
                name = next((slot for slot in SLOTS if f".customHandlers.{slot}" in message), prop)
                form.add_error(name if name in form.fields else None, message)
            elif (
                match
                and match.group("index") is not None
                and int(match.group("index")) < len(self.extra_forms)
            ):
                form = self.extra_forms[int(match.group("index"))]
                name = next((slot for slot in SLOTS if f".customHandlers.{slot}" in message), prop)
                form.add_error(name if name in form.fields else None, message)
            elif message.startswith("apiConfig.") and prop in API_CONFIG_INPUTS:
                self.feature_form.add_error(API_CONFIG_INPUTS[prop], message)
            elif prop in ("featureTemplateName", "status") and message.startswith(prop):
                self.feature_form.add_error(prop, message)
            else:
                self.page_errors.append(message)

    @property
    def has_errors(self) -> bool:
        forms = [self.feature_form, *(form for _, _, form in self.field_rows), *self.extra_formset.forms]
        return bool(self.page_errors) or any(form.is_bound and form.errors for form in forms)

    def save(self, integration) -> FeatureMapping | None:
        payload = self.payload()
        try:
            if self.mapping:
                return services.feature_mapping_update(mapping=self.mapping, **payload)
            return services.feature_mapping_create(integration=integration, **payload)
        except ValidationFailed as exc:
            self.attach_errors(exc.errors or [])
        except ApplicationError as exc:
            self.page_errors.append(exc.message)
        return None


def _with_another_extra_row(data):
    """The posted data with one more (empty) extra-field row: 'Add a field' without JavaScript."""
    data = data.copy()
    total = data.get("extra-TOTAL_FORMS", "0")
    data["extra-TOTAL_FORMS"] = str(int(total) + 1 if total.isdigit() else 1)
    return data


def _editor_page(request, integration, *, template, mapping):
    data = request.POST if request.method == "POST" else None
    if data is not None and "add_extra" in data:
        editor = FeatureEditor(template=template, mapping=mapping, data=_with_another_extra_row(data))
        editor.is_valid()  # show the rows as typed; nothing is saved
        editor.feature_form.errors.clear()
        for _, _, form in editor.field_rows:
            form.errors.clear()
        for form in editor.extra_formset.forms:
            form.errors.clear()
        return render(request, "features/feature_form.html", _context(integration, editor))
    editor = FeatureEditor(template=template, mapping=mapping, data=data)
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
    }


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
