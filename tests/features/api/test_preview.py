import pytest

from tests.features.factories import FeatureMappingFactory, IntegrationFactory

pytestmark = pytest.mark.django_db


def preview_url(mapping):
    return f"/api/integrations/{mapping.integration_id}/feature-mappings/{mapping.pk}/preview"


@pytest.fixture
def mapping(db):
    return FeatureMappingFactory(
        integration=IntegrationFactory(),
        field_mappings={
            "first_name": {
                "enabled": True,
                "customHandlers": {
                    "valueHandler": "capitalizeFirstName",
                    "validationHandler": {"name": "validateNameLength", "params": {"min": 2, "max": 20}},
                    "submitHandler": {"name": "nestUnder", "params": {"path": "properties"}},
                },
            },
            "email": {
                "enabled": True,
                "customHandlers": {
                    "valueHandler": "lowercase",
                    "validationHandler": "validateEmailFormat",
                    "submitHandler": {"name": "nestUnder", "params": {"path": "properties"}},
                },
            },
            "phone": {
                "enabled": True,
                "customHandlers": {"valueHandler": "toE164Phone", "validationHandler": "validateE164Phone"},
            },
            "company": {"enabled": False},
        },
        api_config={"method": "POST", "endpoint": "/crm/v3/objects/{{object_type}}"},
        extra_fields=[
            {
                "fieldKey": "object_type",
                "label": "Object Type",
                "type": "static",
                "fieldType": "string",
                "htmlType": "select",
                "fillBy": "Admin",
                "required": True,
                "adminValue": "contacts",
                "possibleValues": [
                    {"id": "contacts", "label": "Contacts"},
                    {"id": "leads", "label": "Leads"},
                ],
                "order": 1,
            },
            {
                "fieldKey": "source",
                "label": "Source",
                "type": "static",
                "fieldType": "string",
                "htmlType": "text",
                "fillBy": "User",
                "required": False,
                "adminValue": "website",
                "order": 2,
            },
        ],
    )


