"""Forms: the admin's template editor and the add-feature page.

The page's forms only parse what a browser sends into the API's payload shape; the rules live
in ``features/mapping_rules.py`` and run through the same services as the API.
"""

from __future__ import annotations

import json

from django import forms

from features.handlers import SLOTS, handlers_of_kind
from features.mapping_rules import METHODS
from features.models import FeatureMapping, FeatureTemplate
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


class HandlerSelects(forms.Form):
    """The three handler slots as selects offering the registry's handlers of the right kind."""

    valueHandler = forms.ChoiceField(label="Value handler", required=False)
    validationHandler = forms.ChoiceField(label="Validation handler", required=False)
    submitHandler = forms.ChoiceField(label="Submit handler", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for slot, kind in SLOTS.items():
            self.fields[slot].choices = _handler_choices(kind)


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
