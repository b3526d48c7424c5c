"""Every /api/ error, DRF's own included, answers in the envelope and never as an HTML page."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import path
from rest_framework.test import APIClient

from config import urls as project_urls

pytestmark = pytest.mark.django_db


def assert_envelope(response, status_code, message=None):
    assert response.status_code == status_code
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"success", "message", "error", "errors"}
    if message:
        assert body["message"] == message
    assert "Traceback" not in response.content.decode()
    return body


def test_anonymous_call_is_401(anon_client):
    response = anon_client.get("/api/users")
    assert_envelope(response, 401, "Authentication required")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bad_api_key_is_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer ck_nothing_here")
    assert_envelope(anon_client.get("/api/users"), 401, "Authentication failed")


def test_revoked_api_key_is_401(db):
    from accounts.api_keys import api_key_create, api_key_revoke

    api_key, raw = api_key_create(name="old")
    api_key_revoke(api_key=api_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_envelope(client.get("/api/users"), 401)


def test_unknown_api_path_is_404(key_client):
    assert_envelope(key_client.get("/api/no-such-thing"), 404, "Not found")


def test_unknown_api_path_is_404_json_even_with_debug(key_client, settings):
    settings.DEBUG = True
    assert_envelope(key_client.get("/api/no-such-thing/deeper"), 404)


def test_wrong_method_is_405(key_client):
    assert_envelope(key_client.delete("/api/users"), 405, "Method not allowed")


def test_unsupported_media_type_is_415(key_client):
    response = key_client.post("/api/users", "userId=x", content_type="application/x-www-form-urlencoded")
    assert_envelope(response, 415, "Unsupported media type")


def test_malformed_json_is_400(key_client):
    response = key_client.post("/api/users", '{"userId": ', content_type="application/json")
    body = assert_envelope(response, 400, "Malformed request body")
    assert "JSON parse error" in body["error"]


def test_oversized_body_is_413(key_client, settings):
    settings.API_MAX_BODY_BYTES = 1000
    response = key_client.post("/api/users", {"name": "x" * 5000}, format="json")
    assert_envelope(response, 413, "Request body too large")


def test_writes_are_throttled_with_429(key_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"writes": "2/min"}}
    for _ in range(2):
        key_client.post("/api/users", {}, format="json")
    response = key_client.post("/api/users", {}, format="json")
    assert_envelope(response, 429, "Too many requests")
    assert int(response["Retry-After"]) > 0
    # Reads are not throttled.
    assert key_client.get("/api/users").status_code == 200


def test_unexpected_exception_is_500_without_details(key_client, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("accounts.api.views.user_list", explode)
    response = key_client.get("/api/users")
    assert_envelope(response, 500, "Internal server error")
    assert "hunter2" not in response.content.decode()


def test_validation_messages_are_readable_strings(key_client):
    body = assert_envelope(key_client.post("/api/users", {"userId": ""}, format="json"), 400)
    assert body["errors"] == ["userId cannot be empty", "name is required", "email is required"]


@override_settings(ROOT_URLCONF="config.urls")
def test_csrf_is_enforced_for_session_writes(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.patch(f"/api/users/{user.user_id}", {"name": "x"}, format="json")
    body = assert_envelope(response, 403, "Permission denied")
    assert "CSRF" in body["error"]


def test_disallowed_host_is_400_json(key_client):
    response = key_client.get("/api/users", HTTP_HOST="evil.example")
    assert_envelope(response, 400, "Bad request")


# This module doubles as a URLconf: plain Django views under /api/, outside DRF's handling.
def _crash(request):
    raise RuntimeError("database password is hunter2")


def _forbidden(request):
    raise PermissionDenied("internal rule 7")


urlpatterns = [path("api/crash", _crash), path("api/forbidden", _forbidden), *project_urls.urlpatterns]
handler400, handler403 = project_urls.handler400, project_urls.handler403
handler404, handler500 = project_urls.handler404, project_urls.handler500


@override_settings(ROOT_URLCONF=__name__)
def test_a_crash_outside_the_api_views_is_500_in_the_envelope():
    response = Client(raise_request_exception=False).get("/api/crash")
    assert_envelope(response, 500, "Internal server error")
    assert "hunter2" not in response.content.decode()


@override_settings(ROOT_URLCONF=__name__)
def test_permission_denied_outside_the_api_views_is_403_in_the_envelope():
    body = assert_envelope(Client().get("/api/forbidden"), 403, "Permission denied")
    assert "rule 7" not in str(body)


@override_settings(ROOT_URLCONF=__name__)
def test_pages_keep_django_error_pages():
    response = Client().get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_unknown_api_path_needs_no_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert_envelope(client.post("/api/no-such-thing", {}, format="json"), 404, "Not found")
