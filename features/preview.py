"""What a feature mapping would send for some sample input — computed, never sent.

For each enabled field (template fields in template order, then extra fields by ``order``):

1. **value**: an Admin field takes its ``adminValue``; a User field takes the user's input, or
   its ``adminValue`` as a default when the input is empty. The field's definition is the
   template's with the mapping's ``overrides`` applied.
2. **required**: an empty required field is an error; an empty optional one is left out.
3. **value handler** transforms the value (``capitalizeFirstName``).
4. **field type**: the value must fit ``fieldType`` (form text becomes numbers, booleans) and a
   choice field must hold one of its ``possibleValues``.
5. **validation handler** checks the transformed value (``validateNameLength``).
6. **submit handler** decides the body part (default ``{field: value}``); parts are merged.

Steps 5 and 6 only run when the steps before them succeeded for that field; the request is only
composed when every field is valid. Fields named in the endpoint (``/contacts/{{object_type}}``)
go into the path, percent-encoded, instead of the body. GET and DELETE carry the fields as query
parameters instead of a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from features.handlers import run_submit, run_validation, run_value, split_reference
from features.mapping_rules import PLACEHOLDER, endpoint_placeholders
from features.models import FeatureMapping
from features.vocabulary import coerce_value, is_empty

BODYLESS_METHODS = {"GET", "DELETE"}
# What the add-feature page's preview starts from, by field type, when a field has no placeholder.
SAMPLE_VALUES = {
    "number": 42.5,
    "integer": 42,
    "boolean": True,
    "email": "ada@example.com",
    "phone": "+14155552671",
    "url": "https://example.com",
    "date": "2025-11-23",
    "datetime": "2025-11-23T14:05:00Z",
}


@dataclass(frozen=True)
class EffectiveField:
    key: str
    definition: dict
    handlers: dict
    admin_value: Any


def effective_fields(mapping: FeatureMapping) -> list[EffectiveField]:
    fields: list[EffectiveField] = []
    template_fields = mapping.feature_template.fields_by_key if mapping.feature_template else {}
    for key, definition in template_fields.items():
        entry = mapping.field_mappings.get(key)
        if not entry or not entry.get("enabled"):
            continue
        fields.append(
            EffectiveField(
                key=key,
                definition={**definition, **(entry.get("overrides") or {})},
                handlers=entry.get("customHandlers") or {},
                admin_value=entry.get("adminValue"),
            )
        )
    for extra in mapping.extra_fields:
        fields.append(
            EffectiveField(
                key=extra["fieldKey"],
                definition=extra,
                handlers=extra.get("customHandlers") or {},
                admin_value=extra.get("adminValue"),
            )
        )
    return fields


def _deep_merge(body: dict, part: dict, owners: dict, owner: str, path: str = "") -> list[str]:
    conflicts: list[str] = []
    for key, value in part.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            conflicts += _deep_merge(body[key], value, owners, owner, where)
        elif key in body:
            conflicts.append(f"Body key '{where}' is set by both {owners[where]} and {owner}")
        else:
            body[key] = value
            owners[where] = owner
    return conflicts


class _FieldRun:
    """One field through steps 1–5, recording each step for the preview's ``steps``."""

    def __init__(self, field: EffectiveField, user_input: dict) -> None:
        self.field = field
        self.steps: list[dict] = []
        self.error: str | None = None
        self.value = self._initial_value(user_input)

    @property
    def label(self) -> str:
        return self.field.definition.get("label") or self.field.key

    def _initial_value(self, user_input: dict) -> Any:
        field = self.field
        if field.definition.get("fillBy") == "Admin":
            self.steps.append({"step": "adminValue", "value": field.admin_value})
            return field.admin_value
        value = user_input.get(field.key)
        if is_empty(value) and not is_empty(field.admin_value):
            self.steps.append({"step": "default", "value": field.admin_value})
            return field.admin_value
        self.steps.append({"step": "input", "value": value})
        return value

    def _fail(self, problem: str) -> None:
        self.error = f"{self.label} {problem}"

    def run(self) -> bool:
        """False when the field is left out (empty and optional) or failed."""
        definition, handlers = self.field.definition, self.field.handlers
        if is_empty(self.value):
            if definition.get("required"):
                self._fail("is required")
            return False
        if handlers.get("valueHandler"):
            self.value, problem = run_value(handlers["valueHandler"], self.value)
            self.steps.append(
                {
                    "step": "valueHandler",
                    "handler": split_reference(handlers["valueHandler"])[0],
                    "value": self.value,
                    **({"error": problem} if problem else {}),
                }
            )
            if problem:
                self._fail(problem)
                return False
            if is_empty(self.value):
                if definition.get("required"):
                    self._fail("is required")
                return False
        self.value, problem = coerce_value(definition, self.value)
        self.steps.append(
            {
                "step": "fieldType",
                "fieldType": definition.get("fieldType"),
                "value": self.value,
                **({"error": problem} if problem else {}),
            }
        )
        if problem:
            self._fail(problem)
            return False
        if handlers.get("validationHandler"):
            problem = run_validation(handlers["validationHandler"], self.value)
            self.steps.append(
                {
                    "step": "validationHandler",
                    "handler": split_reference(handlers["validationHandler"])[0],
                    "result": problem or "ok",
                }
            )
            if problem:
                self._fail(problem)
                return False
        return True


