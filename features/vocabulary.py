"""The field vocabulary shared by feature templates, field overrides and extra fields.

A field definition says what a feature needs from whoever fills it:

- ``type``: ``static`` (the field is always part of the request, its options fixed) or
  ``dynamic`` (its value changes per request and may be looked up at run time, e.g. an owner id);
- ``fieldType``: the data type of the value (below) — preview checks input against it;
- ``htmlType``: the input an interface shows (below); each allows only some field types;
- ``fillBy``: ``User`` (the end user types it) or ``Admin`` (the operator sets ``adminValue``);
- ``possibleValues``: ``[{"id", "label"}]``, required by the choice html types.

``definition_errors`` is the single place these rules live; every message is prefixed with the
path of the offending key so a template file, an API payload or a form can point at it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

FIELD_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
FIELD_KEY_RULE = "must start with a letter and use only letters, digits and _ (64 at most)"

TYPES = {
    "static": "Always part of the request; options, if any, are the fixed possibleValues.",
    "dynamic": "Changes per request and may be looked up at run time (e.g. an owner or list id).",
}
FILL_BY = {
    "User": "The end user provides the value when the feature runs.",
    "Admin": "The operator sets adminValue once in the mapping; end users never see the field.",
}

FIELD_TYPES = {
    "string": "Text on one line.",
    "text": "Longer text, possibly several lines.",
    "number": "A decimal number (JSON number).",
    "integer": "A whole number.",
    "boolean": "true or false.",
    "email": "An email address.",
    "phone": "A telephone number, best sent in E.164 form (+14155552671).",
    "url": "An absolute http(s) URL.",
    "date": "A calendar date, sent as YYYY-MM-DD.",
    "datetime": "A moment in time, sent as ISO 8601.",
    "array": "A list of values (several choices of a multiselect).",
}

# Each html type: what it shows, which field types it can carry, whether it needs possibleValues.
HTML_TYPES: dict[str, dict[str, Any]] = {
    "text": {
        "description": "A one-line text input.",
        "fieldTypes": ["string", "email", "phone", "url", "number", "integer"],
    },
    "textarea": {"description": "A multi-line text input.", "fieldTypes": ["string", "text"]},
    "email": {"description": "An email input.", "fieldTypes": ["email", "string"]},
    "tel": {"description": "A telephone input.", "fieldTypes": ["phone", "string"]},
    "url": {"description": "A URL input.", "fieldTypes": ["url", "string"]},
    "number": {"description": "A numeric input.", "fieldTypes": ["number", "integer"]},
    "date": {"description": "A date picker.", "fieldTypes": ["date"]},
    "datetime-local": {"description": "A date and time picker.", "fieldTypes": ["datetime"]},
    "checkbox": {"description": "A single checkbox.", "fieldTypes": ["boolean"]},
    "select": {
        "description": "A drop-down with one choice.",
        "fieldTypes": ["string", "integer"],
        "choices": True,
    },
    "radio": {
        "description": "Radio buttons with one choice.",
        "fieldTypes": ["string", "integer"],
        "choices": True,
    },
    "multiselect": {"description": "A list with several choices.", "fieldTypes": ["array"], "choices": True},
    "hidden": {"description": "Not shown; usually an Admin field.", "fieldTypes": list(FIELD_TYPES)},
}

# Keys a definition may carry; an override may change any of them except the key itself.
DEFINITION_KEYS = (
    "type",
    "label",
    "required",
    "fieldType",
    "htmlType",
    "fillBy",
    "possibleValues",
    "helpText",
    "placeholder",
)
REQUIRED_DEFINITION_KEYS = ("type", "label", "required", "fieldType", "htmlType", "fillBy")
MAX_LABEL = 200
MAX_HELP = 1000
MAX_POSSIBLE_VALUES = 500


def needs_possible_values(html_type: str) -> bool:
    return bool(HTML_TYPES.get(html_type, {}).get("choices"))


def _one_of(value: Any, allowed, path: str) -> list[str]:
    if value not in allowed:
        return [f"{path} must be one of {', '.join(allowed)}"]
    return []


def possible_values_errors(values: Any, path: str) -> list[str]:
    if not isinstance(values, list) or not values:
        return [f"{path} must be a non-empty list of {{id, label}}"]
    if len(values) > MAX_POSSIBLE_VALUES:
        return [f"{path} may hold {MAX_POSSIBLE_VALUES} values at most"]
    errors: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(values):
        at = f"{path}[{index}]"
        if not isinstance(item, dict) or set(item) - {"id", "label"}:
            errors.append(f"{at} must be an object with id and label")
            continue
        if not isinstance(item.get("id"), str) or not item["id"].strip():
            errors.append(f"{at}.id must be non-empty text")
        elif item["id"] in seen:
            errors.append(f"{at}.id '{item['id']}' is repeated")
        else:
            seen.add(item["id"])
        if not isinstance(item.get("label"), str) or not item["label"].strip():
            errors.append(f"{at}.label must be non-empty text")
    return errors


def definition_errors(definition: Any, path: str, *, partial: bool = False) -> list[str]:
    """Problems with one field definition; ``partial`` checks an override (any subset of keys)."""
    if not isinstance(definition, dict):
        return [f"{path} must be an object"]
    errors = [
        f"{path}.{key} is not a known field property" for key in definition if key not in DEFINITION_KEYS
    ]
    if not partial:
        errors += [f"{path}.{key} is required" for key in REQUIRED_DEFINITION_KEYS if key not in definition]
    if "type" in definition:
        errors += _one_of(definition["type"], TYPES, f"{path}.type")
    if "fillBy" in definition:
        errors += _one_of(definition["fillBy"], FILL_BY, f"{path}.fillBy")
    if "fieldType" in definition:
        errors += _one_of(definition["fieldType"], FIELD_TYPES, f"{path}.fieldType")
    if "htmlType" in definition:
        errors += _one_of(definition["htmlType"], HTML_TYPES, f"{path}.htmlType")
    if "label" in definition:
        label = definition["label"]
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
            errors.append(f"{path}.label must be non-empty text of {MAX_LABEL} characters at most")
    if "required" in definition and not isinstance(definition["required"], bool):
        errors.append(f"{path}.required must be true or false")
    for key in ("helpText", "placeholder"):
        if key in definition and (not isinstance(definition[key], str) or len(definition[key]) > MAX_HELP):
            errors.append(f"{path}.{key} must be text of {MAX_HELP} characters at most")
    if not partial:
        errors += combination_errors(definition, path)
    return errors


def combination_errors(definition: dict, path: str) -> list[str]:
    """Rules between keys of a complete definition (after overrides are applied)."""
    html_type, field_type = definition.get("htmlType"), definition.get("fieldType")
    if html_type not in HTML_TYPES or field_type not in FIELD_TYPES:
        return []  # already reported
    errors: list[str] = []
    allowed = HTML_TYPES[html_type]["fieldTypes"]
    if field_type not in allowed:
        errors.append(
            f"{path}.htmlType '{html_type}' cannot carry fieldType '{field_type}' (use {', '.join(allowed)})"
        )
    if needs_possible_values(html_type):
        if "possibleValues" not in definition or definition["possibleValues"] is None:
            errors.append(f"{path}.possibleValues is required for htmlType '{html_type}'")
        else:
            errors += possible_values_errors(definition["possibleValues"], f"{path}.possibleValues")
    elif definition.get("possibleValues") is not None:
        errors.append(f"{path}.possibleValues only applies to htmlType select, radio or multiselect")
    return errors


def vocabulary() -> dict:
    """The documented vocabulary, as ``GET /api/field-types`` returns it."""
    return {
        "fieldTypes": [{"id": key, "description": text} for key, text in FIELD_TYPES.items()],
        "htmlTypes": [
            {
                "id": key,
                "description": spec["description"],
                "fieldTypes": spec["fieldTypes"],
                "needsPossibleValues": bool(spec.get("choices")),
            }
            for key, spec in HTML_TYPES.items()
        ],
        "types": [{"id": key, "description": text} for key, text in TYPES.items()],
        "fillBy": [{"id": key, "description": text} for key, text in FILL_BY.items()],
    }


MAX_TEXT_VALUE = 65_536


def _as_text(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value, "must be text"
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TEXT_VALUE:
        return value, f"must be {MAX_TEXT_VALUE} characters or fewer"
    return text, None


def _as_number(value: Any, *, integer: bool) -> tuple[Any, str | None]:
    problem = "must be a whole number" if integer else "must be a number"
    if isinstance(value, bool):
        return value, problem
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"-?\d{1,15}(\.\d{1,15})?", text):
            return value, problem
        value = float(text) if "." in text else int(text)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return value, problem
        if value.is_integer() and integer:
            value = int(value)
    if integer and not isinstance(value, int):
        return value, problem
    if not isinstance(value, (int, float)):
        return value, problem
    return value, None


def _as_boolean(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and value.strip().lower() in (
        "true",
        "false",
        "on",
        "off",
        "1",
        "0",
        "yes",
        "no",
    ):
        return value.strip().lower() in ("true", "on", "1", "yes"), None
    return value, "must be true or false"


def _as_date(value: Any, *, with_time: bool) -> tuple[Any, str | None]:
    if isinstance(value, str) and len(value) <= 40:
        try:
            if with_time:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                date.fromisoformat(value)
            else:
                raise ValueError
            return value, None
        except ValueError:
            pass
    if with_time:
        return value, "must be a date and time such as 2025-11-23T15:45:00Z"
    return value, "must be a date written YYYY-MM-DD"


def coerce_value(definition: dict, value: Any) -> tuple[Any, str | None]:
    """``value`` as the definition's fieldType (form text becomes numbers, booleans), or a problem
    that completes "<Label> …". Choice fields must hold one of their possibleValues ids."""
    field_type = definition.get("fieldType")
    if field_type in ("number", "integer"):
        value, problem = _as_number(value, integer=field_type == "integer")
    elif field_type == "boolean":
        value, problem = _as_boolean(value)
    elif field_type in ("date", "datetime"):
        value, problem = _as_date(value, with_time=field_type == "datetime")
    elif field_type == "array":
        items = value if isinstance(value, list) else [value]
        if len(items) > MAX_POSSIBLE_VALUES or any(isinstance(i, (dict, list)) for i in items):
            return value, f"must be a list of up to {MAX_POSSIBLE_VALUES} plain values"
        value, problem = items, None
    else:
        value, problem = _as_text(value)
    if problem or not needs_possible_values(definition.get("htmlType", "")):
        return value, problem
    ids = [str(item["id"]) for item in definition.get("possibleValues") or []]
    chosen = value if isinstance(value, list) else [value]
    if any(str(item) not in ids for item in chosen):
        shown = ", ".join(ids[:20]) + (", …" if len(ids) > 20 else "")
        return value, f"must be one of: {shown}"
    return value, None


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []
