"""The contract guard: schemathesis calls every operation of /api/schema/ in-process with
generated valid and invalid input, authenticated with an API key. Any 5xx, undocumented status
code, wrong content type or response that does not match the schema fails the suite.
Operations added later are covered without touching this file."""

import os
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.config import OperationConfig

SCHEMA_PATH = "/api/schema/?format=json"
# `schemathesis run --checks all`, less the two that judge input the schema cannot fully describe:
# an integration document is validated against integrations/auth_schema.schema.json and its own
# cross-field rules, which the OpenAPI schema only outlines (so "valid" generated documents are
# refused, rightly). Every other check, server errors first, runs on every operation.
load_all_checks()
SCHEMA_CANNOT_SAY = {"positive_data_acceptance", "negative_data_rejection"}
CHECKS = [check for check in REGISTERED_CHECKS.get_all() if check.__name__ not in SCHEMA_CANNOT_SAY]

# Loaded from the app itself (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, get_wsgi_application())
# Modest by default so the suite stays fast; CONTRACT_EXAMPLES=500 explores deeper.
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "20"))
schema.config.generation.update(max_examples=EXAMPLES)
# An integration document (POST and PUT /api/integrations) is the schema's largest body: drawing one
# random document costs hypothesis about 0.4 s, and with 20 each these two operations took 40% of
# the contract test's CPU. Their coverage phase (about 560 boundary cases each, every property and
# constraint) runs in full; the random phase draws a quarter as many documents.
schema.config.operations.operations.append(
    OperationConfig.from_dict(
        {
            "include-path-regex": r"^/api/integrations(/\{integration_id\})?$",
            "include-method": ["POST", "PUT"],
            "generation": {"max-examples": max(1, EXAMPLES // 4)},
        }
    )
)


@pytest.fixture
def keep_test_connection():
    """Calls go through the real WSGI handler, which closes the database connection after each
    request; that would end the test's transaction. Django's own test client does the same."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_test_connection")
@schema.parametrize()
@settings(
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_honours_the_schema(case, raw_api_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {raw_api_key}"}, checks=CHECKS)


def test_schema_is_valid_openapi_3(anon_client):
    response = anon_client.get(SCHEMA_PATH)

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    validate_schema(document)  # against the OpenAPI 3 JSON Schema drf-spectacular ships
    assert "ErrorEnvelope" in document["components"]["schemas"]
    assert {"/api/integrations", "/api/integrations/{integration_id}/auth-schema"} <= set(document["paths"])


def test_swagger_ui_loads_only_local_assets(anon_client):
    response = anon_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(
        r"https?://[^\s\"'<>)]+", html
    )
    assert any("swagger-ui" in url for url in urls), "the page loads Swagger UI's assets"
    external = [
        url for url in urls if re.match(r"^(https?:)?//", url) and not url.startswith("http://testserver/")
    ]
    assert not external, external


def test_swagger_ui_never_asks_the_online_validator(anon_client):
    script = anon_client.get("/api/docs/?script=").content.decode()

    assert '"validatorUrl": null' in script


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_from_local_assets_in_a_browser(page, screenshot):
    # The page fixture fails the test if anything is requested from another host.
    page.goto("/api/docs/")
    page.get_by_text("/api/integrations/{integration_id}/auth-schema").first.wait_for()
    screenshot("swagger-ui")


def test_configured_variables_is_an_object_in_every_schema(anon_client):
    # An untyped property is shown as "string" by Swagger UI; configuredVariables is a JSON object.
    schemas = anon_client.get(SCHEMA_PATH).json()["components"]["schemas"]
    found = {
        name: schema["properties"]["configuredVariables"]
        for name, schema in schemas.items()
        if "configuredVariables" in schema.get("properties", {})
    }

    assert {"ConnectionListItemOutput", "ConnectionDetailOutput", "ConnectInputRequest"} <= set(found)
    assert {name: prop.get("type") for name, prop in found.items()} == dict.fromkeys(found, "object")


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_test_connection")
@pytest.mark.parametrize("query", [{"async": "false", "x": "a\x00b"}, {"async": "true\x00"}])
def test_an_error_answered_in_the_plain_envelope_is_documented_beside_an_operations_own(query, raw_api_key):
    # A test's 400 documents testResult; a bad query string answers the plain envelope, also a 400.
    operation = schema["/api/user-integrations/{connection_id}/test"]["POST"]
    case = operation.Case(path_parameters={"connection_id": "conn_missing"}, query=query)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {raw_api_key}"}, checks=CHECKS)
    assert response.status_code == 400 and "testResult" not in response.json()
