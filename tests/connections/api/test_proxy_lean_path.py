"""The proxy's lean path (a JSON POST with an API key, answered without DRF's dispatch) answers
exactly as the viewset does: same status, headers and bytes, successes and errors alike."""

import re

import pytest

from connections.api import views
from connections.models import Connection
from tests.connections.factories import local_connection, local_provider

pytestmark = pytest.mark.django_db

UNCOMPARED = {"X-Request-ID"}  # one per request


@pytest.fixture
def local(provider_server, allow_local_provider, settings):
    settings.PROXY_RETRY_BACKOFF = 0.01
    return local_provider(provider_server.origin)


@pytest.fixture
def viewset_calls(monkeypatch):
    """How many requests reached the viewset rather than the lean path."""
    calls = []
    viewset = views._proxy_viewset

    def counted(request, **kwargs):
        calls.append(request.path)
        return viewset(request, **kwargs)

    monkeypatch.setattr(views, "_proxy_viewset", counted)
    return calls


def both_ways(client, connection_id, payload):
    """The answer of the lean path, then of the viewset (``?format=json`` makes DRF negotiate)."""
    url = f"/api/user-integrations/{connection_id}/proxy"
    return [client.post(address, payload, format="json") for address in (url, url + "?format=json")]


def comparable(response):
    headers = {name: value for name, value in response.items() if name not in UNCOMPARED}
    # The provider's Date header, passed back, may tick between the two calls.
    content = re.sub(rb'"Date":"[^"]*"', b'"Date":"(the provider\'s)"', response.content)
    return response.status_code, list(headers.items()), content


@pytest.mark.parametrize(
    "payload, status",
    [
        ({"method": "GET", "path": "/bearer"}, 200),
        ({"method": "GET", "path": "/status/404"}, 200),  # the provider's 404 is an answer
        ({"method": "GET", "path": "//evil.example/x"}, 400),
        ({"method": "FETCH", "path": "/bearer"}, 400),
        ({"method": "GET"}, 400),
        ({"method": "GET", "path": "/bearer", "headers": {"X-A": ["list"]}}, 400),
    ],
)
def test_the_lean_path_answers_as_the_viewset_does(key_client, local, user, viewset_calls, payload, status):
    connection = local_connection(local, user=user)

    lean, viewset = both_ways(key_client, connection.connection_id, payload)

    assert lean.status_code == status
    assert comparable(lean) == comparable(viewset)
    assert len(viewset_calls) == 1  # the second only


def test_errors_before_sending_answer_as_the_viewset_does(key_client, local, user, settings, viewset_calls):
    inactive = local_connection(local, user=user, status=Connection.Status.INACTIVE)
    limited = local_connection(local, user=user)
    settings.PROXY_RATE = "2/min"
    payload = {"method": "GET", "path": "/bearer"}

    answers = [
        *both_ways(key_client, "conn_unknown", payload),
        *both_ways(key_client, inactive.connection_id, payload),
        *both_ways(key_client, limited.connection_id, payload),  # 200 twice
        *both_ways(key_client, limited.connection_id, payload),  # over PROXY_RATE
    ]

    statuses = [answer.status_code for answer in answers]
    assert statuses == [404, 404, 409, 409, 200, 200, 429, 429]
    for lean, viewset in zip(answers[::2], answers[1::2], strict=True):
        assert comparable(lean) == comparable(viewset)
    assert len(viewset_calls) == 4


@pytest.mark.parametrize(
    "how",
    ["session", "no key", "bad key", "html", "text body", "list body", "malformed body"],
)
def test_anything_else_goes_to_the_viewset(client, key_client, user, local, viewset_calls, how):
    connection = local_connection(local, user=user)
    url = f"/api/user-integrations/{connection.connection_id}/proxy"
    body, content_type, headers = '{"method": "GET", "path": "/bearer"}', "application/json", {}
    if how == "session":
        client.force_login(user)
    elif how == "bad key":
        headers["HTTP_AUTHORIZATION"] = "Bearer ck_nothing_here"
    elif how != "no key":
        headers["HTTP_AUTHORIZATION"] = key_client._credentials["HTTP_AUTHORIZATION"]
    if how == "html":
        headers["HTTP_ACCEPT"] = "text/html"
    body = {"text body": "method=GET", "list body": "[]", "malformed body": "{"}.get(how, body)
    content_type = "text/plain" if how == "text body" else content_type

    response = client.post(url, body, content_type=content_type, **headers)

    assert viewset_calls == [url]
    expected = {"session": 200, "no key": 401, "bad key": 401, "html": 200, "text body": 415}
    assert response.status_code == expected.get(how, 400)
