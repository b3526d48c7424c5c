"""The stack's ceiling: a one-file Django project with only CommonMiddleware, no database and no
authentication, answering JSON of the same shape and size as the app's endpoints from plain
views. ``bench_connections_api`` serves it with the same gunicorn settings as the app and
compares the two.

    gunicorn bench.ceiling:application   # with CEILING_PAYLOADS=<file>

``CEILING_PAYLOADS`` names a JSON file ``{"detail": {...}, "my_connections": {...}}``: bodies the
app itself answered. Each request serializes its body again, as a view building JSON would.
"""

import json
import os

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path

from bench import WORKER_HEADER

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-ceiling-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
    LOGGING_CONFIG=None,
)
django.setup()

with open(os.environ["CEILING_PAYLOADS"]) as payloads:
    PAYLOADS = json.load(payloads)


def answer(name: str):
    def view(request):
        return JsonResponse(PAYLOADS[name])

    return view


def bare(request):
    response = JsonResponse({"success": True, "message": "ok"})
    response[WORKER_HEADER] = str(os.getpid())
    return response


urlpatterns = [
    path("ceiling/detail", answer("detail")),
    path("ceiling/my-connections", answer("my_connections")),
    path("bench/bare", bare),
]

application = get_wsgi_application()