def test_preview_composes_the_request_without_sending(user_client, mapping):
    response = user_client.post(
        preview_url(mapping),
        {
            "input": {
                "first_name": "  ada ",
                "email": "Ada@Example.COM",
                "phone": "(415) 555-2671",
                "company": "Ignored Inc",
                "object_type": "leads",
            }
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True and body["valid"] is True
    assert body["request"] == {
        "method": "POST",
        "path": "/crm/v3/objects/contacts",
        "query": {},
        "body": {
            "properties": {"first_name": "Ada", "email": "ada@example.com"},
            "phone": "+14155552671",
            "source": "website",
        },
    }
    # Admin fields keep the operator's value; disabled and unknown keys are reported, not sent.
    assert body["ignoredInput"] == ["company", "object_type"]


def test_handlers_run_in_the_documented_order(user_client, mapping):
    body = user_client.post(
        preview_url(mapping), {"input": {"first_name": "ADA", "email": "a@b.co"}}, format="json"
    ).json()

    steps = body["steps"]["first_name"]
    assert [s["step"] for s in steps] == [
        "input",
        "valueHandler",
        "fieldType",
        "validationHandler",
        "submitHandler",
    ]
    assert steps[1] == {"step": "valueHandler", "handler": "capitalizeFirstName", "value": "Ada"}
    assert steps[3] == {"step": "validationHandler", "handler": "validateNameLength", "result": "ok"}
    assert [s["step"] for s in body["steps"]["object_type"]] == ["adminValue", "fieldType"]
    assert [s["step"] for s in body["steps"]["source"]][0] == "default"


def test_validation_sees_the_value_after_the_value_handler(user_client, mapping):
    # "  Al  " is 6 characters, but capitalizeFirstName trims it to 2 before validateNameLength (min 2) runs.
    body = user_client.post(
        preview_url(mapping), {"input": {"first_name": "  al  ", "email": "a@b.co"}}, format="json"
    ).json()
    assert body["valid"] is True
    assert body["request"]["body"]["properties"]["first_name"] == "Al"

    body = user_client.post(
        preview_url(mapping), {"input": {"first_name": "  a  ", "email": "a@b.co"}}, format="json"
    ).json()
    assert body["valid"] is False
    assert body["fieldErrors"] == {"first_name": ["First Name must be between 2 and 20 characters"]}


def test_preview_returns_validation_errors_and_no_request(user_client, mapping):
    response = user_client.post(
        preview_url(mapping), {"input": {"email": "not an email", "phone": "call me"}}, format="json"
    )

    body = response.json()
    assert response.status_code == 200
    assert body["valid"] is False
    assert body["request"] is None
    assert body["validationErrors"] == [
        "First Name is required",
        "Email must be a valid email address",
        "Phone must be a phone number (digits, spaces and + - . ( ) only)",
    ]
    assert set(body["fieldErrors"]) == {"first_name", "email", "phone"}
    assert "validationHandler" not in [s["step"] for s in body["steps"]["phone"]]


def test_get_mapping_sends_fields_as_query(key_client):
    mapping = FeatureMappingFactory(
        feature_template_id="list_contacts",
        field_mappings={
            "limit": {"enabled": True},
            "query": {"enabled": True, "customHandlers": {"valueHandler": "trim"}},
        },
        api_config={"method": "GET", "endpoint": "/crm/v3/objects/contacts"},
    )

    body = key_client.post(
        preview_url(mapping), {"input": {"limit": "25", "query": "  ada "}}, format="json"
    ).json()

    assert body["request"] == {
        "method": "GET",
        "path": "/crm/v3/objects/contacts",
        "query": {"query": "ada", "limit": 25},
        "body": None,
    }


def test_field_type_is_checked_between_value_and_validation_handlers(key_client):
    mapping = FeatureMappingFactory(
        feature_template_id="create_deal",
        field_mappings={
            "deal_name": {"enabled": True},
            "stage": {"enabled": True},
            "amount": {"enabled": True},
        },
    )

    body = key_client.post(
        preview_url(mapping), {"input": {"deal_name": "Big", "stage": "won", "amount": "lots"}}, format="json"
    ).json()

    assert body["fieldErrors"] == {
        "stage": ["Stage must be one of: qualification, proposal, negotiation, closed_won, closed_lost"],
        "amount": ["Amount must be a number"],
    }


def test_two_fields_writing_the_same_body_key_is_reported(key_client):
    mapping = FeatureMappingFactory(
        field_mappings={
            "first_name": {
                "enabled": True,
                "customHandlers": {"submitHandler": {"name": "renameTo", "params": {"key": "name"}}},
            },
            "last_name": {
                "enabled": True,
                "customHandlers": {"submitHandler": {"name": "renameTo", "params": {"key": "name"}}},
            },
        },
    )

    body = key_client.post(
        preview_url(mapping), {"input": {"first_name": "Ada", "last_name": "L"}}, format="json"
    ).json()

    assert body["valid"] is False
    assert body["validationErrors"] == ["Body key 'name' is set by both first_name and last_name"]


def test_preview_input_must_be_an_object(user_client, mapping):
    response = user_client.post(preview_url(mapping), {"input": ["ada"]}, format="json")

    assert response.status_code == 400
    assert response.json()["success"] is False


def test_preview_of_unknown_mapping_is_404(user_client, mapping):
    url = f"/api/integrations/{mapping.integration_id}/feature-mappings/mapping_1_abc/preview"
    assert user_client.post(url, {}, format="json").json() == {
        "success": False,
        "message": "Feature mapping not found",
    }


def test_preview_handles_hostile_input(user_client, mapping):
    body = user_client.post(
        preview_url(mapping),
        {"input": {"first_name": "😀" * 10_000, "email": {"nested": True}, "phone": ["+1"]}},
        format="json",
    ).json()

    assert body["valid"] is False
    assert body["fieldErrors"]["email"] == ["Email must be text"]
