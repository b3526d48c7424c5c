"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core import health, metrics


@never_cache
@require_safe
def healthz(request) -> JsonResponse:
    """The process is up and answering; touches nothing else (a liveness probe)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request) -> JsonResponse:
    """200 when the database, cache and broker answer and a worker was seen in the last minute;
    503 naming what failed otherwise."""
    results = health.readiness()
    ready = all(result.ok for result in results)
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {
            result.name: {"ok": result.ok, "detail": result.detail, "ms": result.milliseconds}
            for result in results
        },
    }
    if not ready:
        body["failed"] = [result.name for result in results if not result.ok]
    return JsonResponse(body, status=200 if ready else 503)


def _metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS)


@never_cache
@require_safe
def metrics_view(request) -> HttpResponse:
    """Prometheus exposition, for ``Authorization: Bearer <METRICS_TOKEN>`` or METRICS_ALLOWED_IPS."""
    if not _metrics_allowed(request):
        if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_IPS:
            message = "Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_IPS.\n"
        else:
            message = "Send Authorization: Bearer <METRICS_TOKEN> or scrape from METRICS_ALLOWED_IPS.\n"
        return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
    body, content_type = metrics.render(accept=request.headers.get("Accept"))
    return HttpResponse(body, content_type=content_type)
