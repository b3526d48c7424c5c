"""The API envelope: every /api/ response says ``success``; every error looks like

    {"success": false, "message": "...", "error": "...", "errors": ["..."]}

This module is the single place where exceptions become API responses.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import ApplicationError, TooManyRequests

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

_MESSAGES: dict[type[exceptions.APIException], str] = {
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


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, expected or not, in the envelope."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        set_rollback()
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after)
        body = error_body(exc.message, error=exc.error, errors=exc.errors)
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.exception("Unhandled error in %s", type(view).__name__ if view else "API view")
        set_rollback()
        return Response(error_body("Internal server error"), status=500)

    set_rollback()
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
    return Response(body, status=exc.status_code, headers=headers)


def json_error(status_code: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(message), status=status_code)


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiErrorMiddleware:
    """Errors raised outside DRF views (middleware, URL resolution) on /api/ paths
    still answer in the envelope, never with Django's HTML error pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_api_request(request):
            return None
        if isinstance(exception, Http404):
            return json_error(404, "Not found")
        if isinstance(exception, DjangoPermissionDenied):
            return json_error(403, "Permission denied")
        logger.exception("Unhandled error on %s", request.path)
        return json_error(500, "Internal server error")