def feature_mapping_preview(*, mapping: FeatureMapping, user_input: dict) -> dict:
    """The preview document: ``valid``, the ``request`` (or None), the errors and every step."""
    fields = effective_fields(mapping)
    path_keys = set(endpoint_placeholders(mapping.endpoint))
    runs = [_FieldRun(field, user_input) for field in fields]
    kept = [run for run in runs if run.run()]
    field_errors = {run.field.key: [run.error] for run in runs if run.error}
    errors = [run.error for run in runs if run.error]
    for key in path_keys:
        run = next((r for r in runs if r.field.key == key), None)
        if run is not None and run not in kept and not run.error:
            run.error = f"{run.label} is needed for the endpoint path"
            field_errors[key] = [run.error]
            errors.append(run.error)

    body: dict = {}
    owners: dict[str, str] = {}
    path_values: dict[str, str] = {}
    if not errors:
        for run in kept:
            if run.field.key in path_keys:
                path_values[run.field.key] = quote(str(run.value), safe="")
                continue
            reference = run.field.handlers.get("submitHandler")
            if reference:
                part, problem = run_submit(reference, run.field.key, run.value)
                run.steps.append(
                    {
                        "step": "submitHandler",
                        "handler": split_reference(reference)[0],
                        "part": part,
                        **({"error": problem} if problem else {}),
                    }
                )
                if problem:
                    run.error = f"{run.label} {problem}"
                    field_errors[run.field.key] = [run.error]
                    errors.append(run.error)
                    continue
            else:
                part = {run.field.key: run.value}
            errors += _deep_merge(body, part, owners, run.field.key)

    declared = {field.key for field in fields if field.definition.get("fillBy") != "Admin"}
    ignored = sorted(str(key) for key in user_input if key not in declared)
    request = None
    if not errors:
        path = PLACEHOLDER.sub(lambda m: path_values[m.group(1)], mapping.endpoint)
        bodyless = mapping.method in BODYLESS_METHODS
        request = {
            "method": mapping.method,
            "path": path,
            "query": body if bodyless else {},
            "body": None if bodyless else body,
        }
    return {
        "valid": not errors,
        "request": request,
        "validationErrors": errors,
        "fieldErrors": field_errors,
        "ignoredInput": ignored,
        "steps": {run.field.key: run.steps for run in runs},
    }


def feature_sample_input(*, definitions: dict[str, dict]) -> dict:
    """Plausible input for the fields end users fill (``{key: definition}``): the placeholder, a
    choice's first id, or an example of the field type (text: the label in lower case, so value
    handlers such as capitalizeFirstName show what they do)."""
    sample: dict = {}
    for key, definition in definitions.items():
        if definition.get("fillBy") == "Admin":
            continue
        choices = [v["id"] for v in definition.get("possibleValues") or [] if isinstance(v, dict)]
        field_type = definition.get("fieldType")
        if definition.get("placeholder"):
            value = definition["placeholder"]
        elif choices:
            value = choices[:1] if field_type == "array" else choices[0]
        else:
            value = SAMPLE_VALUES.get(field_type, str(definition.get("label") or key).lower())
        sample[key] = value
    return sample
