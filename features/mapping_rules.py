"""The rules of a feature mapping, shared by the API and the add-feature page.

``mapping_spec`` checks a whole payload against its template and returns it in canonical form
(every fieldMappings entry with enabled/overrides/customHandlers/adminValue, extra fields sorted
by ``order``) — or raises ``ValidationFailed`` listing every problem, each prefixed with the
path of the offending key (``fieldMappings.first_name.customHandlers.valueHandler: …``).

Field definitions follow ``features/vocabulary.py``; handler names ``features/handlers.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from core.errors import ValidationFailed
from features.handlers import SLOTS, reference_errors
from features.models import FeatureMapping, FeatureTemplate
from features.vocabulary import (
    DEFINITION_KEYS,
    FIELD_KEY_PATTERN,
    FIELD_KEY_RULE,
    coerce_value,
    combination_errors,
    definition_errors,
    is_empty,
)

ENTRY_KEYS = ("enabled", "overrides", "customHandlers", "adminValue")
EXTRA_FIELD_KEYS = ("fieldKey", *DEFINITION_KEYS, "customHandlers", "adminValue", "order")
API_CONFIG_KEYS = ("apiConfigId", "method", "endpoint")
METHODS = FeatureMapping.Method.values
MAX_EXTRA_FIELDS = 100
MAX_NAME = 200
MAX_ENDPOINT = 500
# RFC 3986 path and query characters, plus {{field}} placeholders.
ENDPOINT_CHARS = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?{}]*$")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class MappingSpec:
    feature_template: FeatureTemplate | None
    feature_template_name: str
    field_mappings: dict
    api_config_id: str | None
    method: str
    endpoint: str
    extra_fields: list
    status: str


def endpoint_placeholders(endpoint: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(endpoint)))


def endpoint_errors(endpoint: Any, path: str = "apiConfig.endpoint") -> list[str]:
    """A path relative to the integration's baseUrl: the connection decides the host, never the mapping."""
    if not isinstance(endpoint, str) or not endpoint:
        return [f"{path} is required: a path such as /api/contacts"]
    if len(endpoint) > MAX_ENDPOINT:
        return [f"{path} must be {MAX_ENDPOINT} characters or fewer"]
    if not endpoint.startswith("/") or endpoint.startswith("//") or "://" in endpoint:
        return [f"{path} must be a relative path starting with / (no scheme or host), such as /api/contacts"]
    if not ENDPOINT_CHARS.match(endpoint):
        return [f"{path} may only use URL path characters (no spaces, \\ or #)"]
    decoded = unquote(endpoint.split("?", 1)[0])
    if ".." in decoded.split("/") or "\\" in decoded or decoded.startswith("//"):
        return [f"{path} must not contain .. segments"]
    leftover = PLACEHOLDER.sub("", endpoint)
    if "{" in leftover or "}" in leftover:
        return [f"{path} placeholders must look like {{{{field_key}}}}"]
    return []


def _handlers_errors(handlers: Any, path: str) -> list[str]:
    if handlers is None:
        return []
    if not isinstance(handlers, dict):
        return [f"{path} must be an object with valueHandler, validationHandler, submitHandler"]
    errors = [
        f"{path}.{key} is not a handler slot (use {', '.join(SLOTS)})" for key in handlers if key not in SLOTS
    ]
    for slot in SLOTS:
        errors += reference_errors(handlers.get(slot), slot=slot, path=f"{path}.{slot}")
    return errors


def _canonical_handlers(handlers: Any) -> dict:
    handlers = handlers or {}
    return {slot: handlers.get(slot) for slot in SLOTS}


def _admin_value(definition: dict, admin_value: Any, enabled: bool, path: str) -> tuple[Any, list[str]]:
    """The admin value as its field type (a form's "25" becomes 25; blank becomes None), or problems."""
    label = definition.get("label", "This field")
    if is_empty(admin_value):
        if enabled and definition.get("fillBy") == "Admin" and definition.get("required"):
            return None, [f"{path}.adminValue is required: {label} is a required field the operator fills"]
        return None, []
    value, problem = coerce_value(definition, admin_value)
    return value, [f"{path}.adminValue {problem}"] if problem else []


def _field_mappings(template: FeatureTemplate | None, field_mappings: Any) -> tuple[dict, list[str]]:
    if field_mappings is None:
        return {}, []
    if not isinstance(field_mappings, dict):
        return {}, ["fieldMappings must be an object keyed by template field"]
    fields = template.fields_by_key if template else {}
    errors: list[str] = []
    canonical: dict[str, dict] = {}
    for key, entry in field_mappings.items():
        path = f"fieldMappings.{str(key)[:64]}"
        if key not in fields:
            if template is None:
                errors.append(f"{path}: a feature without a template has no template fields; use extraFields")
            else:
                errors.append(f"{path}: '{str(key)[:64]}' is not a field of template '{template.id}'")
            continue
        if not isinstance(entry, dict):
            errors.append(f"{path} must be an object with enabled, overrides, customHandlers, adminValue")
            continue
        errors += [f"{path}.{k} is not a field mapping property" for k in entry if k not in ENTRY_KEYS]
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            errors.append(f"{path}.enabled must be true or false")
        overrides = entry.get("overrides")
        definition = fields[key]
        if overrides is not None:
            override_errors = definition_errors(overrides, f"{path}.overrides", partial=True)
            errors += override_errors
            if not override_errors:
                definition = {**definition, **overrides}
                errors += combination_errors(definition, f"{path}.overrides")
        errors += _handlers_errors(entry.get("customHandlers"), f"{path}.customHandlers")
        admin_value, admin_errors = _admin_value(definition, entry.get("adminValue"), enabled is True, path)
        errors += admin_errors
        canonical[key] = {
            "enabled": enabled,
            "overrides": overrides or None,
            "customHandlers": _canonical_handlers(entry.get("customHandlers")),
            "adminValue": admin_value,
        }
    # Keep the template's field order, whatever order the caller sent.
    ordered = {key: canonical[key] for key in fields if key in canonical}
    return ordered, errors


