"""Forms: the admin's template editor and the add-feature page.

The page's forms only parse what a browser sends into the API's payload shape; the rules live
in ``features/mapping_rules.py`` and run through the same services as the API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django import forms

from core.errors import ApplicationError, ValidationFailed
from features import services
from features.handlers import REGISTRY, REQUIRED, SLOTS, Param, handlers_of_kind, split_reference
from features.mapping_rules import METHODS
from features.models import FeatureMapping, FeatureTemplate
from features.preview import feature_sample_input
from features.template_files import fields_as_list, fields_errors
from features.vocabulary import FIELD_TYPES, FILL_BY, HTML_TYPES, TYPES


class TemplateFieldsJSONField(forms.JSONField):
    """Shows ``fields`` as the file writes it ({key: definition}); stores the ordered list."""

    def prepare_value(self, value):
        if isinstance(value, list):
            value = {
                item["key"]: {k: v for k, v in item.items() if k != "key"} for item in value if "key" in item
            }
        return json.dumps(value, indent=2, ensure_ascii=False)


class FeatureTemplateAdminForm(forms.ModelForm):
    fields = TemplateFieldsJSONField(
        help_text=(
            'Field definitions by key: {"first_name": {"type": "static", "label": "First Name", "required": true, '
            '"fieldType": "string", "htmlType": "text", "fillBy": "User"}}. See GET /api/field-types. '
            "An edit here lasts until the template's file in features/templates_data changes."
        )
    )

    class Meta:
        model = FeatureTemplate
        fields = ["id", "name", "description", "category", "fields"]

    def clean_fields(self):
        value = self.cleaned_data["fields"]
        errors = fields_errors(value, path="fields")
        if errors:
            raise forms.ValidationError(errors)
        return fields_as_list(value)


def _handler_choices(kind: str) -> list[tuple[str, str]]:
    return [("", "— none —")] + [(h.name, h.name) for h in handlers_of_kind(kind)]


def _choices(vocabulary: dict) -> list[tuple[str, str]]:
    return [(key, key) for key in vocabulary]


PARAMS_SHOWN = "handlerParams"  # marks a post from the page, which carries every parameter input


def param_field_name(slot: str, handler_name: str, param_name: str) -> str:
    return f"{slot}-{handler_name}-{param_name}"


def _param_label(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).capitalize()


def _param_field(param: Param) -> forms.Field:
    if param.type is bool:
        return forms.BooleanField(label=_param_label(param.name), required=False, help_text=param.description)
    default = "" if param.default in (REQUIRED, None) else f"default {param.default}"
    attrs = {"placeholder": default, "spellcheck": "false", "autocomplete": "off"}
    if param.type is int:
        attrs["inputmode"] = "numeric"
    label = _param_label(param.name) + (" (required)" if param.default is REQUIRED else "")
    return forms.CharField(
        label=label,
        required=False,
        max_length=200,
        help_text=param.description,
        widget=forms.TextInput(attrs),
    )


@dataclass(frozen=True)
class ParamGroup:
    """The parameter inputs of one handler, shown while that handler is chosen in its slot."""

    handler: str
    fields: list
    shown: bool


@dataclass(frozen=True)
class HandlerCell:
    slot: str
    select: forms.BoundField
    groups: list[ParamGroup]


class HandlerSelects(forms.Form):
    """The three handler slots as selects offering the registry's handlers of the right kind, each
    with inputs for the parameters of the handlers that take some (renameTo's key, nestUnder's path)."""

    valueHandler = forms.ChoiceField(label="Value handler", required=False)
    validationHandler = forms.ChoiceField(label="Validation handler", required=False)
    submitHandler = forms.ChoiceField(label="Submit handler", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for slot, kind in SLOTS.items():
            self.fields[slot].choices = _handler_choices(kind)
            self.fields[slot].widget.attrs["data-handler-select"] = slot
            for handler in handlers_of_kind(kind):
                for param in handler.params:
                    self.fields[param_field_name(slot, handler.name, param.name)] = _param_field(param)

    @property
    def handler_cells(self) -> list[HandlerCell]:
        cells = []
        for slot, kind in SLOTS.items():
            chosen = self[slot].value() or ""
            groups = [
                ParamGroup(
                    handler=handler.name,
                    fields=[self[param_field_name(slot, handler.name, p.name)] for p in handler.params],
                    shown=handler.name == chosen,
                )
                for handler in handlers_of_kind(kind)
                if handler.params
            ]
            cells.append(HandlerCell(slot=slot, select=self[slot], groups=groups))
        return cells

    @staticmethod
    def initial_for(handlers: dict | None) -> dict:
        """Initial select and parameter values from stored references (names or {name, params})."""
        initial = {}
        for slot in SLOTS:
            name, raw_params = split_reference((handlers or {}).get(slot))
            initial[slot] = name or ""
            if name in REGISTRY and isinstance(raw_params, dict):
                for param in REGISTRY[name].params:
                    if param.name in raw_params:
                        value = raw_params[param.name]
                        initial[param_field_name(slot, name, param.name)] = (
                            value if param.type is bool else str(value)
                        )
        return initial

    def references(self, previous: dict | None) -> dict:
        """The chosen handler per slot: a name, or {name, params} when parameters are set. A post
        without the parameter inputs (an older page, a script) keeps the parameters a handler had."""
        previous = previous or {}
        carried = self.add_prefix(PARAMS_SHOWN) in self.data
        chosen = {}
        for slot in SLOTS:
            name = self.cleaned_data.get(slot) or None
            before = previous.get(slot)
            if name and not carried:
                chosen[slot] = before if split_reference(before)[0] == name else name
            else:
                chosen[slot] = self._reference(slot, name) if name else None
        return chosen

    def _reference(self, slot: str, name: str):
        params = {}
        for param in REGISTRY[name].params:
            raw = self.cleaned_data.get(param_field_name(slot, name, param.name))
            if param.type is bool:
                if raw != param.default:
                    params[param.name] = bool(raw)
            elif raw and raw.strip():
                text = raw.strip()
                # A whole number is sent as a number; anything else as typed, for the rules to name.
                is_number = param.type is int and re.fullmatch(r"-?\d{1,9}", text)
                params[param.name] = int(text) if is_number else text
        return {"name": name, "params": params} if params else name

    def attach_error(self, message: str, prop: str | None) -> None:
        """A rule's message next to the parameter input, handler select or input it names."""
        target = prop
        for slot in SLOTS:
            if f".customHandlers.{slot}" not in message:
                continue
            target = slot
            match = re.search(rf"\.customHandlers\.{slot}\.params\.(\w+)", message)
            name = self.cleaned_data.get(slot) if hasattr(self, "cleaned_data") else None
            if match and name and param_field_name(slot, name, match.group(1)) in self.fields:
                target = param_field_name(slot, name, match.group(1))
            break
        self.add_error(target if target in self.fields else None, message)


