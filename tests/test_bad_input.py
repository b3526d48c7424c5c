"""Every class of hostile input, thrown at every route the URL configuration has (API endpoints and
pages, found by walking the resolver so new routes are covered without touching this file), answers
a 4xx — in the envelope on /api/ — and never a 5xx. Runs on SQLite and PostgreSQL (NUL characters
and lone surrogates are what PostgreSQL refuses and SQLite takes)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from connections.models import CheckRun
from tests.accounts.factories import OperatorFactory
from tests.connections.factories import ConnectionFactory, salesforce
from tests.features.factories import FeatureMappingFactory

pytestmark = pytest.mark.django_db

API_METHODS = ("get", "post", "put", "patch", "delete")
PAGE_METHODS = ("get", "post")
WRITE_METHODS = ("post", "put", "patch")
NUL, SURROGATE = "\x00", "\ud800"


def routes() -> list[str]:
    """Every route as a template (``api/users/<str:user_id>``), admin and catch-alls left out."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, text)
            elif isinstance(pattern, URLPattern) and not text.startswith(("admin/", "^")):
                found.append(text)

    walk(get_resolver().url_patterns, "")
    # readyz answers 503 by design while the test run has no worker: not a reply to the input.
    found.remove("readyz")
    return found + ["admin/", "admin/connections/connection/", "admin/accounts/user/"]


ROUTES = routes()
API_ROUTES = [r for r in ROUTES if r.startswith("api/")]


@pytest.fixture
def world(db):
    """One of everything a route can name, and who may see it."""
    operator = OperatorFactory()
    connection = ConnectionFactory(integration=salesforce())
    mapping = FeatureMappingFactory(integration=connection.integration)
    run = CheckRun.objects.create(connection=connection, requested_by="tests", trigger=CheckRun.Trigger.API)
    values = {
        "user_id": connection.user.user_id,
        "integration_id": connection.integration_id,
        "connection_id": connection.connection_id,
        "run_id": run.run_id,
        "mapping_id": mapping.id,
        "template_id": "create_contact",
    }
    return {"operator": operator, "user": connection.user, "values": values}


def fill(route: str, values: dict, override: str | None = None) -> str:
    """``route`` with real ids, or every parameter replaced by ``override`` (already URL-quoted)."""

    def value(match) -> str:
        # A parameter this fixture has no row for gets a value that names nothing (a 404 path).
        return override if override is not None else quote(values.get(match.group(1), "unknown"), safe="")

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


@pytest.fixture
def clients(world, raw_api_key):
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {raw_api_key}")
    pages = Client(raise_request_exception=False)
    pages.force_login(world["operator"])
    # As a browser is: CSRF checked, which reads the body of a session-authenticated write.
    end_user = Client(raise_request_exception=False, enforce_csrf_checks=True)
    end_user.force_login(world["user"])
    return {"api": api, "pages": pages, "end_user": end_user}


def send(client: Client, method: str, url: str, **kwargs):
    return getattr(client, method)(url, **kwargs)


def problem(response, url: str, method: str) -> str | None:
    """What is wrong with the answer to hostile input, or None when it is a clean refusal."""
    where = f"{method.upper()} {url[:100]!r}"
    if response.status_code >= 500:
        return f"{where} answered {response.status_code}"
    if url.startswith("/api/") and response.status_code >= 400:
        if not response["Content-Type"].startswith("application/json"):
            return f"{where} answered {response.status_code} as {response['Content-Type']}"
        body = response.json()
        if body.get("success") is not False or not isinstance(body.get("message"), str):
            return f"{where} answered {response.status_code} outside the envelope: {body}"
    return None


def assert_refused(response, url: str, method: str) -> None:
    assert problem(response, url, method) is None, problem(response, url, method)


def throw(clients, routes, methods_for, make_request) -> None:
    problems = []
    for route in routes:
        for method in methods_for(route):
            for client in clients(route):
                url, kwargs = make_request(route, method)
                problems.append(problem(send(client, method, url, **kwargs), url, method))
    assert not [p for p in problems if p], "\n".join(sorted({p for p in problems if p}))


