"""The catalog API over HTTP, as the seed contract writes it, plus the catalog writes."""

import re

import pytest

from integrations.models import Integration
from tests.accounts.factories import UserFactory
from tests.connections.factories import salesforce
from tests.integrations.factories import IntegrationFactory, integration_document

pytestmark = pytest.mark.django_db

SEED_SALESFORCE_AUTH_METHODS = [
    {
        "id": "oauth2",
        "type": "OAUTH",
        "label": "OAuth 2.0",
        "description": "Secure OAuth 2.0 authentication with automatic token refresh",
        "fields": [
            {
                "name": "clientId",
                "label": "Client ID",
                "type": "string",
                "required": True,
                "description": "OAuth Client ID from Salesforce Connected App",
            },
            {
                "name": "clientSecret",
                "label": "Client Secret",
                "type": "password",
                "required": True,
                "description": "OAuth Client Secret (will be encrypted)",
            },
        ],
        "additionalFields": [
            {
                "name": "instance_url",
                "label": "Instance URL",
                "type": "url",
                "required": True,
                "placeholder": "https://your-instance.salesforce.com",
                "description": "Your Salesforce instance URL",
            },
        ],
    },
    {
        "id": "api-key",
        "type": "API-KEY",
        "label": "API Key",
        "description": "Simple API key authentication",
        "fields": [
            {
                "name": "apiKey",
                "label": "API Key",
                "type": "password",
                "required": True,
                "description": "Your Salesforce API key",
            },
        ],
        "additionalFields": [
            {
                "name": "instance_url",
                "label": "Instance URL",
                "type": "url",
                "required": True,
                "placeholder": "https://your-instance.salesforce.com",
                "description": "Your Salesforce instance URL",
            },
        ],
    },
]


def assert_contains(actual, expected):
    """Every key and value of the seed's example is there (the product may add more)."""
    if isinstance(expected, dict):
        for key, value in expected.items():
            assert key in actual, key
            assert_contains(actual[key], value)
    elif isinstance(expected, list):
        assert len(actual) >= len(expected)
        for a, e in zip(actual, expected, strict=False):
            assert_contains(a, e)
    else:
        assert actual == expected


def test_list_crm_integrations_as_in_the_seed(key_client):
    response = key_client.get("/api/integrations?category=crm&status=active")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    by_id = {item["id"]: item for item in body["integrations"]}
    assert body["total"] == len(body["integrations"])
    assert {"salesforce", "hubspot"} <= set(by_id)
    assert by_id["salesforce"] == {
        "id": "salesforce",
        "displayName": "Salesforce",
        "description": "Customer Relationship Management platform",
        "category": "crm",
        "iconUrl": "http://testserver/integrations/salesforce/icon.svg",
        "status": "active",
        "baseUrl": "https://{{instance_url}}.salesforce.com/services/data/v58.0",
        "authMethods": ["oauth2", "api-key", "sign-in"],
    }
    assert by_id["hubspot"]["baseUrl"] == "https://api.hubapi.com"
    assert by_id["hubspot"]["authMethods"] == ["oauth2", "api-key", "sign-in"]
    assert all(item["category"] == "crm" for item in body["integrations"])


def test_list_defaults_to_active(key_client):
    IntegrationFactory(id="retired", status="inactive")

    active = key_client.get("/api/integrations").json()["integrations"]
    inactive = key_client.get("/api/integrations?status=inactive").json()["integrations"]

    assert "retired" not in [i["id"] for i in active]
    assert all(i["status"] == "active" for i in active)
    assert [i["id"] for i in inactive] == ["retired"]


def test_list_full_text_search_over_name_and_description(key_client):
    body = key_client.get("/api/integrations", {"q": "HELPDESK"}).json()
    assert [i["id"] for i in body["integrations"]] == ["freshdesk"]

    body = key_client.get("/api/integrations", {"q": "sales"}).json()
    assert {"salesforce", "hubspot", "pipedrive"} <= {i["id"] for i in body["integrations"]}


def test_list_rejects_unknown_status(key_client):
    response = key_client.get("/api/integrations?status=deleted")

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Validation error",
        "errors": ["Invalid status value. Must be 'active' or 'inactive'"],
    }


def test_list_runs_a_bounded_number_of_queries(key_client, django_assert_max_num_queries):
    def count_queries_for_list():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert key_client.get("/api/integrations?category=bench").status_code == 200
        return len(queries)

    for n in range(5):
        IntegrationFactory(id=f"bench-{n}", category="bench")
    small = count_queries_for_list()
    for n in range(5, 60):
        IntegrationFactory(id=f"bench-{n}", category="bench")

    with django_assert_max_num_queries(small):
        body = key_client.get("/api/integrations?category=bench").json()
    assert body["total"] == 60
    assert small <= 4


def test_auth_schema_as_in_the_seed(key_client):
    response = key_client.get("/api/integrations/salesforce/auth-schema")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["integration"] == {
        "id": "salesforce",
        "displayName": "Salesforce",
        "baseUrl": "https://{{instance_url}}.salesforce.com/services/data/v58.0",
    }
    assert_contains(body["authMethods"], SEED_SALESFORCE_AUTH_METHODS)


