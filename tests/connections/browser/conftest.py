"""Browser-test fixtures for the connection pages."""

import uuid

import pytest

from integrations.documents import validate_document
from tests.connections.factories import integration_from_document
from tests.connections.task_queue import REDIS_URL, RealWorker, broker, drop_redis_queue


@pytest.fixture
def local_provider(provider_server, allow_local_provider):
    """An integration whose test request is the provider server's HTTP basic endpoint (on
    127.0.0.1 over plain http, so allowlisted)."""
    document = validate_document(
        {
            "id": "localtest",
            "displayName": "Local Test Provider",
            "description": "A provider running on this machine for the browser tests",
            "category": "testing",
            "status": "active",
            "baseUrl": provider_server.url("").rstrip("/"),
            "allowedHosts": ["127.0.0.1"],
            "testRequest": {"method": "GET", "path": "/basic", "expectedStatus": [200]},
            "authMethods": [
                {
                    "id": "basic",
                    "type": "BASIC",
                    "label": "Username and password",
                    "description": "Your account's username and password",
                    "fields": [
                        {"name": "username", "label": "Username", "type": "string", "required": True},
                        {
                            "name": "password",
                            "label": "Password",
                            "type": "password",
                            "required": True,
                            "helpText": "Sent with HTTP basic authentication.",
                        },
                    ],
                    "additionalFields": [],
                    "apply": {"type": "basic", "username": "{{username}}", "password": "{{password}}"},
                }
            ],
        }
    )
    return integration_from_document(document, icon_url="")


@pytest.fixture(scope="module")
def module_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker on its own queue of the real Redis, started once for the module's
    tests (a start costs seconds): each test's database is the same file or database."""
    queue = f"test-browser-{uuid.uuid4().hex[:10]}"
    try:
        with RealWorker(tmp_path_factory.mktemp("worker"), queue) as worker:
            yield worker
    finally:
        drop_redis_queue(queue)


@pytest.fixture
def live_worker(module_worker, local_provider):
    """A real Celery worker on real Redis that runs the pages' asynchronous tests (the Test
    button posts ``?async=true`` and polls), with the live server publishing to its queue."""
    with broker(REDIS_URL, queue=module_worker.queue):
        yield module_worker