def _clients_for(clients):
    def pick(route):
        if route in ("api/schema/", "api/docs/"):  # public, the same for everyone (and slow to build)
            return [clients["api"]]
        return [clients["api"], clients["end_user"]] if route.startswith("api/") else [clients["pages"]]

    return pick


def _methods_for(route: str):
    return API_METHODS if route.startswith("api/") else PAGE_METHODS


# --- Bodies


def deep_json(depth: int = 5_000) -> str:
    return "[" * depth + "]" * depth


BODIES = {
    "JSON nested 5,000 levels": deep_json(),
    "object nested 5,000 levels": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "1e999 in configuredVariables": '{"integrationId": "salesforce", "authMethodId": "oauth2", '
    '"connectionName": "x", "configuredVariables": {"instance_url": 1e999}, '
    '"credentials": {"clientId": "a", "clientSecret": "b"}}',
    "400-digit integer in credentials": '{"integrationId": "salesforce", "authMethodId": "oauth2", '
    '"connectionName": "x", "configuredVariables": {"instance_url": "https://a.salesforce.com"}, '
    '"credentials": {"clientId": ' + "9" * 400 + ', "clientSecret": "b"}}',
    "400-digit integer as a name": '{"name": ' + "9" * 400 + ', "email": 1e999, "status": -1e999}',
    "NaN and Infinity": '{"name": NaN, "connectionName": Infinity, "credentials": {"a": -Infinity}}',
    "NUL in every string": json.dumps(
        {
            "userId": f"u{NUL}",
            "name": f"a{NUL}b",
            "email": f"a{NUL}@example.com",
            "integrationId": f"salesforce{NUL}",
            "connectionName": f"n{NUL}",
            "credentials": {"clientId": f"x{NUL}", "clientSecret": f"y{NUL}"},
            "configuredVariables": {"instance_url": f"https://a{NUL}.salesforce.com"},
            "featureTemplateId": f"create_contact{NUL}",
        }
    ),
    "lone surrogate in every string": (
        '{"userId": "u\\ud800", "name": "a\\ud800", "email": "a\\udfff@example.com", '
        '"integrationId": "salesforce\\ud800", "connectionName": "\\ud800", '
        '"credentials": {"clientId": "\\ud800", "clientSecret": "\\udc00x"}, '
        '"configuredVariables": {"instance_url": "https://a.salesforce.com/\\ud800"}}'
    ),
    "a NUL key": '{"\\u0000": 1, "credentials": {"\\u0000": "x"}}',
    "not UTF-8": b'{"name": "\xff\xfe"}',
}


@pytest.mark.parametrize("kind", list(BODIES))
def test_hostile_json_bodies_are_refused_everywhere(clients, world, kind):
    def request(route, method):
        return fill(route, world["values"]), {"data": BODIES[kind], "content_type": "application/json"}

    throw(_clients_for(clients), API_ROUTES, lambda route: WRITE_METHODS, request)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_over_the_upload_limit_is_refused(clients, world, content_type):
    body = "a=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)

    def request(route, method):
        return fill(route, world["values"]), {"data": body, "content_type": content_type}

    throw(_clients_for(clients), ROUTES, lambda route: ("post", "put"), request)


def test_a_form_with_too_many_fields_is_refused(clients, world):
    body = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))

    def request(route, method):
        return fill(route, world["values"]), {
            "data": body,
            "content_type": "application/x-www-form-urlencoded",
        }

    throw(_clients_for(clients), ROUTES, lambda route: ("post",), request)


# --- Query strings

QUERIES = {
    "more than 1,000 parameters": "&".join(f"p{i}=1" for i in range(1_001)),
    "huge and infinite numbers": "offset=9999999999999999999999999&limit=1e999&page=-1e999&status=1e999",
    "huge limit, infinite offset": "limit=99999999999999999999999999&offset=1e999",
    "empty filters": "status=&kind=&integrationId=&userId=&q=&search=&limit=&offset=",
    "NUL in every filter": "status=%00&kind=%00&userId=u%00&integrationId=%00&q=%00&search=%00&category=%00",
    "lone surrogates and broken percent-encoding": "userId=%ED%A0%80&q=%ED%A0%80&status=%zz&integrationId=%C3",
}