def test_auth_schema_carries_selects_patterns_and_conditions(user_client):
    methods = user_client.get("/api/integrations/gitlab/auth-schema").json()["authMethods"]
    deployment, server_url = methods[0]["additionalFields"]

    assert deployment["type"] == "select"
    assert [o["value"] for o in deployment["options"]] == ["gitlab.com", "self-managed"]
    assert server_url["showWhen"] == {"key": "deployment", "value": "self-managed"}
    assert server_url["pattern"].startswith("^https://")


@pytest.mark.parametrize("path", ["/api/integrations/nope", "/api/integrations/nope/auth-schema"])
def test_unknown_integration_is_404(key_client, path):
    response = key_client.get(path)

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Integration not found"}


def test_retrieve_returns_the_whole_document(user_client):
    response = user_client.get("/api/integrations/twilio")

    assert response.status_code == 200
    integration = response.json()["integration"]
    assert integration["baseUrl"] == "https://api.twilio.com/2010-04-01/Accounts/{{accountSid}}"
    assert integration["allowedHosts"] == ["api.twilio.com"]
    assert integration["testRequest"]["path"] == "/Balance.json"
    assert integration["authMethods"][0]["apply"] == {
        "type": "basic",
        "username": "{{accountSid}}",
        "password": "{{authToken}}",
    }
    assert integration["iconUrl"] == "http://testserver/integrations/twilio/icon.svg"
    assert integration["createdAt"].endswith("Z")


def test_anonymous_is_401(anon_client):
    response = anon_client.get("/api/integrations")
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_create_with_an_api_key(key_client):
    response = key_client.post("/api/integrations", integration_document(id="acme"), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Integration created successfully"
    assert body["integration"]["id"] == "acme"
    assert body["integration"]["iconUrl"] == "http://testserver/integrations/acme/icon.svg"
    assert Integration.objects.get(pk="acme").display_name == "Acme"


def test_create_invalid_document_is_400_with_json_paths(key_client):
    document = integration_document(id="acme", baseUrl="ftp://acme.example")
    document["authMethods"][0]["apply"] = {"type": "bearer", "field": "nope"}

    response = key_client.post("/api/integrations", document, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Validation error"
    assert body["errors"][0].startswith("$.baseUrl: 'ftp://acme.example' does not match")
    assert not Integration.objects.filter(pk="acme").exists()


def test_create_semantic_errors_are_reported_too(key_client):
    document = integration_document(id="acme")
    document["authMethods"][0]["apply"] = {"type": "bearer", "field": "nope"}

    body = key_client.post("/api/integrations", document, format="json").json()

    assert body["errors"] == ["$.authMethods[0].apply.field: refers to unknown field 'nope'"]


def test_create_existing_id_is_409(key_client):
    response = key_client.post("/api/integrations", integration_document(id="stripe"), format="json")

    assert response.status_code == 409
    assert response.json()["message"] == "Integration already exists"
    assert Integration.objects.get(pk="stripe").display_name == "Stripe"


def test_update_replaces_the_document(operator_client):
    IntegrationFactory(id="acme")
    document = integration_document(id="acme", displayName="Acme Two", category="crm")

    response = operator_client.put("/api/integrations/acme", document, format="json")

    assert response.status_code == 200
    assert response.json()["integration"]["displayName"] == "Acme Two"
    assert Integration.objects.get(pk="acme").category == "crm"


def test_update_round_trips_what_retrieve_returns(key_client):
    integration = key_client.get("/api/integrations/shopify").json()["integration"]
    for derived in ("iconUrl", "createdAt", "updatedAt"):
        integration.pop(derived)
    integration["description"] = "Shopify, edited"

    response = key_client.put("/api/integrations/shopify", integration, format="json")

    assert response.status_code == 200, response.json()
    assert Integration.objects.get(pk="shopify").description == "Shopify, edited"


def test_update_unknown_is_404_and_id_change_is_400(key_client):
    assert (
        key_client.put("/api/integrations/nope", integration_document(id="nope"), format="json").status_code
        == 404
    )

    IntegrationFactory(id="acme")
    response = key_client.put("/api/integrations/acme", integration_document(id="acme-2"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["$.id: must stay 'acme'; create a new integration for a new id"]


def test_delete(key_client):
    IntegrationFactory(id="acme")

    response = key_client.delete("/api/integrations/acme")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Integration deleted successfully",
        "deleted": True,
    }
    assert not Integration.objects.filter(pk="acme").exists()


def test_delete_bundled_integration_deactivates_it(key_client):
    response = key_client.delete("/api/integrations/notion")

    assert response.status_code == 200
    assert response.json()["deleted"] is False
    assert Integration.objects.get(pk="notion").status == "inactive"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/integrations"),
        ("put", "/api/integrations/stripe"),
        ("delete", "/api/integrations/stripe"),
    ],
)
def test_end_users_cannot_change_the_catalog(user_client, method, path):
    response = getattr(user_client, method)(path, integration_document(id="stripe"), format="json")

    assert response.status_code == 403
    assert response.json()["success"] is False
    assert Integration.objects.get(pk="stripe").status == "active"


def test_browsable_api_breadcrumbs_name_each_level(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    salesforce()
    response = client.get("/api/integrations/salesforce/auth-schema", HTTP_ACCEPT="text/html")

    crumbs = re.search(r'<ul class="breadcrumb">(.*?)</ul>', response.content.decode(), re.S).group(1)
    assert re.findall(r"<a [^>]*>([^<]+)</a>", crumbs) == ["Integrations", "Integration", "Auth schema"]
    assert "Not Found" not in crumbs
