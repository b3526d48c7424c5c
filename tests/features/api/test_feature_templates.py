import pytest

from features.models import FeatureTemplate

pytestmark = pytest.mark.django_db

SEED_FIRST_NAME = {
    "type": "static",
    "label": "First Name",
    "required": True,
    "fieldType": "string",
    "htmlType": "text",
    "fillBy": "User",
}


def test_list_feature_templates_as_in_the_contract(key_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = key_client.get("/api/feature-templates")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    contact = next(f for f in body["features"] if f["id"] == "create_contact")
    assert set(contact) == {"id", "name", "description", "category", "fields", "createdAt", "updatedAt"}
    assert contact["name"] == "Create Contact"
    assert contact["description"] == "Create a new contact in the CRM"
    assert contact["category"] == "contacts"
    assert contact["fields"]["first_name"] == SEED_FIRST_NAME
    assert contact["createdAt"].endswith("Z") and len(contact["createdAt"]) == 24
    ids = {f["id"] for f in body["features"]}
    assert {
        "create_contact",
        "create_deal",
        "create_ticket",
        "send_message",
        "append_row",
        "create_issue",
        "list_contacts",
        "create_customer",
    } <= ids


def test_template_fields_keep_the_file_order(key_client):
    body = key_client.get("/api/feature-templates/create_contact").json()

    assert list(body["feature"]["fields"]) == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "job_title",
    ]


def test_get_one_feature_template(user_client):
    response = user_client.get("/api/feature-templates/create_contact")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["feature"]["id"] == "create_contact"
    assert body["feature"]["fields"]["first_name"] == SEED_FIRST_NAME


def test_unknown_feature_template_is_404(key_client):
    response = key_client.get("/api/feature-templates/nope")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Feature template not found"}


def test_feature_templates_need_a_caller(anon_client):
    assert anon_client.get("/api/feature-templates").status_code == 401


def test_feature_templates_are_read_only(key_client):
    response = key_client.post("/api/feature-templates", {"id": "x"}, format="json")

    assert response.status_code == 405
    assert response.json()["success"] is False
    assert not FeatureTemplate.objects.filter(pk="x").exists()
