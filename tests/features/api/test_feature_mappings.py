import copy
import re

import pytest

from features.models import FeatureMapping
from tests.features.factories import SEED_MAPPING, FeatureMappingFactory, IntegrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/integrations/hubspot/feature-mappings"


@pytest.fixture
def hubspot(db):
    return IntegrationFactory()


def seed_body():
    return copy.deepcopy(SEED_MAPPING)


def test_create_feature_mapping_as_in_the_contract(key_client, hubspot):
    response = key_client.post(URL, seed_body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Feature mapping created successfully"
    mapping = body["mapping"]
    assert re.fullmatch(r"mapping_\d{13}_[0-9a-z]{6}", mapping["id"])
    assert mapping["featureTemplateId"] == "create_contact"
    assert mapping["featureTemplateName"] == "Create Contact"
    assert mapping["fieldMappings"]["first_name"] == {
        "enabled": True,
        "overrides": None,
        "customHandlers": {
            "valueHandler": "capitalizeFirstName",
            "validationHandler": None,
            "submitHandler": None,
        },
        "adminValue": None,
    }
    assert mapping["apiConfig"] == {"apiConfigId": None, "method": "POST", "endpoint": "/api/contacts"}
    assert mapping["extraFields"][0]["fieldKey"] == "sheet_id"
    assert mapping["extraFields"][0]["adminValue"] == "1BxiMVs0..."
    assert mapping["status"] == "active"
    assert mapping["createdAt"].endswith("Z")
    assert FeatureMapping.objects.filter(pk=mapping["id"], integration=hubspot).exists()


def test_list_feature_mappings_as_in_the_contract(user_client, hubspot, django_assert_max_num_queries):
    seed_extra = {
        "fieldKey": "object_type",
        "label": "Object Type",
        "type": "static",
        "fieldType": "string",
        "htmlType": "select",
        "fillBy": "Admin",
        "required": True,
        "possibleValues": [{"id": "contact", "label": "Contact"}, {"id": "lead", "label": "Lead"}],
        "customHandlers": None,
        "adminValue": "contact",
        "order": 1,
    }
    first = FeatureMappingFactory(
        integration=hubspot,
        field_mappings={
            "first_name": {
                "enabled": True,
                "overrides": None,
                "customHandlers": {
                    "valueHandler": "capitalizeFirstName",
                    "validationHandler": "validateNameLength",
                    "submitHandler": None,
                },
                "adminValue": None,
            },
            "email": {"enabled": True, "customHandlers": {"validationHandler": "validateEmailFormat"}},
        },
        extra_fields=[seed_extra],
    )
    FeatureMappingFactory(integration=hubspot)
    FeatureMappingFactory(integration=IntegrationFactory(provider="salesforce"))

    with django_assert_max_num_queries(4):
        response = user_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert len(body["featureMappings"]) == 2
    listed = body["featureMappings"][0]
    assert set(listed) == {
        "id",
        "featureTemplateId",
        "featureTemplateName",
        "fieldMappings",
        "apiConfig",
        "extraFields",
        "status",
        "createdAt",
        "updatedAt",
    }
    assert listed["id"] == first.pk
    assert listed["extraFields"] == [seed_extra]
    assert (
        listed["fieldMappings"]["first_name"]["customHandlers"]["validationHandler"] == "validateNameLength"
    )


def test_list_for_unknown_integration_is_404(key_client):
    response = key_client.get("/api/integrations/no-such-integration/feature-mappings")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Integration not found"}


def test_create_with_unknown_template_is_400_and_writes_nothing(key_client, hubspot):
    body = seed_body()
    body["featureTemplateId"] = "create_spaceship"

    response = key_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "Invalid feature template ID"}
    assert not FeatureMapping.objects.exists()


def test_create_for_unknown_integration_is_404(key_client, hubspot):
    response = key_client.post(
        "/api/integrations/no-such-integration/feature-mappings", seed_body(), format="json"
    )

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Integration not found"}


def test_update_feature_mapping(key_client, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)
    body = seed_body()
    body["apiConfig"]["endpoint"] = "/crm/v3/objects/contacts"
    body["fieldMappings"]["first_name"]["customHandlers"]["validationHandler"] = "validateNameLength"

    response = key_client.put(f"{URL}/{mapping.pk}", body, format="json")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["message"] == "Feature mapping updated successfully"
    assert data["mapping"]["id"] == mapping.pk
    assert data["mapping"]["featureTemplateId"] == "create_contact"
    assert data["mapping"]["apiConfig"]["endpoint"] == "/crm/v3/objects/contacts"
    assert data["mapping"]["updatedAt"] >= data["mapping"]["createdAt"]
    mapping.refresh_from_db()
    assert mapping.endpoint == "/crm/v3/objects/contacts"


