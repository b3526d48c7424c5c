"""Named handlers a feature mapping attaches to a field: plain functions registered by name.

Three kinds, run in this order for each field (see ``features/preview.py``):

- **value** handlers ``fn(value, **params) -> value`` transform the value (``trim``);
- **validation** handlers ``fn(value, **params) -> str | None`` return a problem or None;
- **submit** handlers ``fn(field_key, value, **params) -> dict`` return the part of the request
  body the field becomes (default ``{field_key: value}``), merged into the body.

A mapping names a handler either by name (``"trim"``) or with parameters
(``{"name": "validateNameLength", "params": {"max": 50}}``).

Handlers face whatever an end user sends: None, numbers, lists, megabytes of text. They report
unusable input by raising ``HandlerInputError`` with a message that completes "<Field label> …";
``run_*`` turns it into a result, so nothing escapes to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from features.vocabulary import FIELD_KEY_PATTERN

VALUE, VALIDATION, SUBMIT = "value", "validation", "submit"
KINDS = {
    VALUE: "Transforms the value before it is checked.",
    VALIDATION: "Checks the (transformed) value and reports a problem.",
    SUBMIT: "Decides where and how the value goes into the request body.",
}
# The customHandlers key for each kind, as the contract spells it.
SLOTS = {"valueHandler": VALUE, "validationHandler": VALIDATION, "submitHandler": SUBMIT}

REQUIRED = object()  # a parameter without a default


class HandlerInputError(Exception):
    """Input a handler cannot use; ``message`` completes a sentence that starts with the field label."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    description: str
    default: Any = REQUIRED
    minimum: int | None = None
    pattern: re.Pattern | None = None

    @property
    def type_name(self) -> str:
        return {int: "integer", str: "string", bool: "boolean"}[self.type]

    def coerce(self, raw: Any) -> Any:
        """The parameter's value from JSON or from a form's text; HandlerInputError if unusable."""
        value = raw
        if self.type is bool and isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            value = raw.strip().lower() == "true"
        elif self.type is int and isinstance(raw, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", raw):
            value = int(raw)
        if type(value) is not self.type:
            raise HandlerInputError(f"must be {'an' if self.type is int else 'a'} {self.type_name}")
        if self.minimum is not None and value < self.minimum:
            raise HandlerInputError(f"must be at least {self.minimum}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise HandlerInputError("has characters that are not allowed")
        return value


@dataclass(frozen=True)
class Handler:
    name: str
    kind: str
    description: str
    function: Callable
    params: tuple[Param, ...] = ()
    check_params: Callable[[dict], str | None] | None = field(default=None)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "parameters": [
                {
                    "name": p.name,
                    "type": p.type_name,
                    "required": p.default is REQUIRED,
                    "default": None if p.default is REQUIRED else p.default,
                    "description": p.description,
                }
                for p in self.params
            ],
        }

    def resolve_params(self, raw: Any) -> tuple[dict, list[str]]:
        """Defaults filled in and values coerced; problems as ``<param> <message>``."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return {}, ["params must be an object"]
        known = {p.name: p for p in self.params}
        errors = [f"params.{key} is not a parameter of {self.name}" for key in raw if key not in known]
        resolved: dict[str, Any] = {}
        for param in self.params:
            if param.name not in raw:
                if param.default is REQUIRED:
                    errors.append(f"params.{param.name} is required by {self.name}")
                else:
                    resolved[param.name] = param.default
                continue
            try:
                resolved[param.name] = param.coerce(raw[param.name])
            except HandlerInputError as exc:
                errors.append(f"params.{param.name} {exc.message}")
        if not errors and self.check_params is not None:
            problem = self.check_params(resolved)
            if problem:
                errors.append(f"params {problem}")
        return resolved, errors


REGISTRY: dict[str, Handler] = {}


def handler(name: str, *, kind: str, description: str, params: tuple[Param, ...] = (), check_params=None):
    """Register the decorated function under ``name``."""

    def register(function: Callable) -> Callable:
        if name in REGISTRY:
            raise ValueError(f"handler '{name}' is registered twice")
        if kind not in KINDS:
            raise ValueError(f"handler '{name}' has unknown kind '{kind}'")
        REGISTRY[name] = Handler(name, kind, description, function, params, check_params)
        return function

    return register


def handlers_of_kind(kind: str | None = None) -> list[Handler]:
    return sorted(
        (h for h in REGISTRY.values() if kind is None or h.kind == kind), key=lambda h: (h.kind, h.name)
    )


def split_reference(reference: Any) -> tuple[str | None, Any]:
    """``"trim"`` or ``{"name": "trim", "params": {...}}`` → (name, raw params)."""
    if isinstance(reference, str):
        return reference, None
    if isinstance(reference, dict):
        name = reference.get("name")
        return (name if isinstance(name, str) else None), reference.get("params")
    return None, None


def reference_errors(reference: Any, *, slot: str, path: str) -> list[str]:
    """Problems with a handler reference in ``slot`` (valueHandler, …); empty when usable."""
    if reference is None:
        return []
    if isinstance(reference, dict) and set(reference) - {"name", "params"}:
        return [f"{path} may only have name and params"]
    name, raw_params = split_reference(reference)
    if name is None:
        return [f"{path} must be a handler name or {{name, params}}"]
    found = REGISTRY.get(name)
    if found is None:
        return [f"{path}: unknown handler '{name[:100]}' (see GET /api/feature-handlers)"]
    expected = SLOTS[slot]
    if found.kind != expected:
        return [f"{path}: '{name}' is a {found.kind} handler, not a {expected} handler"]
    return [f"{path}.{problem}" for problem in found.resolve_params(raw_params)[1]]


def _resolved(reference: Any) -> tuple[Handler, dict]:
    """The handler and its parameters; HandlerInputError for a reference the rules would refuse
    (stored mappings are checked, so this only guards against a template or registry change)."""
    name, raw_params = split_reference(reference)
    found = REGISTRY.get(name) if name else None
    if found is None:
        raise HandlerInputError(f"cannot be processed: handler '{str(name)[:100]}' does not exist")
    params, errors = found.resolve_params(raw_params)
    if errors:
        raise HandlerInputError(f"cannot be processed: handler '{name}' is misconfigured ({errors[0]})")
    return found, params


def run_value(reference: Any, value: Any) -> tuple[Any, str | None]:
    try:
        found, params = _resolved(reference)
        return found.function(value, **params), None
    except HandlerInputError as exc:
        return value, exc.message


def run_validation(reference: Any, value: Any) -> str | None:
    try:
        found, params = _resolved(reference)
        return found.function(value, **params)
    except HandlerInputError as exc:
        return exc.message


def run_submit(reference: Any, field_key: str, value: Any) -> tuple[dict, str | None]:
    try:
        found, params = _resolved(reference)
        return found.function(field_key, value, **params), None
    except HandlerInputError as exc:
        return {}, exc.message


# --- Value handlers. Text transforms leave non-text values alone: a later check reports them.


@handler("trim", kind=VALUE, description="Removes spaces (and other white space) at both ends.")
def trim(value):
    return value.strip() if isinstance(value, str) else value


@handler("lowercase", kind=VALUE, description="Turns text into lower case (e.g. for email addresses).")
def lowercase(value):
    return value.lower() if isinstance(value, str) else value


@handler("uppercase", kind=VALUE, description="Turns text into upper case (e.g. for country codes).")
def uppercase(value):
    return value.upper() if isinstance(value, str) else value


@handler(
    "collapseWhitespace", kind=VALUE, description="Trims and turns every run of white space into one space."
)
def collapse_whitespace(value):
    return " ".join(value.split()) if isinstance(value, str) else value


def _capitalize_part(part: str) -> str:
    # All-lower or ALL-UPPER parts are normalised; mixed case ("DeShawn", "McKenzie") is deliberate.
    if part.islower() or part.isupper():
        part = part.lower()
    return part[:1].title() + part[1:]


@handler(
    "capitalizeFirstName",
    kind=VALUE,
    description="Trims a name and capitalises each part: 'mary-jane' → 'Mary-Jane', 'ÉLODIE' → 'Élodie'.",
)
def capitalize_first_name(value):
    if not isinstance(value, str):
        return value
    words = " ".join(value.split()).split(" ")
    return " ".join("-".join(_capitalize_part(part) for part in word.split("-")) for word in words)


PHONE_ALLOWED = re.compile(r"^\+?[0-9 ().\-/]+$")
MAX_PHONE_INPUT = 40


@handler(
    "toE164Phone",
    kind=VALUE,
    description=(
        "Turns a phone number into E.164 (+14155552671). Numbers without '+' or '00' get the default "
        "country code; a national trunk '0' is dropped."
    ),
    params=(
        Param(
            "defaultCountryCode",
            str,
            "Country calling code for numbers written without one.",
            "1",
            pattern=re.compile(r"[1-9][0-9]{0,2}"),
        ),
    ),
)
def to_e164_phone(value, *, defaultCountryCode: str):
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise HandlerInputError("must be a phone number")
    text = value.strip()
    if not text:
        return text
    if len(text) > MAX_PHONE_INPUT or not PHONE_ALLOWED.fullmatch(text):
        raise HandlerInputError("must be a phone number (digits, spaces and + - . ( ) only)")
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        full = digits
    elif digits.startswith("00"):
        full = digits[2:]
    elif digits.startswith("0"):
        full = defaultCountryCode + digits[1:]
    elif digits.startswith(defaultCountryCode) and len(digits) > 10:
        full = digits
    else:
        full = defaultCountryCode + digits
    if not 8 <= len(full) <= 15 or full.startswith("0"):
        raise HandlerInputError("must have 8 to 15 digits including the country code")
    return "+" + full


DATE_FORMATS_MONTH_FIRST = ("%m/%d/%Y",)
DATE_FORMATS_DAY_FIRST = ("%d/%m/%Y",)
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d.%m.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
)
MAX_DATE_INPUT = 40


@handler(
    "toIsoDate",
    kind=VALUE,
    description=(
        "Turns a date into YYYY-MM-DD. Understands 2025-11-23, 2025/11/23, 23.11.2025, 23 Nov 2025, "
        "Nov 23, 2025, ISO date-times, and 11/23/2025 (or 23/11/2025 with dayFirst)."
    ),
    params=(Param("dayFirst", bool, "Read 03/04/2025 as 3 April rather than March 4.", False),),
)
def to_iso_date(value, *, dayFirst: bool):
    if not isinstance(value, str):
        raise HandlerInputError("must be a date such as 2025-11-23")
    text = " ".join(value.split())
    if not text:
        return text
    if len(text) <= MAX_DATE_INPUT:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
        formats = DATE_FORMATS + (DATE_FORMATS_DAY_FIRST if dayFirst else DATE_FORMATS_MONTH_FIRST)
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
    raise HandlerInputError("must be a date such as 2025-11-23")


# --- Validation handlers: return a message that completes "<Field label> …", or None.

MAX_EMAIL = 254
_email = EmailValidator()


@handler("validateEmailFormat", kind=VALIDATION, description="The value must be a valid email address.")
def validate_email_format(value):
    if not isinstance(value, str) or len(value) > MAX_EMAIL:
        return "must be a valid email address"
    try:
        _email(value)
    except ValidationError:
        return "must be a valid email address"
    return None


def _min_not_above_max(params: dict) -> str | None:
    return "min must not be greater than max" if params["min"] > params["max"] else None


@handler(
    "validateNameLength",
    kind=VALIDATION,
    description="The name, without surrounding spaces, must have between min and max characters and no control characters.",
    params=(
        Param("min", int, "Fewest characters.", 1, minimum=0),
        Param("max", int, "Most characters.", 100, minimum=1),
    ),
    check_params=_min_not_above_max,
)
def validate_name_length(value, *, min: int, max: int):
    if not isinstance(value, str):
        return "must be text"
    length = len(value.strip())
    if not min <= length <= max:
        return f"must be between {min} and {max} characters"
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        return "must not contain control characters"
    return None


@handler(
    "validateMaxLength",
    kind=VALIDATION,
    description="Text must not be longer than max characters.",
    params=(Param("max", int, "Most characters.", 255, minimum=1),),
)
def validate_max_length(value, *, max: int):
    if not isinstance(value, str):
        return "must be text"
    return f"must be {max} characters or fewer" if len(value) > max else None


MAX_URL = 2048
_http_url = URLValidator(schemes=["http", "https"])


@handler(
    "validateUrl",
    kind=VALIDATION,
    description="The value must be an absolute http(s) URL (https only with requireHttps).",
    params=(Param("requireHttps", bool, "Refuse plain http URLs.", False),),
)
def validate_url(value, *, requireHttps: bool):
    if not isinstance(value, str) or len(value) > MAX_URL:
        return "must be a valid URL such as https://example.com"
    try:
        _http_url(value)
    except ValidationError:
        return "must be a valid URL such as https://example.com"
    if requireHttps and not value.lower().startswith("https://"):
        return "must be an https URL"
    return None


E164 = re.compile(r"\+[1-9][0-9]{7,14}")


@handler(
    "validateE164Phone",
    kind=VALIDATION,
    description="The value must be a phone number in E.164 form (+14155552671).",
)
def validate_e164_phone(value):
    if not isinstance(value, str) or not E164.fullmatch(value):
        return "must be a phone number in international form, such as +14155552671"
    return None


@handler("validateIsoDate", kind=VALIDATION, description="The value must be a real date written YYYY-MM-DD.")
def validate_iso_date(value):
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return "must be a date written YYYY-MM-DD, such as 2025-11-23"


# --- Submit handlers: the part of the request body a field becomes.

BODY_KEY = re.compile(FIELD_KEY_PATTERN.pattern)
BODY_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}(\.[A-Za-z][A-Za-z0-9_]{0,63}){0,4}")


@handler(
    "wrapInArray",
    kind=SUBMIT,
    description="Sends the value as a one-item list: 'a' → ['a'] (lists stay as they are).",
)
def wrap_in_array(field_key, value):
    return {field_key: value if isinstance(value, list) else [value]}


@handler(
    "splitFullName",
    kind=SUBMIT,
    description=(
        "Sends 'Ada King Lovelace' as first name 'Ada' and last name 'King Lovelace'. A single word "
        "becomes the last name, which CRMs such as Salesforce require."
    ),
    params=(
        Param("firstKey", str, "Body key of the first name.", "first_name", pattern=BODY_KEY),
        Param("lastKey", str, "Body key of the last name.", "last_name", pattern=BODY_KEY),
    ),
)
def split_full_name(field_key, value, *, firstKey: str, lastKey: str):
    if not isinstance(value, str):
        raise HandlerInputError("must be a name")
    words = value.split()
    if not words:
        return {}
    if len(words) == 1:
        return {lastKey: words[0]}
    return {firstKey: words[0], lastKey: " ".join(words[1:])}


@handler(
    "renameTo",
    kind=SUBMIT,
    description="Sends the value under another body key (e.g. email → Email for Salesforce).",
    params=(Param("key", str, "The body key to use.", pattern=BODY_KEY),),
)
def rename_to(field_key, value, *, key: str):
    return {key: value}


@handler(
    "nestUnder",
    kind=SUBMIT,
    description=(
        "Sends the value inside an object: path 'properties' gives {\"properties\": {field: value}}; "
        'with key \'firstname\', {"properties": {"firstname": value}} (HubSpot).'
    ),
    params=(
        Param(
            "path",
            str,
            "Dotted path of the enclosing object, e.g. properties or fields.custom.",
            pattern=BODY_PATH,
        ),
        Param("key", str, "Body key inside the object (the field's key when empty).", None, pattern=BODY_KEY),
    ),
)
def nest_under(field_key, value, *, path: str, key: str | None):
    part: dict = {key or field_key: value}
    for segment in reversed(path.split(".")):
        part = {segment: part}
    return part