def _extra_fields(template: FeatureTemplate | None, extra_fields: Any) -> tuple[list, list[str]]:
    if extra_fields is None:
        return [], []
    if not isinstance(extra_fields, list):
        return [], ["extraFields must be a list"]
    if len(extra_fields) > MAX_EXTRA_FIELDS:
        return [], [f"extraFields may hold {MAX_EXTRA_FIELDS} fields at most"]
    template_keys = set(template.fields_by_key) if template else set()
    errors: list[str] = []
    canonical: list[dict] = []
    seen: set[str] = set()
    for index, item in enumerate(extra_fields):
        path = f"extraFields[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{path} must be an object")
            continue
        errors += [f"{path}.{k} is not an extra field property" for k in item if k not in EXTRA_FIELD_KEYS]
        key = item.get("fieldKey")
        if not isinstance(key, str) or not FIELD_KEY_PATTERN.match(key):
            errors.append(f"{path}.fieldKey is required and {FIELD_KEY_RULE}")
        elif key in seen:
            errors.append(f"{path}.fieldKey '{key}' is used by another extra field; keys must be unique")
        elif key in template_keys:
            errors.append(f"{path}.fieldKey '{key}' is already a field of template '{template.id}'")
        else:
            seen.add(key)
        definition = {k: v for k, v in item.items() if k in DEFINITION_KEYS}
        errors += definition_errors(definition, path)
        errors += _handlers_errors(item.get("customHandlers"), f"{path}.customHandlers")
        admin_value, admin_errors = _admin_value(definition, item.get("adminValue"), True, path)
        errors += admin_errors
        order = item.get("order", index + 1)
        if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 10_000:
            errors.append(f"{path}.order must be a whole number from 0 to 10000")
        handlers = item.get("customHandlers")
        canonical.append(
            {
                "fieldKey": key,
                **{k: definition[k] for k in DEFINITION_KEYS if k in definition},
                "possibleValues": definition.get("possibleValues"),
                "customHandlers": _canonical_handlers(handlers)
                if handlers and any(handlers.values())
                else None,
                "adminValue": admin_value,
                "order": order,
            }
        )
    if errors:
        return [], errors
    return sorted(canonical, key=lambda f: f["order"]), []


def _api_config(api_config: Any) -> tuple[dict, list[str]]:
    if not isinstance(api_config, dict):
        return {}, ["apiConfig is required: an object with method and endpoint"]
    errors = [f"apiConfig.{k} is not an apiConfig property" for k in api_config if k not in API_CONFIG_KEYS]
    config_id = api_config.get("apiConfigId")
    if config_id is not None and (not isinstance(config_id, str) or len(config_id) > 64):
        errors.append("apiConfig.apiConfigId must be null or text of 64 characters at most")
    method = api_config.get("method")
    if isinstance(method, str):
        method = method.upper()
    if method not in METHODS:
        errors.append(f"apiConfig.method must be an HTTP verb: {', '.join(METHODS)}")
    errors += endpoint_errors(api_config.get("endpoint"))
    return {"apiConfigId": config_id, "method": method, "endpoint": api_config.get("endpoint")}, errors


def _placeholder_errors(endpoint: str, field_mappings: dict, extra_fields: list) -> list[str]:
    known = {key for key, entry in field_mappings.items() if entry["enabled"]}
    known |= {field["fieldKey"] for field in extra_fields}
    return [
        f"apiConfig.endpoint refers to '{{{{{name}}}}}', which is not an enabled field or extra field"
        for name in endpoint_placeholders(endpoint)
        if name not in known
    ]


def mapping_spec(
    *,
    template: FeatureTemplate | None,
    feature_template_name: Any,
    field_mappings: Any,
    api_config: Any,
    extra_fields: Any,
    status: Any,
) -> MappingSpec:
    """The canonical mapping, or ``ValidationFailed`` with every problem found."""
    errors: list[str] = []
    name = feature_template_name
    if name is None and template is not None:
        name = template.name
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        errors.append(
            f"featureTemplateName must be non-empty text of {MAX_NAME} characters at most"
            + ("" if template else " (it names a feature without a template)")
        )
    canonical_fields, field_errors = _field_mappings(template, field_mappings)
    canonical_extras, extra_errors = _extra_fields(template, extra_fields)
    config, config_errors = _api_config(api_config)
    errors += field_errors + extra_errors + config_errors
    if status not in FeatureMapping.Status.values:
        errors.append("status must be 'active' or 'inactive'")
    if not errors:
        errors += _placeholder_errors(config["endpoint"], canonical_fields, canonical_extras)
    if errors:
        raise ValidationFailed(errors)
    return MappingSpec(
        feature_template=template,
        feature_template_name=name.strip(),
        field_mappings=canonical_fields,
        api_config_id=config["apiConfigId"],
        method=config["method"],
        endpoint=config["endpoint"],
        extra_fields=canonical_extras,
        status=status,
    )
