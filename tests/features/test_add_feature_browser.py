import pytest
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from tests.accounts.factories import OperatorFactory
from tests.conftest import sign_in
from tests.features.factories import IntegrationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_adds_a_feature_that_the_api_returns(page, screenshot):
    IntegrationFactory()
    operator = OperatorFactory()
    sign_in(page, operator)

    page.goto("/integrations/hubspot/add-feature")
    page.select_option("#id_template", "create_contact")
    page.click("text=Continue")
    page.wait_for_url("**/add-feature?template=create_contact")

    page.fill("#id_endpoint", "/crm/v3/objects/{{object_type}}")
    page.check("#id_field-phone-enabled")
    page.select_option("#id_field-first_name-valueHandler", "capitalizeFirstName")
    page.select_option("#id_field-first_name-validationHandler", "validateNameLength")
    page.select_option("#id_field-email-validationHandler", "validateEmailFormat")
    page.select_option("#id_field-phone-valueHandler", "toE164Phone")

    page.fill("#id_extra-0-fieldKey", "object_type")
    page.fill("#id_extra-0-label", "Object Type")
    page.select_option("#id_extra-0-htmlType", "select")
    page.select_option("#id_extra-0-fillBy", "Admin")
    page.check("#id_extra-0-required")
    page.fill("#id_extra-0-possibleValues", "contacts|Contacts\nleads|Leads")
    # The first try forgets the admin value: the error appears next to that input.
    page.click("button:has-text('Add feature')")
    page.wait_for_load_state("networkidle")
    assert page.locator("[role=alert]").inner_text().startswith("The feature was not saved.")
    assert page.locator("#id_extra-0-adminValue_errors").is_visible()
    assert "adminValue is required" in page.locator("#id_extra-0-adminValue_errors").inner_text()
    screenshot("inline-error")

    page.fill("#id_extra-0-adminValue", "contacts")
    page.click("[data-add-extra]")  # JavaScript adds a row without a round trip
    page.fill("#id_extra-1-fieldKey", "lifecycle_stage")
    page.fill("#id_extra-1-label", "Lifecycle Stage")
    page.fill("#id_extra-1-order", "2")
    screenshot("filled")
    page.click("button:has-text('Add feature')")

    page.wait_for_url("**/integrations/hubspot/features")
    assert page.locator(".flash").inner_text().startswith("Feature “Create Contact” added")
    screenshot("saved")

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='browser test')[1]}")
    mappings = client.get("/api/integrations/hubspot/feature-mappings").json()["featureMappings"]
    assert len(mappings) == 1
    mapping = mappings[0]
    assert mapping["featureTemplateId"] == "create_contact"
    assert mapping["apiConfig"] == {
        "apiConfigId": None,
        "method": "POST",
        "endpoint": "/crm/v3/objects/{{object_type}}",
    }
    assert mapping["fieldMappings"]["phone"]["enabled"] is True
    assert mapping["fieldMappings"]["phone"]["customHandlers"]["valueHandler"] == "toE164Phone"
    assert (
        mapping["fieldMappings"]["first_name"]["customHandlers"]["validationHandler"] == "validateNameLength"
    )
    assert [f["fieldKey"] for f in mapping["extraFields"]] == ["object_type", "lifecycle_stage"]
    assert mapping["extraFields"][0]["adminValue"] == "contacts"
    assert page.locator(f"[data-mapping-id='{mapping['id']}']").is_visible()