@pytest.mark.parametrize("kind", list(QUERIES))
def test_hostile_query_strings_are_refused_everywhere(clients, world, kind):
    def request(route, method):
        return f"{fill(route, world['values'])}?{QUERIES[kind]}", {}

    throw(_clients_for(clients), ROUTES, lambda route: ("get", "post"), request)


# --- Paths

PATH_VALUES = {
    "NUL": "%00",
    "NUL inside an id": "conn_%00abc",
    "lone surrogate": "%ED%A0%80",
    "400 digits": "9" * 400,
    "1e999": "1e999",
    "long id": "x" * 5_000,
}


@pytest.mark.parametrize("kind", list(PATH_VALUES))
def test_hostile_path_parameters_are_refused_everywhere(clients, world, kind):
    with_parameters = [route for route in ROUTES if "<" in route]

    def request(route, method):
        return fill(route, world["values"], PATH_VALUES[kind]), {}

    throw(_clients_for(clients), with_parameters, _methods_for, request)


@pytest.mark.parametrize("suffix", ["%00", "%ED%A0%80", "x%00/", "%00.html"])
def test_hostile_paths_nothing_matches_answer_404(clients, suffix):
    for url in (f"/api/{suffix}", f"/{suffix}", f"/connections/{suffix}/edit/"):
        for client in (clients["api"], clients["pages"]):
            assert_refused(client.get(url), url, "get")


# --- Page forms

FORM_FIELDS = [
    "integration",
    "auth_method",
    "connection_name",
    "credentials__clientId",
    "credentials__clientSecret",
    "credentials__token",
    "configured_variables__instance_url",
    "username",
    "password",
    "next",
    "q",
    "status",
    "featureTemplateName",
    "method",
    "endpoint",
    "apiConfigId",
    "order",
]
FORM_VALUES = {
    "NUL": "%00",
    "lone surrogate": "%ED%A0%80",
    "400 digits": "9" * 400,
    "1e999": "1e999",
}


@pytest.mark.parametrize("kind", list(FORM_VALUES))
def test_hostile_form_fields_are_refused_on_every_page(clients, world, kind):
    body = "&".join(f"{name}={FORM_VALUES[kind]}" for name in FORM_FIELDS)

    def request(route, method):
        return fill(route, world["values"]), {
            "data": body,
            "content_type": "application/x-www-form-urlencoded",
        }

    page_routes = [route for route in ROUTES if not route.startswith("api/")]
    throw(_clients_for(clients), page_routes, lambda route: ("post",), request)


# --- What the refusals say


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (deep_json(), "nested more than 64 levels deep"),
        (deep_json(66), "nested more than 64 levels deep"),
        ('{"configuredVariables": {"x": 1e999}}', "the number 1e999 is out of range"),
        ('{"credentials": {"x": ' + "9" * 400 + "}}", "the number 999999999999999999999999… is too large"),
        ('{"name": NaN}', "NaN is not a JSON number"),
        ('{"name": "a\\u0000b"}', "text may not contain NUL (\\u0000) characters"),
        ('{"name": "\\ud800"}', "text may not contain unpaired surrogates (\\ud800-\\udfff)"),
    ],
)
def test_a_refused_body_says_why(key_client, body, error):
    response = key_client.post("/api/users", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "Malformed request body", "error": error}


def test_a_paired_surrogate_and_a_large_integer_that_fits_are_accepted(key_client):
    body = '{"userId": "emoji", "name": "Ada \\ud83d\\ude00", "email": "ada@example.com"}'

    response = key_client.post("/api/users", data=body, content_type="application/json")

    assert response.status_code == 201, response.json()
    assert response.json()["user"]["name"] == "Ada \N{GRINNING FACE}"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("/api/users/u%00", "The URL's path is not valid: text may not contain NUL (\\u0000) characters"),
        (
            "/api/users?status=%00",
            "The URL's query string is not valid: text may not contain NUL (\\u0000) characters",
        ),
    ],
)
def test_a_nul_in_a_url_is_a_400_that_says_where(key_client, url, error):
    response = key_client.get(url)

    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "Bad request", "error": error}


def test_more_than_a_thousand_query_parameters_is_a_400_in_the_envelope(key_client):
    response = key_client.get("/api/users?" + QUERIES["more than 1,000 parameters"])

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Bad request",
        "error": "Too many query or form parameters (more than 1000)",
    }
