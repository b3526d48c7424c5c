import json
from pathlib import Path

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from features.models import FeatureMapping
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
    with page.expect_navigation():  # a form post: the answer is the next page
        page.click("button:has-text('Add feature')")
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


HUBSPOT_PROPERTIES = {"properties": {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}}
AXE = (Path(__file__).resolve().parents[1] / "browser_assets" / "axe.min.js").read_text()


def serious_axe_violations(page) -> list[str]:
    page.evaluate(AXE)
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def overflows(page) -> bool:
    return page.evaluate(
        """() => document.documentElement.scrollWidth > window.innerWidth ||
                 [...document.querySelectorAll('.feature-table')].some(t => t.scrollWidth > t.clientWidth + 1)"""
    )


def test_hubspot_body_is_built_with_handler_parameters_and_a_live_preview(page, screenshot):
    IntegrationFactory()
    sign_in(page, OperatorFactory())
    page.goto("/integrations/hubspot/add-feature?template=create_contact")
    assert not overflows(page)  # 1280 px: every column of the field table on screen
    expect(page.locator("[data-preview-problems]")).to_contain_text("Fill in the endpoint path")

    page.fill("#id_endpoint", "/crm/v3/objects/contacts")
    for field, key in (("first_name", "firstname"), ("last_name", "lastname"), ("email", None)):
        page.select_option(f"#id_field-{field}-submitHandler", "nestUnder")
        # The chosen handler's parameters appear under it; another handler's stay hidden.
        expect(page.locator(f"#id_field-{field}-submitHandler-nestUnder-path")).to_be_visible()
        expect(page.locator(f"#id_field-{field}-submitHandler-renameTo-key")).to_be_hidden()
        page.get_by_label(f"{field.replace('_', ' ').title()}: nestUnder Path (required)").fill("properties")
        if key:
            page.fill(f"#id_field-{field}-submitHandler-nestUnder-key", key)
    page.select_option("#id_field-first_name-valueHandler", "capitalizeFirstName")
    page.fill("#id_try_input", '{"first_name": "ada", "last_name": "Lovelace", "email": "ada@example.com"}')

    # No click: the preview follows the form.
    body = page.locator("[data-preview-body]")
    expect(body).to_contain_text('"firstname": "Ada"')
    assert json.loads(body.inner_text()) == HUBSPOT_PROPERTIES
    expect(page.locator("[data-preview-target]")).to_have_text("POST /crm/v3/objects/contacts")
    assert page.url.endswith("/add-feature?template=create_contact")
    assert not overflows(page)
    assert serious_axe_violations(page) == []
    screenshot("hubspot-preview-1280")

    page.fill("#id_field-first_name-submitHandler-nestUnder-key", "first name")  # not a body key
    expect(page.locator("[data-preview-problems]")).to_contain_text(
        "params.key has characters that are not allowed"
    )
    page.fill("#id_field-first_name-submitHandler-nestUnder-key", "firstname")
    expect(body).to_contain_text('"firstname": "Ada"')

    page.set_viewport_size({"width": 375, "height": 800})
    assert not overflows(page)
    # Each visible control, scrolled into view, lies within the 375 px (one round trip for all).
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('.feature-fields select, .feature-fields input')]
            // Visible as Playwright means it: a box, and not visibility: hidden.
            .filter(control => control.checkVisibility({visibilityProperty: true})
                && control.getBoundingClientRect().width > 0)
            .map(control => {
                control.scrollIntoView({block: 'nearest', inline: 'nearest'});
                const box = control.getBoundingClientRect();
                return [control.name, box.x, box.width];
            })"""
    )
    assert len(boxes) > 20
    for name, x, width in boxes:
        assert x >= 0 and x + width <= 375, name
    page.focus("#id_field-email-submitHandler")  # reachable by keyboard, not only by pointer
    assert page.evaluate("document.activeElement.id") == "id_field-email-submitHandler"
    assert serious_axe_violations(page) == []
    screenshot("hubspot-preview-375")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("button:has-text('Add feature')")
    page.wait_for_url("**/integrations/hubspot/features")
    mapping = FeatureMapping.objects.get()
    assert mapping.field_mappings["first_name"]["customHandlers"]["submitHandler"] == {
        "name": "nestUnder",
        "params": {"path": "properties", "key": "firstname"},
    }
    assert not overflows(page)


@pytest.mark.no_javascript
def test_without_javascript_the_chosen_handlers_parameters_come_back_with_the_preview(page, screenshot):
    IntegrationFactory()
    sign_in(page, OperatorFactory())
    page.goto("/integrations/hubspot/add-feature?template=create_contact")
    page.fill("#id_endpoint", "/crm/v3/objects/contacts")
    page.select_option("#id_field-email-submitHandler", "renameTo")
    expect(page.locator("#id_field-email-submitHandler-renameTo-key")).to_be_hidden()

    with page.expect_navigation():  # a form post: the answer is the next page
        page.click("[data-preview-button]")

    expect(page.locator("#id_field-email-submitHandler-renameTo-key")).to_be_visible()
    expect(page.locator("[data-preview-problems]")).to_contain_text("params.key is required by renameTo")
    page.fill("#id_field-email-submitHandler-renameTo-key", "Email")
    with page.expect_navigation():  # a form post: the answer is the next page
        page.click("[data-preview-button]")
    body = json.loads(page.locator("[data-preview-body]").inner_text())
    assert body["Email"] == "ada@example.com" and "email" not in body
    screenshot("no-js-preview")
