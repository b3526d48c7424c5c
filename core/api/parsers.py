"""The API's only request parser: JSON, bounded in size, depth and number range, and free of the
characters no database column can hold, so nothing past it has to guard against them."""

import json
import math

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

# Far deeper than any document the API takes (an auth schema nests about 6 levels).
MAX_DEPTH = 64
# Integers must fit a 64-bit column; a longer digit string is refused before it is converted.
MAX_INTEGER = 2**63 - 1
MAX_INTEGER_DIGITS = len(str(MAX_INTEGER))


class RequestBodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large"
    default_code = "request_too_large"


class _Refused(ValueError):
    """Why a body that is well-formed JSON is still refused (the message is shown)."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS or abs(int(text)) > MAX_INTEGER:
        raise _Refused(f"the number {text[:24]}{'…' if len(text) > 24 else ''} is too large")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:24]} is out of range")
    return value


def _refuse_constant(name: str):
    raise _Refused(f"{name} is not a JSON number")


def unstorable_text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "text may not contain NUL (\\u0000) characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text may not contain unpaired surrogates (\\ud800-\\udfff)"
    return None


def _check(value, depth: int = 0) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings (keys too) no column can store."""
    if depth > MAX_DEPTH:
        raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        problem = unstorable_text_problem(value)
        if problem:
            raise _Refused(problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def parse_json_body(data: bytes):
    """``data`` parsed as JSON under the rules above; ``ParseError`` (400) saying why not."""
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
        _check(value)
    except UnicodeDecodeError:
        raise exceptions.ParseError("the body is not UTF-8") from None
    except RecursionError:
        raise exceptions.ParseError(f"nested more than {MAX_DEPTH} levels deep") from None
    except _Refused as exc:
        raise exceptions.ParseError(str(exc)) from None
    except ValueError as exc:
        raise exceptions.ParseError(f"JSON parse error - {exc}") from None
    return value


class LimitedJSONParser(JSONParser):
    """JSON only, and no more than API_MAX_BODY_BYTES of it (413 otherwise)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestBodyTooLarge()
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise RequestBodyTooLarge()
        return parse_json_body(data)
