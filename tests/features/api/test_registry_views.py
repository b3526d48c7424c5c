import pytest

from features.handlers import REGISTRY

pytestmark = pytest.mark.django_db


def test_feature_handlers_lists_the_registry(user_client):
    response = user_client.get("/api/feature-handlers")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    names = {h["name"] for h in body["handlers"]}
    assert names == set(REGISTRY)
    trim = next(h for h in body["handlers"] if h["name"] == "trim")
    assert trim == {
        "name": "trim",
        "kind": "value",
        "description": REGISTRY["trim"].description,
        "parameters": [],
    }
    assert body["order"] == [
        "adminValue/overrides",
        "valueHandler",
        "fieldType",
        "validationHandler",
        "submitHandler",
    ]


def test_feature_handlers_filter_by_kind(key_client):
    body = key_client.get("/api/feature-handlers?kind=submit").json()
    assert {h["kind"] for h in body["handlers"]} == {"submit"}

    response = key_client.get("/api/feature-handlers?kind=magic")
    assert response.status_code == 400
    assert response.json()["errors"] == ["kind must be value, validation or submit"]


def test_field_types_document_the_vocabulary(user_client):
    body = user_client.get("/api/field-types").json()

    assert body["success"] is True
    assert {t["id"] for t in body["fieldTypes"]} >= {"string", "email", "number", "boolean", "date", "array"}
    select = next(t for t in body["htmlTypes"] if t["id"] == "select")
    assert select["needsPossibleValues"] is True
    assert [t["id"] for t in body["fillBy"]] == ["User", "Admin"]
    assert [t["id"] for t in body["types"]] == ["static", "dynamic"]


def test_registry_endpoints_need_a_caller(anon_client):
    assert anon_client.get("/api/feature-handlers").status_code == 401
    assert anon_client.get("/api/field-types").status_code == 401


def test_openapi_schema_documents_the_feature_endpoints(key_client):
    response = key_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    paths = response.json()["paths"]
    assert "/api/integrations/{integration_id}/feature-mappings/{mapping_id}/preview" in paths
    assert "/api/feature-handlers" in paths
