"""The API envelope: every /api/ response says ``success``; every error looks like

    {"success": false, "message": "...", "error": "...", "errors": ["..."]}

This module is the single place where exceptions become API responses.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest as DjangoBadRequest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, JsonResponse
from django.utils.cache import patch_vary_headers
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from core.api.parsers import RequestBodyTooLarge
from core.errors import ApplicationError, TooManyRequests

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class ServerError(exceptions.APIException):
    """What any unexpected error becomes: its text (which may hold secrets) is never shown."""

    status_code = 500
    default_detail = "Internal server error"


class BadRequest(exceptions.APIException):
    """A request Django refused before any view ran (a host not in ALLOWED_HOSTS, …)."""

    status_code = 400
    default_detail = "Bad request"


_MESSAGES: dict[type[exceptions.APIException], str] = {
    BadRequest: "Bad request",
    exceptions.NotAuthenticated: "Authentication required",
    exceptions.AuthenticationFailed: "Authentication failed",
    exceptions.PermissionDenied: "Permission denied",
    exceptions.NotFound: "Not found",
    exceptions.MethodNotAllowed: "Method not allowed",
    exceptions.NotAcceptable: "Not acceptable",
    exceptions.UnsupportedMediaType: "Unsupported media type",
    exceptions.Throttled: "Too many requests",
    exceptions.ParseError: "Malformed request body",
}


class _Success(serializers.Serializer):
    success = serializers.BooleanField()


def envelope(name: str, **fields: serializers.Field) -> type[serializers.Serializer]:
    """The OpenAPI shape of a success answer: ``success``, then ``fields`` in the order given.

    ``name`` is the schema component's name. Answers themselves are built with ``ok()``.
    """
    return type(name, (_Success,), {"__module__": __name__, **fields})


def ok(status_code: int = 200, **payload: Any) -> Response:
    """A success response in the envelope."""
    return Response({"success": True, **payload}, status=status_code)


def error_body(message: str, *, error: str | None = None, errors: list[str] | None = None) -> dict:
    body: dict[str, Any] = {"success": False, "message": message}
    if error is not None:
        body["error"] = error
    if errors is not None:
        body["errors"] = errors
    return body


def validation_messages(detail: Any, path: str = "") -> list[str]:
    """Flatten DRF's nested error detail into readable strings: ``credentials.clientId is required``."""
    if isinstance(detail, dict):
        messages: list[str] = []
        for key, value in detail.items():
            child = (
                path if key in ("non_field_errors", "__all__") else (f"{path}.{key}" if path else str(key))
            )
            messages.extend(validation_messages(value, child))
        return messages
    if isinstance(detail, list):
        messages = []
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list)):
                messages.extend(validation_messages(item, f"{path}[{index}]"))
            else:
                messages.extend(validation_messages(item, path))
        return messages
    text = str(detail)
    code = getattr(detail, "code", None)
    if not path:
        return [text]
    if code == "required":
        return [f"{path} is required"]
    if code in ("null", "blank"):
        return [f"{path} cannot be empty"]
    if path in text:  # the message already names its field
        return [text]
    return [f"{path}: {text}"]


def _as_api_exception(exc: Exception, where: str) -> exceptions.APIException:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return RequestBodyTooLarge()
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return BadRequest(
            f"Too many query or form parameters (more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})"
        )
    if type(exc) is DjangoBadRequest:
        return BadRequest(str(exc) or None)  # raised by our own checks, with a message for the caller
    if isinstance(exc, (SuspiciousOperation, DjangoBadRequest)):
        return BadRequest()
    logger.error("Unhandled error in %s", where, exc_info=exc)
    return ServerError()


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER, and the only place an error becomes an /api/ response: every
    error, expected or not, in the envelope. Django's own error handlers call it for /api/ paths."""
    set_rollback()
    if isinstance(exc, ApplicationError):
        retry_after = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else {}
        body = error_body(exc.message, error=exc.error, errors=exc.errors)
        return Response(body, status=exc.status_code, headers=retry_after)
    view = context.get("view")
    exc = _as_api_exception(exc, type(view).__name__ if view else "API view")
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        body = error_body("Validation error", errors=validation_messages(exc.detail))
    else:
        message = next((text for cls, text in _MESSAGES.items() if isinstance(exc, cls)), None) or str(
            exc.detail
        )
        detail = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else None
        body = error_body(message, error=detail if detail and detail != message else None)
    if not _renders_json(context):
        # A view with its own renderers (the OpenAPI document, Swagger UI) still errs in JSON.
        return JsonResponse(body, status=exc.status_code, headers=headers)
    return Response(body, status=exc.status_code, headers=headers)


def _renders_json(context: dict) -> bool:
    renderer = getattr(context.get("request"), "accepted_renderer", None)
    if renderer is None:
        renderer = (getattr(context.get("view"), "renderer_classes", None) or [JSONRenderer])[0]
    return renderer.media_type in ("application/json", "text/html") and renderer.format in ("json", "api")


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error_response(request, exc: Exception) -> Response:
    """``exception_handler``'s answer for an error raised outside DRF's views (URL resolution,
    middleware), rendered as JSON since no view negotiated a renderer."""
    response = exception_handler(exc, {"request": request})
    response.accepted_renderer = JSONRenderer()
    response.accepted_media_type = JSONRenderer.media_type
    response.renderer_context = {}
    return response.render()


def unnegotiated_response(request, *, allow: str, data: Any = None, exc: Exception | None = None) -> Response:
    """The answer a DRF view of this API gives a caller that takes JSON without negotiating
    (``negotiation.answers_json_unnegotiated``), for a hot path that skips DRF's dispatch (the
    proxy): ``data`` with 200, or the envelope for ``exc``; the first renderer's JSON, with the
    ``Vary`` and ``Allow`` headers DRF's own answer carries."""
    if exc is None:
        response = Response(data)
    else:
        response = exception_handler(exc, {"request": request})
        response.exception = True
    renderer = api_settings.DEFAULT_RENDERER_CLASSES[0]()
    response.accepted_renderer = renderer
    response.accepted_media_type = renderer.media_type
    response.renderer_context = {"request": request}
    patch_vary_headers(response, ["Accept"])
    response["Allow"] = allow
    return response