class FeatureForm(forms.Form):
    """Name, status and the provider endpoint of the feature."""

    featureTemplateName = forms.CharField(label="Feature name", max_length=200)
    status = forms.ChoiceField(choices=FeatureMapping.Status.choices, initial=FeatureMapping.Status.ACTIVE)
    method = forms.ChoiceField(label="HTTP method", choices=[(m, m) for m in METHODS], initial="POST")
    endpoint = forms.CharField(
        label="Endpoint path",
        max_length=500,
        help_text="Relative to the integration's base URL, e.g. /crm/v3/objects/contacts. {{field_key}} puts a field's value in the path.",
        widget=forms.TextInput(attrs={"placeholder": "/api/contacts", "spellcheck": "false"}),
    )
    apiConfigId = forms.CharField(label="API config id", max_length=64, required=False)


class FieldMappingForm(HandlerSelects):
    """One template field: on or off, its handlers and the operator's value."""

    enabled = forms.BooleanField(label="Use this field", required=False)
    adminValue = forms.CharField(label="Admin value", required=False, max_length=10_000)


class ExtraFieldForm(HandlerSelects):
    """One extra field. Choices are written one per line as ``id|Label`` (no JSON to type)."""

    fieldKey = forms.CharField(label="Key", max_length=64, required=False)
    label = forms.CharField(max_length=200, required=False)
    # Not required here: an untouched blank row is skipped, and the mapping rules name what a
    # filled-in row lacks.
    type = forms.ChoiceField(choices=_choices(TYPES), initial="static", required=False)
    fieldType = forms.ChoiceField(
        label="Field type", choices=_choices(FIELD_TYPES), initial="string", required=False
    )
    htmlType = forms.ChoiceField(label="Input", choices=_choices(HTML_TYPES), initial="text", required=False)
    fillBy = forms.ChoiceField(label="Filled by", choices=_choices(FILL_BY), initial="User", required=False)
    required = forms.BooleanField(required=False)
    possibleValues = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "contact|Contact\nlead|Lead"}),
        help_text="One per line: id|Label",
    )
    adminValue = forms.CharField(label="Admin value", required=False, max_length=10_000)
    order = forms.IntegerField(required=False, min_value=0, max_value=10_000)

    def clean_possibleValues(self):
        lines = [line.strip() for line in self.cleaned_data["possibleValues"].splitlines() if line.strip()]
        values = []
        for line in lines:
            value_id, _, label = line.partition("|")
            values.append({"id": value_id.strip(), "label": (label or value_id).strip()})
        return values or None

    def is_blank(self) -> bool:
        return not (self.cleaned_data.get("fieldKey") or self.cleaned_data.get("label"))


ExtraFieldFormSet = forms.formset_factory(
    ExtraFieldForm, extra=1, can_delete=True, max_num=100, validate_max=True
)

