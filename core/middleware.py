"""Request id and request metrics (the two outermost middleware, kept cheap: every request pays
them), and the checks of a URL that hold for every route."""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import asdict
from time import perf_counter
from urllib.parse import unquote_plus

from csp.constants import HEADER as CSP_HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.signals import request_finished
from django.utils import timezone

from core import request_context
from core.api.parsers import unstorable_text_problem
from core.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

access_logger = logging.getLogger("connections.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_META_HEADER = "HTTP_" + request_context.HEADER.upper().replace("-", "_")


class RequestIdMiddleware:
    """Bind the request id for the request's log lines and tasks, and answer it in ``X-Request-ID``.

    The unit of work ends at ``request_finished``, not here: Django writes its "Not Found: …" line
    after the middleware returned."""

    def __init__(self, get_response):
        self.get_response = get_response
        request_finished.connect(_end_request, dispatch_uid="core.request_context.end")

    def __call__(self, request):
        request.request_id = request_context.accepted_request_id(request.META.get(_META_HEADER))
        request_context.begin(request_id=request.request_id)
        response = self.get_response(request)
        response[request_context.HEADER] = request.request_id
        return response


def _end_request(**kwargs) -> None:
    request_context.end()


def route_label(request) -> str:
    """The URL pattern that answered (``api/user-integrations/<str:connection_id>``), never the path:
    paths carry ids. Static files and paths nothing matched get one label each."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.route or match.view_name or "unnamed"
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"


class MetricsMiddleware:
    """Count every answered request by route pattern and status, time it, and write the access log
    line (``connections.access``, ACCESS_LOG): method, path without its query string (which may
    carry a key), status and milliseconds; the request id comes with every line."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.log_access = settings.ACCESS_LOG and access_logger.isEnabledFor(logging.INFO)

    def __call__(self, request):
        started = perf_counter()
        response = self.get_response(request)
        elapsed = perf_counter() - started
        method = request.method if request.method in _METHODS else "other"
        route = route_label(request)
        HTTP_REQUEST_DURATION.labels(method, route).observe(elapsed)
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        if self.log_access:
            access_logger.info("%s %s %s %.0f ms", method, request.path, response.status_code, elapsed * 1000)
        return response


class RefuseUnstorableUrls:
    """A NUL character in a URL's path or query string is a 400, before any view sees it.

    No id, filter or page address legitimately holds one, and PostgreSQL cannot store or
    compare it: let through, it would end in a 500 wherever the value reaches a query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = unquote_plus(request.META.get("QUERY_STRING", ""), errors="replace")
        for where, text in (("path", request.path), ("query string", query)):
            problem = unstorable_text_problem(text)
            if problem:
                raise BadRequest(f"The URL's {where} is not valid: {problem}")
        return self.get_response(request)


_PER_RESPONSE_POLICY = tuple(
    f"_csp_{part}{suffix}" for part in ("config", "update", "replace") for suffix in ("", "_ro")
)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, except that DEBUG's 404 page gets the policy too (django-csp leaves
    it out for the page's inline styles: it renders unstyled, but no 404 is ever unguarded).

    A response without a nonce or a policy of its own (every API answer) gets the header built
    once from the settings: building it is most of the middleware's work."""

    _built: tuple[object, str] | None = None  # (the settings' policy, its header)

    def process_response(self, request, response):
        if self._settings_policy_applies(request, response):
            if CSP_HEADER not in response and not getattr(response, "_csp_exempt", False):
                response[CSP_HEADER] = self._settings_header()
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
            return response
        response = super().process_response(request, response)
        if settings.DEBUG and response.status_code == 404 and CSP_HEADER not in response:
            policy = build_policy(**asdict(self.get_policy_parts(request=request, response=response)))
            if policy:
                response[CSP_HEADER] = policy
        return response

    def _settings_policy_applies(self, request, response) -> bool:
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        return (
            bool(policy)
            and not settings.DEBUG
            and "EXCLUDE_URL_PREFIXES" not in policy
            and not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            and getattr(request, "_csp_nonce", None) is None
            and not any(hasattr(response, name) for name in _PER_RESPONSE_POLICY)
        )

    def _settings_header(self) -> str:
        policy = settings.CONTENT_SECURITY_POLICY
        built = self._built
        if built is None or built[0] is not policy:  # settings changed (tests override them)
            built = self._built = (policy, build_policy())
        return built[1]


class UserTimeZoneMiddleware:
    """Dates in the user's own time zone: the browser names it in the ``tz`` cookie
    (static/js/dates.js); without it, or with an unknown name, pages use UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get("tz", "")
        try:
            zone = zoneinfo.ZoneInfo(name) if name else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)
