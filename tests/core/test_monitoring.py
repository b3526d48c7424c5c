"""/healthz, /readyz and /metrics through the public surface."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from core.heartbeats import heartbeat_record
from core.models import ProcessHeartbeat
from tests.connections.factories import ConnectionFactory
from tests.connections.task_queue import broker

UNREACHABLE = "redis://127.0.0.1:1/0"
METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture
def worker_seen(db):
    heartbeat_record(kind=ProcessHeartbeat.Kind.WORKER, name="celery@tests", started_at=timezone.now())


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = []


def scrape(client: Client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample of the exposition, 0 when it is absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_healthz_answers_without_touching_the_database(client):
    # No db fixture: any query would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_every_part_answers_and_a_worker_was_seen(client, worker_seen):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "cache",
        "broker",
        "workers",
    }


def test_readyz_names_the_missing_worker(client, db):
    ProcessHeartbeat.objects.create(
        kind=ProcessHeartbeat.Kind.WORKER,
        name="celery@gone",
        started_at=timezone.now() - timezone.timedelta(hours=1),
        last_seen=timezone.now() - timezone.timedelta(minutes=2),
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["workers"]
    assert body["checks"]["workers"]["detail"] == "no worker seen in the last 60 s"


def test_readyz_names_a_cache_and_broker_that_are_down_without_their_address(client, worker_seen, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": UNREACHABLE}
    }
    with broker(UNREACHABLE, transport_options={"socket_connect_timeout": 1}):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["cache", "broker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["workers"]["ok"]
    assert "127.0.0.1" not in response.content.decode()
    assert body["checks"]["cache"]["detail"].startswith("unreachable (")


def test_metrics_are_off_until_a_token_or_allowlist_is_set(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content


def test_metrics_refuse_a_wrong_token_and_accept_the_allowlist(client, metrics_on, settings):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 403
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403


def test_metrics_count_requests_by_route_pattern_never_by_id(client, metrics_on, key_client):
    connection = ConnectionFactory()
    before = scrape(client)
    route = "api/user-integrations/<str:connection_id>"
    assert key_client.get(f"/api/user-integrations/{connection.connection_id}").status_code == 200
    assert key_client.get("/api/user-integrations/conn_missing").status_code == 404
    after = scrape(client)
    for status in ("200", "404"):
        counted = sample(after, "connections_http_requests_total", method="GET", route=route, status=status)
        previous = sample(before, "connections_http_requests_total", method="GET", route=route, status=status)
        assert counted - previous == 1
    assert sample(after, "connections_http_request_duration_seconds_count", method="GET", route=route) >= 2
    assert connection.connection_id not in after
    assert "conn_missing" not in after
    assert str(connection.user.user_id) not in after


def test_metrics_show_the_broker_queue_depth(client, metrics_on):
    text = scrape(client)
    assert sample(text, "connections_broker_up") == 1
    assert "connections_queue_depth{" in text


def test_every_answer_carries_a_request_id_and_a_sane_incoming_one_is_kept(client, db):
    generated = client.get("/healthz")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/healthz")["X-Request-ID"] != generated
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a2c9e-0001")
    assert kept["X-Request-ID"] == "lb-7f3a2c9e-0001"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="x\r\nlevel=ERROR forged")
    assert re.fullmatch(r"[0-9a-f]{32}", forged["X-Request-ID"])
    api = client.get("/api/user-integrations/my-connections", HTTP_X_REQUEST_ID="api-request-0001")
    assert api.status_code == 401 and api["X-Request-ID"] == "api-request-0001"
