"""Each rule of a feature mapping refuses bad input with a clear message and writes nothing."""

import copy

import pytest

from features.models import FeatureMapping
from tests.features.factories import SEED_MAPPING, IntegrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/integrations/hubspot/feature-mappings"


def extra(**changes):
    field = {
        "fieldKey": "object_type",
        "label": "Object Type",
        "type": "static",
        "fieldType": "string",
        "htmlType": "text",
        "fillBy": "User",
        "required": False,
        "order": 1,
    }
    field.update(changes)
    return {k: v for k, v in field.items() if v is not None or k in ("adminValue",)}


def body_with(**changes):
    body = copy.deepcopy(SEED_MAPPING)
    body["extraFields"] = []
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return body


CASES = [
    pytest.param(
        body_with(fieldMappings={"favourite_colour": {"enabled": True}}),
        "fieldMappings.favourite_colour: 'favourite_colour' is not a field of template 'create_contact'",
        id="field-not-in-template",
    ),
    pytest.param(
        body_with(
            fieldMappings={
                "first_name": {"enabled": True, "customHandlers": {"valueHandler": "makeItPretty"}}
            }
        ),
        "fieldMappings.first_name.customHandlers.valueHandler: unknown handler 'makeItPretty' (see GET /api/feature-handlers)",
        id="unknown-handler",
    ),
    pytest.param(
        body_with(
            fieldMappings={
                "email": {"enabled": True, "customHandlers": {"valueHandler": "validateEmailFormat"}}
            }
        ),
        "fieldMappings.email.customHandlers.valueHandler: 'validateEmailFormat' is a validation handler, not a value handler",
        id="handler-of-wrong-kind",
    ),
    pytest.param(
        body_with(fieldMappings={"email": {"customHandlers": {"submitHandler": "trim"}}}),
        "fieldMappings.email.customHandlers.submitHandler: 'trim' is a value handler, not a submit handler",
        id="value-handler-as-submit",
    ),
    pytest.param(
        body_with(fieldMappings={"email": {"customHandlers": {"beforeHandler": "trim"}}}),
        "fieldMappings.email.customHandlers.beforeHandler is not a handler slot "
        "(use valueHandler, validationHandler, submitHandler)",
        id="unknown-handler-slot",
    ),
    pytest.param(
        body_with(
            fieldMappings={
                "first_name": {
                    "customHandlers": {
                        "validationHandler": {"name": "validateNameLength", "params": {"min": 10, "max": 2}}
                    }
                }
            }
        ),
        "fieldMappings.first_name.customHandlers.validationHandler.params min must not be greater than max",
        id="handler-params-inconsistent",
    ),
    pytest.param(
        body_with(
            fieldMappings={
                "first_name": {
                    "customHandlers": {
                        "validationHandler": {"name": "validateNameLength", "params": {"maximum": 2}}
                    }
                }
            }
        ),
        "fieldMappings.first_name.customHandlers.validationHandler.params.maximum is not a parameter of validateNameLength",
        id="handler-unknown-param",
    ),
    pytest.param(
        body_with(fieldMappings={"email": {"customHandlers": {"submitHandler": {"name": "renameTo"}}}}),
        "fieldMappings.email.customHandlers.submitHandler.params.key is required by renameTo",
        id="handler-missing-param",
    ),
    pytest.param(
        body_with(fieldMappings={"first_name": {"enabled": "yes"}}),
        "fieldMappings.first_name.enabled must be true or false",
        id="enabled-not-boolean",
    ),
    pytest.param(
        body_with(fieldMappings={"first_name": {"overrides": {"htmlType": "select"}}}),
        "fieldMappings.first_name.overrides.possibleValues is required for htmlType 'select'",
        id="override-select-without-values",
    ),
    pytest.param(
        body_with(fieldMappings={"first_name": {"overrides": {"fillBy": "Robot"}}}),
        "fieldMappings.first_name.overrides.fillBy must be one of User, Admin",
        id="override-bad-fill-by",
    ),
    pytest.param(
        body_with(fieldMappings={"first_name": {"overrides": {"fillBy": "Admin"}}}),
        "fieldMappings.first_name.adminValue is required: First Name is a required field the operator fills",
        id="admin-template-field-without-admin-value",
    ),
    pytest.param(
        body_with(extraFields=[extra(), extra(label="Again")]),
        "extraFields[1].fieldKey 'object_type' is used by another extra field; keys must be unique",
        id="duplicate-field-key",
    ),
    pytest.param(
        body_with(extraFields=[extra(fieldKey="email")]),
        "extraFields[0].fieldKey 'email' is already a field of template 'create_contact'",
        id="field-key-clashes-with-template",
    ),
    pytest.param(
        body_with(extraFields=[extra(fieldKey="object type")]),
        "extraFields[0].fieldKey is required and must start with a letter and use only letters, digits and _ (64 at most)",
        id="field-key-malformed",
    ),
    pytest.param(
        body_with(extraFields=[extra(htmlType="select")]),
        "extraFields[0].possibleValues is required for htmlType 'select'",
        id="select-without-possible-values",
    ),
    pytest.param(
        body_with(
            extraFields=[
                extra(
                    htmlType="select", possibleValues=[{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]
                )
            ]
        ),
        "extraFields[0].possibleValues[1].id 'a' is repeated",
        id="possible-values-repeated",
    ),
    pytest.param(
        body_with(extraFields=[extra(fillBy="Admin", required=True)]),
        "extraFields[0].adminValue is required: Object Type is a required field the operator fills",
        id="required-admin-field-without-admin-value",
    ),
    pytest.param(
        body_with(extraFields=[extra(fillBy="Admin", required=True, adminValue="  ")]),
        "extraFields[0].adminValue is required: Object Type is a required field the operator fills",
        id="required-admin-field-with-blank-admin-value",
    ),
    pytest.param(
        body_with(
            extraFields=[
                extra(
                    htmlType="select",
                    fillBy="Admin",
                    adminValue="deal",
                    possibleValues=[{"id": "contact", "label": "Contact"}],
                )
            ]
        ),
        "extraFields[0].adminValue must be one of: contact",
        id="admin-value-not-a-choice",
    ),
    pytest.param(
        body_with(extraFields=[extra(order="first")]),
        "extraFields[0].order must be a whole number from 0 to 10000",
        id="order-not-a-number",
    ),
    pytest.param(
        body_with(extraFields=[extra(fillBy="Customer")]),
        "extraFields[0].fillBy must be one of User, Admin",
        id="fill-by-unknown",
    ),
    pytest.param(
        body_with(extraFields=[extra(type="sometimes")]),
        "extraFields[0].type must be one of static, dynamic",
        id="type-unknown",
    ),
    pytest.param(
        body_with(extraFields=[extra(fieldType="colour")]),
        "extraFields[0].fieldType must be one of string, text, number, integer, boolean, email, phone, url, date, "
        "datetime, array",
        id="field-type-unknown",
    ),
    pytest.param(
        body_with(extraFields=[extra(htmlType="checkbox")]),
        "extraFields[0].htmlType 'checkbox' cannot carry fieldType 'string' (use boolean)",
        id="html-type-incompatible",
    ),
    pytest.param(
        body_with(extraFields=[{"fieldKey": "x"}]),
        "extraFields[0].type is required",
        id="extra-field-incomplete",
    ),
    pytest.param(
        body_with(apiConfig__method="FETCH"),
        "apiConfig.method must be an HTTP verb: GET, POST, PUT, PATCH, DELETE",
        id="method-not-a-verb",
    ),
    pytest.param(
        body_with(apiConfig__endpoint="https://evil.example/contacts"),
        "apiConfig.endpoint must be a relative path starting with / (no scheme or host), such as /api/contacts",
        id="endpoint-absolute-url",
    ),
    pytest.param(
        body_with(apiConfig__endpoint="//evil.example/contacts"),
        "apiConfig.endpoint must be a relative path starting with / (no scheme or host), such as /api/contacts",
        id="endpoint-scheme-relative",
    ),
    pytest.param(
        body_with(apiConfig__endpoint="contacts"),
        "apiConfig.endpoint must be a relative path starting with / (no scheme or host), such as /api/contacts",
        id="endpoint-without-slash",
    ),
    pytest.param(
        body_with(apiConfig__endpoint="/api/../admin"),
        "apiConfig.endpoint must not contain .. segments",
        id="endpoint-dot-dot",
    ),
    pytest.param(
        body_with(apiConfig__endpoint="/api/%2e%2e/admin"),
        "apiConfig.endpoint must not contain .. segments",
        id="endpoint-encoded-dot-dot",
    ),
    pytest.param(
        body_with(apiConfig__endpoint="/api/con tacts"),
        "apiConfig.endpoint may only use URL path characters (no spaces, \\ or #)",
        id="endpoint-space",
    ),
    pytest.param(
        body_with(apiConfig__endpoint="/lists/{{list_id}}"),
        "apiConfig.endpoint refers to '{{list_id}}', which is not an enabled field or extra field",
        id="endpoint-unknown-placeholder",
    ),
    pytest.param(
        body_with(apiConfig=None),
        "apiConfig is required: an object with method and endpoint",
        id="api-config-missing",
    ),
    pytest.param(body_with(status="paused"), "status must be 'active' or 'inactive'", id="status-unknown"),
    pytest.param(
        body_with(featureTemplateName=""),
        "featureTemplateName must be non-empty text of 200 characters at most",
        id="name-blank",
    ),
    pytest.param(
        body_with(fieldMappings=["first_name"]),
        "fieldMappings must be an object keyed by template field",
        id="field-mappings-not-object",
    ),
]


@pytest.mark.parametrize(("body", "message"), CASES)
def test_each_rule_refuses_bad_input_and_writes_nothing(key_client, body, message):
    IntegrationFactory()

    response = key_client.post(URL, body, format="json")

    assert response.status_code == 400, response.json()
    data = response.json()
    assert data["success"] is False
    assert data["message"] == "Validation error"
    assert message in data["errors"], data["errors"]
    assert not FeatureMapping.objects.exists()


def test_every_problem_is_reported_at_once(key_client):
    IntegrationFactory()
    body = body_with(apiConfig={"method": "FETCH", "endpoint": "x"}, extraFields=[extra(fillBy="Nobody")])

    errors = key_client.post(URL, body, format="json").json()["errors"]

    assert len(errors) == 3


def test_canonical_form_keeps_template_order_and_sorts_extra_fields(key_client):
    IntegrationFactory()
    body = body_with(
        fieldMappings={"email": {"enabled": True}, "first_name": {"enabled": False}},
        extraFields=[extra(fieldKey="b", order=5), extra(fieldKey="a", order=2)],
    )

    mapping = key_client.post(URL, body, format="json").json()["mapping"]

    assert list(mapping["fieldMappings"]) == ["first_name", "email"]
    assert [f["fieldKey"] for f in mapping["extraFields"]] == ["a", "b"]


def test_handler_with_params_is_kept_as_given(key_client):
    IntegrationFactory()
    reference = {"name": "validateNameLength", "params": {"min": 2, "max": 40}}
    body = body_with(fieldMappings={"first_name": {"customHandlers": {"validationHandler": reference}}})

    mapping = key_client.post(URL, body, format="json").json()["mapping"]

    assert mapping["fieldMappings"]["first_name"]["customHandlers"]["validationHandler"] == reference