ERROR_PATH = re.compile(
    r"^(?:fieldMappings\.(?P<field>\w+)|extraFields\[(?P<index>\d+)\]|apiConfig)?\.?(?P<prop>\w+)?"
)
API_CONFIG_INPUTS = {"method": "method", "endpoint": "endpoint", "apiConfigId": "apiConfigId"}


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
            # The table's column headings are not labels: each control names its row and column.
            name = definition.get("label") or key
            for field_name, control in form.fields.items():
                handler = field_name.split("-")[1] if field_name.count("-") == 2 else ""
                control.widget.attrs["aria-label"] = " ".join(
                    filter(None, [f"{name}:", handler, control.label])
                )
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

    def _field_initial(self, entry: dict | None, definition: dict) -> dict:
        if entry is None:  # a new feature starts with the template's required fields on
            return {"enabled": self.mapping is None and definition.get("required", False)}
        admin_value = entry.get("adminValue")
        return {
            "enabled": entry.get("enabled", True),
            "adminValue": "" if admin_value is None else admin_value,
            **HandlerSelects.initial_for(entry.get("customHandlers")),
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
            **HandlerSelects.initial_for(field.get("customHandlers")),
        }

    @property
    def is_bound(self) -> bool:
        return self.feature_form.is_bound

    def _forms(self) -> list[forms.Form]:
        return [self.feature_form, *(form for _, _, form in self.field_rows), *self.extra_formset.forms]

    def problems(self) -> list[str]:
        """Every input's error as "<what> – <message>", for a summary away from the inputs."""
        found = [str(error) for error in self.extra_formset.non_form_errors()]
        for form in self._forms():
            for name, errors in form.errors.items():
                control = form.fields.get(name)
                what = control and (control.widget.attrs.get("aria-label") or control.label)
                found += [f"{what} – {error}" if what else str(error) for error in errors]
        return found

    def sample_input(self) -> dict:
        """Example input for the fields turned on (as typed, or as stored) and the extra fields."""
        definitions = {
            key: definition for key, definition, form in self.field_rows if form["enabled"].value()
        }
        definitions.update(self.existing_extras)
        return feature_sample_input(definitions=definitions)

    def is_valid(self) -> bool:
        forms_valid = [self.feature_form.is_valid(), self.extra_formset.is_valid()]
        forms_valid += [form.is_valid() for _, _, form in self.field_rows]
        return all(forms_valid)

    def _field_mappings(self) -> dict:
        existing_fields = self.mapping.field_mappings if self.mapping else {}
        field_mappings = {}
        for key, _definition, form in self.field_rows:
            previous = existing_fields.get(key) or {}
            field_mappings[key] = {
                "enabled": form.cleaned_data["enabled"],
                "overrides": previous.get("overrides"),
                "customHandlers": form.references(previous.get("customHandlers")),
                "adminValue": form.cleaned_data["adminValue"] or None,
            }
        return field_mappings

    def _extra_fields(self) -> list[dict]:
        self.extra_forms = [
            form
            for form in self.extra_formset.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and not form.is_blank()
        ]
        extra_fields = []
        for position, form in enumerate(self.extra_forms, start=1):
            data = form.cleaned_data
            previous = self.existing_extras.get(data["fieldKey"], {})
            handlers = form.references(previous.get("customHandlers"))
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
        return extra_fields

    def payload(self) -> dict:
        """The service's arguments, in the API's shape, from the valid forms."""
        feature = self.feature_form.cleaned_data
        return {
            "feature_template_id": self.template.pk if self.template else None,
            "feature_template_name": feature["featureTemplateName"],
            "field_mappings": self._field_mappings(),
            "api_config": {
                "apiConfigId": feature["apiConfigId"] or None,
                "method": feature["method"],
                "endpoint": feature["endpoint"],
            },
            "extra_fields": self._extra_fields(),
            "status": feature["status"],
        }

    def attach_errors(self, errors: list[str]) -> None:
        """Put each rule's message next to the input its path names; the rest above the form."""
        rows = {key: form for key, _, form in self.field_rows}
        for message in errors:
            match = ERROR_PATH.match(message)
            prop = match.group("prop") if match else None
            if match and match.group("field") in rows:
                rows[match.group("field")].attach_error(message, prop)
            elif (
                match
                and match.group("index") is not None
                and int(match.group("index")) < len(self.extra_forms)
            ):
                self.extra_forms[int(match.group("index"))].attach_error(message, prop)
            elif message.startswith("apiConfig.") and prop in API_CONFIG_INPUTS:
                self.feature_form.add_error(API_CONFIG_INPUTS[prop], message)
            elif prop in ("featureTemplateName", "status") and message.startswith(prop):
                self.feature_form.add_error(prop, message)
            else:
                self.page_errors.append(message)

    @classmethod
    def with_another_extra_row(cls, *, template, mapping, data) -> FeatureEditor:
        """The rows as typed plus one empty extra row ('Add a field' without JavaScript); no errors."""
        data = data.copy()
        total = data.get("extra-TOTAL_FORMS", "0")
        data["extra-TOTAL_FORMS"] = str(int(total) + 1 if total.isdigit() else 1)
        editor = cls(template=template, mapping=mapping, data=data)
        editor.is_valid()
        for form in [editor.feature_form, *(f for _, _, f in editor.field_rows), *editor.extra_formset.forms]:
            form.errors.clear()
        return editor

    @property
    def has_errors(self) -> bool:
        return bool(self.page_errors) or any(form.is_bound and form.errors for form in self._forms())

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