def test_update_unknown_mapping_is_404(key_client, hubspot):
    response = key_client.put(f"{URL}/mapping_1764100935626_abc123", seed_body(), format="json")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Feature mapping not found"}


def test_update_with_a_bad_body_leaves_the_mapping_alone(key_client, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)
    body = seed_body()
    body["apiConfig"]["endpoint"] = "https://evil.example/steal"

    response = key_client.put(f"{URL}/{mapping.pk}", body, format="json")

    assert response.status_code == 400
    assert FeatureMapping.objects.get(pk=mapping.pk).endpoint == "/api/contacts"


def test_mapping_of_another_integration_is_not_found(key_client, hubspot):
    other = FeatureMappingFactory(integration=IntegrationFactory(provider="salesforce"))

    assert key_client.put(f"{URL}/{other.pk}", seed_body(), format="json").status_code == 404
    assert key_client.delete(f"{URL}/{other.pk}").status_code == 404
    assert FeatureMapping.objects.filter(pk=other.pk).exists()


def test_delete_feature_mapping(operator_client, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)

    response = operator_client.delete(f"{URL}/{mapping.pk}")

    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Feature mapping deleted successfully"}
    assert not FeatureMapping.objects.exists()


def test_delete_unknown_mapping_is_404(key_client, hubspot):
    response = key_client.delete(f"{URL}/mapping_1764100935626_abc123")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Feature mapping not found"}


def test_get_one_mapping(user_client, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)

    body = user_client.get(f"{URL}/{mapping.pk}").json()

    assert body["success"] is True
    assert body["mapping"]["id"] == mapping.pk


def test_end_users_read_but_cannot_write(user_client, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)

    assert user_client.get(URL).status_code == 200
    created = user_client.post(URL, seed_body(), format="json")
    assert created.status_code == 403
    assert created.json()["success"] is False
    assert user_client.put(f"{URL}/{mapping.pk}", seed_body(), format="json").status_code == 403
    assert user_client.delete(f"{URL}/{mapping.pk}").status_code == 403
    assert FeatureMapping.objects.count() == 1


def test_anonymous_callers_are_refused(anon_client, hubspot):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.post(URL, seed_body(), format="json").status_code == 401
    assert not FeatureMapping.objects.exists()


def test_operator_may_create(operator_client, hubspot):
    assert operator_client.post(URL, seed_body(), format="json").status_code == 201


def test_blank_feature_without_template(key_client, hubspot):
    body = {
        "featureTemplateId": None,
        "featureTemplateName": "Subscribe to Newsletter",
        "apiConfig": {"method": "post", "endpoint": "/lists/{{list_id}}/members"},
        "extraFields": [
            {
                "fieldKey": "list_id",
                "label": "List",
                "type": "static",
                "fieldType": "string",
                "htmlType": "hidden",
                "fillBy": "Admin",
                "required": True,
                "adminValue": "abc123",
            },
            {
                "fieldKey": "email",
                "label": "Email",
                "type": "static",
                "fieldType": "email",
                "htmlType": "email",
                "fillBy": "User",
                "required": True,
                "customHandlers": {"validationHandler": "validateEmailFormat"},
            },
        ],
    }

    response = key_client.post(URL, body, format="json")

    assert response.status_code == 201, response.json()
    mapping = response.json()["mapping"]
    assert mapping["featureTemplateId"] is None
    assert mapping["apiConfig"]["method"] == "POST"
    assert [f["order"] for f in mapping["extraFields"]] == [1, 2]


def test_missing_template_id_is_a_clear_400(key_client, hubspot):
    body = seed_body()
    del body["featureTemplateId"]

    response = key_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "featureTemplateId is required (null for a feature without a template)"
    ]


def test_body_must_be_an_object(key_client, hubspot):
    response = key_client.post(URL, [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == ["The request body must be a JSON object"]


def test_the_seed_walkthrough_on_freshdesk(key_client):
    """The seed's feature-mapping examples use /api/integrations/freshdesk/…, from the shipped catalog."""
    base = "/api/integrations/freshdesk/feature-mappings"

    created = key_client.post(base, seed_body(), format="json")
    assert created.status_code == 201
    mapping_id = created.json()["mapping"]["id"]
    assert re.fullmatch(r"mapping_\d{13}_[a-z0-9]+", mapping_id)

    listed = key_client.get(base).json()
    assert [m["id"] for m in listed["featureMappings"]] == [mapping_id]

    updated = key_client.put(f"{base}/{mapping_id}", seed_body(), format="json")
    assert updated.json()["message"] == "Feature mapping updated successfully"

    deleted = key_client.delete(f"{base}/{mapping_id}")
    assert deleted.json() == {"success": True, "message": "Feature mapping deleted successfully"}
    assert key_client.delete(f"{base}/{mapping_id}").json() == {
        "success": False,
        "message": "Feature mapping not found",
    }
