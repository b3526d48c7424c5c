"""Log lines: JSON with LOG_FORMAT=json, the request id on every line of a request and of the tasks it
queues (on a real worker), and no secret in any line, in any encoding core.redaction knows."""

import io
import json
import logging
import re
import secrets
import uuid
from contextlib import contextmanager

import pytest
import redis

from connections import encryption, test_run_services
from connections.models import CheckRun
from core import request_context
from core.log_format import JsonFormatter, PlainFormatter
from core.redaction import basic_pair_forms, secret_forms
from tests.connections.factories import local_connection, local_provider
from tests.connections.task_queue import REDIS_URL, RealWorker, broker, drop_redis_queue, wait_for
from tests.provider_server import USERNAME


def canary() -> str:
    return f"canary-{secrets.token_urlsafe(12)}"


def leaked_forms(text: str, *secrets_: str) -> list[str]:
    """The forms of ``secrets_`` (and of username:secret pairs) found in ``text``."""
    forms = set()
    for secret in secrets_:
        forms |= secret_forms(secret) | basic_pair_forms(USERNAME, secret)
    return sorted(form for form in forms if form in text)


@contextmanager
def captured_logs(formatter: logging.Formatter, *, level=logging.DEBUG):
    """Every record from any logger, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


@pytest.fixture
def local(provider_server, allow_local_provider):
    return local_provider(provider_server.origin)


def test_json_lines_carry_the_request_id_and_plain_lines_too(key_client):
    with captured_logs(JsonFormatter()) as stream:
        response = key_client.get("/api/user-integrations/conn_nope", HTTP_X_REQUEST_ID="req-json-000001")
    assert response.status_code == 404
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert not_found and not_found[0]["request_id"] == "req-json-000001"
    assert not_found[0]["level"] == "WARNING" and "Not Found" in not_found[0]["message"]
    assert {"time", "level", "logger", "message"} <= set(not_found[0])

    with captured_logs(PlainFormatter()) as stream:
        key_client.get("/api/user-integrations/conn_nope", HTTP_X_REQUEST_ID="req-plain-00001")
    assert "[request_id=req-plain-00001]" in stream.getvalue()


def test_any_line_written_after_a_secret_was_decrypted_masks_it_in_every_encoding(db):
    secret = canary()
    token = encryption.encrypt_json({"username": USERNAME, "password": secret}, bound_to="conn_x")
    forms = sorted(secret_forms(secret) | basic_pair_forms(USERNAME, secret))
    with captured_logs(JsonFormatter()) as stream, request_context.work(request_id="req-mask-000001"):
        encryption.decrypt_json(token, bound_to="conn_x")
        for form in forms:
            logging.getLogger("some.library").warning("the provider said: %s!", form)
        logging.getLogger("some.library").error("GET https://%s:%s@api.example/x", USERNAME, secret)
    output = stream.getvalue()
    assert output.count("the provider said: ***!") == len(forms)
    assert leaked_forms(output, secret) == []


def test_well_known_credential_shapes_are_masked_whoever_logs_them():
    with captured_logs(PlainFormatter()) as stream, request_context.work(request_id=None):
        request_context.hide_in_logs(["Bearer"])  # a token type stored beside the token
        log = logging.getLogger("requests.somewhere")
        log.info("Authorization: Bearer abc.DEF-123_xyz")
        log.info("GET https://bob:hunter2-pass@api.example/v1?limit=5&api_key=k3y-VALUE&x=1")
        log.info('token response {"access_token": "at-123456", "refresh_token":"rt-987654"}')
        log.info("Basic authentication is required")  # words stay words
        log.info("test by api-key:ci-robot (af87e78e)")  # and labels labels
    output = stream.getvalue()
    for value in ("abc.DEF-123_xyz", "hunter2-pass", "k3y-VALUE", "at-123456", "rt-987654"):
        assert value not in output
    assert "limit=5" in output and "Basic authentication is required" in output
    assert "api-key:ci-robot" in output


def test_a_rejected_secret_echoed_by_the_provider_is_never_logged(key_client, user, local):
    """Inline tests of three auth methods with canary credentials; urllib3 logs every request line
    (query strings included) at DEBUG; the provider quotes the credentials back."""
    key, password, token = canary(), canary(), canary()
    connections = [
        local_connection(local, user=user, auth_method_id="query", credentials={"apiKey": key}),
        local_connection(
            local, user=user, auth_method_id="basic", credentials={"username": USERNAME, "password": password}
        ),
        local_connection(local, user=user, credentials={"token": token}),
    ]
    with captured_logs(JsonFormatter()) as stream:
        for connection in connections:
            response = key_client.post(f"/api/user-integrations/{connection.connection_id}/test")
            assert response.status_code == 400
            assert response.json()["message"] == "Connection test failed"
        details = [key_client.get(f"/api/user-integrations/{c.connection_id}") for c in connections]
    output = stream.getvalue()
    assert "api_key=***" in output  # urllib3 logged the request line, masked
    assert all(response.status_code == 200 for response in details)
    assert leaked_forms(output, key, password, token) == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_request_id_follows_a_queued_test_into_the_worker_logs(tmp_path, key_client, user, local):
    queue = f"test-logs-{uuid.uuid4().hex[:12]}"
    redis.Redis.from_url(REDIS_URL).ping()
    key = canary()
    connection = local_connection(local, user=user, auth_method_id="query", credentials={"apiKey": key})
    request_id = f"trace-{uuid.uuid4().hex}"
    try:
        with RealWorker(tmp_path, queue, LOG_FORMAT="json", LOG_LEVEL="DEBUG") as worker:
            with broker(REDIS_URL, queue=queue), captured_logs(JsonFormatter()) as web_log:
                response = key_client.post(
                    f"/api/user-integrations/{connection.connection_id}/test?async=true",
                    HTTP_X_REQUEST_ID=request_id,
                )
            assert response.status_code == 202
            assert wait_for(lambda: CheckRun.objects.filter(status="error").exists(), 30), worker.log
            assert wait_for(lambda: "test run" in worker.log and "401" in worker.log, 10)
            output = worker.log
    finally:
        drop_redis_queue(queue)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    task_lines = [line for line in lines if line.get("request_id") == request_id]
    assert task_lines, output
    assert {line["task"] for line in task_lines} == {"connections.execute_test_run"}
    # The test's own outcome line, written by the app on the worker.
    assert any(line["logger"].startswith("connections.") and "401" in line["message"] for line in task_lines)
    assert leaked_forms(output, key) == []
    assert leaked_forms(web_log.getvalue(), key) == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_chunks_provider_calls_log_under_the_request_id_that_queued_them(tmp_path, user, local):
    queue = f"test-logs-{uuid.uuid4().hex[:12]}"
    redis.Redis.from_url(REDIS_URL).ping()
    keys = [canary(), canary()]
    connections = [
        local_connection(local, user=user, auth_method_id="query", credentials={"apiKey": key})
        for key in keys
    ]
    request_id = f"trace-{uuid.uuid4().hex}"
    try:
        with RealWorker(tmp_path, queue, LOG_FORMAT="json", LOG_LEVEL="DEBUG") as worker:
            with broker(REDIS_URL, queue=queue), request_context.work(request_id=request_id):
                runs = test_run_services.test_run_enqueue_many(
                    connections=connections, actor="tests", trigger="command"
                )
            pks = [run.pk for run in runs]
            assert wait_for(lambda: CheckRun.objects.filter(pk__in=pks, status="error").count() == 2, 30), (
                worker.log
            )
            assert wait_for(lambda: worker.log.count(" of conn_") >= 2, 10)
            output = worker.log
    finally:
        drop_redis_queue(queue)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    task_lines = [line for line in lines if line.get("request_id") == request_id]
    # urllib3 writes its request lines on the provider-call threads, one per call of the chunk.
    calls = [
        line
        for line in task_lines
        if line["logger"].startswith("urllib3") and "/query-key" in line["message"]
    ]
    assert len(calls) == 2, output
    assert {line["task"] for line in task_lines} == {"connections.execute_test_run"}
    assert leaked_forms(output, *keys) == []


def test_every_request_gets_an_access_line_without_its_query_string(client, db):
    with captured_logs(JsonFormatter(), level=logging.INFO) as stream:
        client.get("/healthz?api_key=not-in-logs-123", HTTP_X_REQUEST_ID="req-access-0001")
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines() if '"connections.access"' in line]
    assert line["request_id"] == "req-access-0001"
    assert re.fullmatch(r"GET /healthz 200 \d+ ms", line["message"])
    assert "not-in-logs-123" not in stream.getvalue()
