"""The app's URLs plus ``/bench/bare``: the cheapest JSON answer Django gives through the same
middleware, the baseline the API endpoints are compared with."""

import os

from django.http import JsonResponse
from django.urls import include, path

from bench import WORKER_HEADER
from config.urls import handler400, handler403, handler404, handler500  # noqa: F401 (Django reads them here)

BARE_BODY = {"success": True, "message": "ok"}


def bare(request):
    response = JsonResponse(BARE_BODY)
    response[WORKER_HEADER] = str(os.getpid())
    return response


urlpatterns = [
    path("bench/bare", bare, name="bench-bare"),
    path("", include("config.urls")),
]
