import html
import json
import re

import pytest
from django.contrib.admin.utils import quote
from django.test import Client

from features.models import FeatureMapping
from tests.features.factories import FeatureMappingFactory, IntegrationFactory

pytestmark = pytest.mark.django_db

ADD = "/integrations/hubspot/add-feature"


@pytest.fixture
def staff(operator):
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def hubspot(db):
    return IntegrationFactory()


def management(total=1, initial=0):
    return {
        "extra-TOTAL_FORMS": str(total),
        "extra-INITIAL_FORMS": str(initial),
        "extra-MIN_NUM_FORMS": "0",
        "extra-MAX_NUM_FORMS": "100",
    }


def contact_post(**changes):
    data = {
        "featureTemplateName": "Create Contact",
        "status": "active",
        "method": "POST",
        "endpoint": "/crm/v3/objects/contacts",
        "apiConfigId": "",
        "field-first_name-enabled": "on",
        "field-first_name-valueHandler": "capitalizeFirstName",
        "field-first_name-validationHandler": "validateNameLength",
        "field-email-enabled": "on",
        "field-email-validationHandler": "validateEmailFormat",
        **management(),
    }
    data.update(changes)
    return data


def test_signed_out_visitors_go_to_login(client, hubspot):
    response = client.get(ADD)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_end_users_get_403(client, user, hubspot):
    client.force_login(user)
    assert client.get(ADD).status_code == 403
    assert client.post(f"{ADD}?template=create_contact", contact_post()).status_code == 403
    assert not FeatureMapping.objects.exists()


def test_unknown_integration_is_404(staff):
    assert staff.get("/integrations/nope/add-feature").status_code == 404


def test_start_page_offers_templates_and_blank(staff, hubspot):
    page = staff.get(ADD).content.decode()
    assert 'value="create_contact"' in page and 'value="blank"' in page


def test_form_offers_template_fields_and_registry_handlers(staff, hubspot):
    page = staff.get(f"{ADD}?template=create_contact").content.decode()

    assert 'name="field-first_name-enabled"' in page
    assert '<option value="capitalizeFirstName">' in page
    assert '<option value="toE164Phone">' in page
    assert "<script>" not in page  # CSP: no inline scripts


def test_add_feature_from_template(staff, hubspot):
    response = staff.post(f"{ADD}?template=create_contact", contact_post())

    assert response.status_code == 302
    mapping = FeatureMapping.objects.get()
    assert mapping.feature_template_id == "create_contact"
    assert mapping.field_mappings["first_name"]["customHandlers"]["valueHandler"] == "capitalizeFirstName"
    assert mapping.field_mappings["phone"]["enabled"] is False
    assert mapping.endpoint == "/crm/v3/objects/contacts"


def test_errors_are_shown_next_to_the_inputs_and_nothing_is_saved(staff, hubspot):
    data = contact_post(
        endpoint="https://evil.example/x",
        **{
            "extra-0-fieldKey": "object_type",
            "extra-0-label": "Object Type",
            "extra-0-type": "static",
            "extra-0-fieldType": "string",
            "extra-0-htmlType": "select",
            "extra-0-fillBy": "Admin",
            "extra-0-required": "on",
        },
    )

    response = staff.post(f"{ADD}?template=create_contact", data)

    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_endpoint_errors"' in page
    assert "apiConfig.endpoint must be a relative path" in page
    assert 'id="id_extra-0-possibleValues_errors"' in page
    assert 'id="id_extra-0-adminValue_errors"' in page
    assert not FeatureMapping.objects.exists()


def test_add_another_extra_row_without_javascript(staff, hubspot):
    data = contact_post(add_extra="1", **{"extra-0-fieldKey": "source", "extra-0-label": "Source"})

    response = staff.post(f"{ADD}?template=create_contact", data)

    page = response.content.decode()
    assert 'name="extra-1-fieldKey"' in page
    assert 'value="source"' in page
    assert not FeatureMapping.objects.exists()


def test_blank_feature_with_extra_fields(staff, hubspot):
    data = {
        "featureTemplateName": "Subscribe",
        "status": "active",
        "method": "POST",
        "endpoint": "/lists/{{list_id}}/members",
        **management(total=2),
        "extra-0-fieldKey": "list_id",
        "extra-0-label": "List",
        "extra-0-type": "static",
        "extra-0-fieldType": "string",
        "extra-0-htmlType": "select",
        "extra-0-fillBy": "Admin",
        "extra-0-required": "on",
        "extra-0-possibleValues": "news|Newsletter\nevents|Events",
        "extra-0-adminValue": "news",
        "extra-1-fieldKey": "email",
        "extra-1-label": "Email",
        "extra-1-type": "static",
        "extra-1-fieldType": "email",
        "extra-1-htmlType": "email",
        "extra-1-fillBy": "User",
        "extra-1-validationHandler": "validateEmailFormat",
    }

    response = staff.post(f"{ADD}?template=blank", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    mapping = FeatureMapping.objects.get()
    assert mapping.feature_template is None
    assert mapping.extra_fields[0]["possibleValues"] == [
        {"id": "news", "label": "Newsletter"},
        {"id": "events", "label": "Events"},
    ]
    assert mapping.extra_fields[1]["customHandlers"]["validationHandler"] == "validateEmailFormat"


def test_edit_keeps_handler_params_set_through_the_api(staff, hubspot):
    reference = {"name": "validateNameLength", "params": {"min": 2, "max": 30}}
    mapping = FeatureMappingFactory(
        integration=hubspot,
        field_mappings={
            "first_name": {
                "enabled": True,
                "overrides": {"label": "Given name"},
                "customHandlers": {"validationHandler": reference},
            }
        },
    )
    url = f"/integrations/hubspot/features/{mapping.pk}/edit"
    page = staff.get(url).content.decode()
    assert 'value="/api/contacts"' in page

    response = staff.post(url, contact_post(**{"field-first_name-validationHandler": "validateNameLength"}))

    assert response.status_code == 302
    mapping.refresh_from_db()
    entry = mapping.field_mappings["first_name"]
    assert entry["customHandlers"]["validationHandler"] == reference
    assert entry["overrides"] == {"label": "Given name"}
    assert mapping.endpoint == "/crm/v3/objects/contacts"


def test_delete_from_the_page(staff, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)

    response = staff.post(f"/integrations/hubspot/features/{mapping.pk}/delete")

    assert response.status_code == 302
    assert not FeatureMapping.objects.exists()


def test_feature_list_page(staff, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)

    page = staff.get("/integrations/hubspot/features").content.decode()

    assert mapping.pk in page and "POST /api/contacts" in page


def test_admin_pages_render(staff, hubspot):
    mapping = FeatureMappingFactory(integration=hubspot)
    assert staff.get("/admin/features/featuretemplate/create_contact/change/").status_code == 200
    assert staff.get("/admin/features/featuremapping/").status_code == 200
    # The admin escapes ids in its URLs ("_40" stands for "@"): a raw "mapping_…_40…" missed.
    assert staff.get(f"/admin/features/featuremapping/{quote(mapping.pk)}/change/").status_code == 200


def test_admin_template_edit_is_validated(staff):
    url = "/admin/features/featuretemplate/create_contact/change/"
    bad = '{"kind": {"type": "static", "label": "Kind", "required": true, "fieldType": "string", "htmlType": "select", "fillBy": "User"}}'

    response = staff.post(
        url, {"name": "Create Contact", "description": "", "category": "contacts", "fields": bad}
    )

    assert response.status_code == 200
    assert "fields.kind.possibleValues is required for htmlType" in response.content.decode()

    good = bad.replace('"htmlType": "select"', '"htmlType": "text"')
    response = staff.post(
        url, {"name": "Create Contact", "description": "x", "category": "contacts", "fields": good}
    )
    assert response.status_code == 302
    from features.models import FeatureTemplate

    assert FeatureTemplate.objects.get(pk="create_contact").fields == [
        {
            "key": "kind",
            "type": "static",
            "label": "Kind",
            "required": True,
            "fieldType": "string",
            "htmlType": "text",
            "fillBy": "User",
        }
    ]


# --- Handler parameters, the request preview and the links to the feature pages.

HUBSPOT_BODY = {
    "field-first_name-submitHandler": "nestUnder",
    "field-first_name-submitHandler-nestUnder-path": "properties",
    "field-first_name-submitHandler-nestUnder-key": "firstname",
    "field-first_name-handlerParams": "1",
    "field-last_name-enabled": "on",
    "field-last_name-submitHandler": "nestUnder",
    "field-last_name-submitHandler-nestUnder-path": "properties",
    "field-last_name-submitHandler-nestUnder-key": "lastname",
    "field-last_name-handlerParams": "1",
    "field-email-submitHandler": "nestUnder",
    "field-email-submitHandler-nestUnder-path": "properties",
    "field-email-handlerParams": "1",
}
SAMPLE = '{"first_name": "ada", "last_name": "Lovelace", "email": "ada@example.com"}'


def test_every_handler_parameter_has_an_input(staff, hubspot):
    page = staff.get(f"{ADD}?template=create_contact").content.decode()

    for name in (
        "field-email-submitHandler-renameTo-key",
        "field-email-submitHandler-nestUnder-path",
        "field-email-submitHandler-nestUnder-key",
        "field-email-submitHandler-splitFullName-firstKey",
        "field-phone-valueHandler-toE164Phone-defaultCountryCode",
        "field-first_name-validationHandler-validateNameLength-max",
        "extra-0-submitHandler-renameTo-key",
    ):
        assert f'name="{name}"' in page, name
    assert '<label for="id_field-email-submitHandler-renameTo-key">Key (required)</label>' in page
    assert 'aria-label="Email: renameTo Key (required)"' in page


def test_hubspot_properties_body_is_built_from_the_page(staff, hubspot, key_client):
    response = staff.post(f"{ADD}?template=create_contact", contact_post(**HUBSPOT_BODY))

    assert response.status_code == 302
    mapping = FeatureMapping.objects.get()
    handlers = mapping.field_mappings["first_name"]["customHandlers"]
    assert handlers["submitHandler"] == {
        "name": "nestUnder",
        "params": {"path": "properties", "key": "firstname"},
    }
    assert mapping.field_mappings["email"]["customHandlers"]["submitHandler"] == {
        "name": "nestUnder",
        "params": {"path": "properties"},
    }
    preview = key_client.post(
        f"/api/integrations/hubspot/feature-mappings/{mapping.pk}/preview",
        {"input": json.loads(SAMPLE)},
        format="json",
    ).json()
    assert preview["request"]["body"] == {
        "properties": {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}
    }


def test_parameters_are_saved_as_their_types_and_shown_again(staff, hubspot):
    data = contact_post(
        **{
            "field-first_name-handlerParams": "1",
            "field-first_name-validationHandler-validateNameLength-min": "2",
            "field-first_name-validationHandler-validateNameLength-max": " 30 ",
            # Another handler's inputs are sent too; only the chosen handler's count.
            "field-first_name-validationHandler-validateMaxLength-max": "9",
        }
    )
    staff.post(f"{ADD}?template=create_contact", data)

    mapping = FeatureMapping.objects.get()
    assert mapping.field_mappings["first_name"]["customHandlers"]["validationHandler"] == {
        "name": "validateNameLength",
        "params": {"min": 2, "max": 30},
    }
    page = staff.get(f"/integrations/hubspot/features/{mapping.pk}/edit").content.decode()
    assert 'name="field-first_name-validationHandler-validateNameLength-max" value="30"' in page


def test_a_cleared_parameter_is_removed(staff, hubspot):
    reference = {"name": "validateNameLength", "params": {"min": 2, "max": 30}}
    mapping = FeatureMappingFactory(
        integration=hubspot,
        field_mappings={"first_name": {"enabled": True, "customHandlers": {"validationHandler": reference}}},
    )
    data = contact_post(
        **{
            "field-first_name-handlerParams": "1",
            "field-first_name-validationHandler-validateNameLength-min": "",
            "field-first_name-validationHandler-validateNameLength-max": "30",
        }
    )

    staff.post(f"/integrations/hubspot/features/{mapping.pk}/edit", data)

    mapping.refresh_from_db()
    assert mapping.field_mappings["first_name"]["customHandlers"]["validationHandler"] == {
        "name": "validateNameLength",
        "params": {"max": 30},
    }


def test_a_missing_or_bad_parameter_is_named_next_to_its_input(staff, hubspot):
    data = contact_post(
        **{
            "field-email-submitHandler": "renameTo",
            "field-email-handlerParams": "1",
            "field-email-submitHandler-renameTo-key": "",
            "field-first_name-handlerParams": "1",
            "field-first_name-validationHandler-validateNameLength-max": "lots",
        }
    )

    response = staff.post(f"{ADD}?template=create_contact", data)

    assert response.status_code == 400
    page = response.content.decode()
    errors = re.search(r'id="id_field-email-submitHandler-renameTo-key_errors">(.*?)</ul>', page, re.S)
    assert "params.key is required by renameTo" in errors.group(1)
    errors = re.search(
        r'id="id_field-first_name-validationHandler-validateNameLength-max_errors">(.*?)</ul>', page, re.S
    )
    assert "params.max must be an integer" in errors.group(1)
    assert not FeatureMapping.objects.exists()


def test_only_the_chosen_handlers_parameters_are_shown(staff, hubspot):
    page = staff.post(f"{ADD}?template=create_contact", contact_post(preview="1", **HUBSPOT_BODY))

    text = page.content.decode()
    groups = re.findall(r'<div class="handler-params" data-handler-params="(\w+)"( hidden)?>', text)
    shown = [name for name, hidden in groups if not hidden]
    assert sorted(shown) == ["nestUnder", "nestUnder", "nestUnder", "validateNameLength"]
    assert len(groups) > 20  # every other handler's inputs are there, hidden


def test_preview_is_on_the_page_without_javascript(staff, hubspot):
    data = contact_post(preview="1", try_input=SAMPLE, **HUBSPOT_BODY)

    response = staff.post(f"{ADD}?template=create_contact", data)

    assert response.status_code == 200
    page = response.content.decode()
    target = re.search(r"<code data-preview-target>(.*?)</code>", page).group(1)
    assert target == "POST /crm/v3/objects/contacts"
    body = re.search(r"<pre data-preview-body>(.*?)</pre>", page, re.S).group(1)
    assert json.loads(html.unescape(body)) == {
        "properties": {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}
    }
    assert not FeatureMapping.objects.exists()  # previewing saves nothing


def test_preview_fragment_for_the_pages_script_names_the_problems(staff, hubspot):
    data = contact_post(preview="1", try_input='{"first_name": "ada", "email": "nope"}')

    response = staff.post(f"{ADD}?template=create_contact", data, HTTP_X_FEATURE_PREVIEW="1")

    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div class="preview-result"')
    assert "<html" not in fragment
    assert "No request yet." in fragment and "Email must be a valid email address" in fragment

    data = contact_post(preview="1", try_input="[1, 2]")
    fragment = staff.post(f"{ADD}?template=create_contact", data, HTTP_X_FEATURE_PREVIEW="1").content
    assert "The sample input must be a JSON object" in fragment.decode()


def test_edit_page_opens_with_a_preview_of_sample_input(staff, hubspot):
    mapping = FeatureMappingFactory(
        integration=hubspot,
        field_mappings={
            "first_name": {"enabled": True, "customHandlers": {"valueHandler": "capitalizeFirstName"}},
            "email": {"enabled": True},
        },
    )

    page = staff.get(f"/integrations/hubspot/features/{mapping.pk}/edit").content.decode()

    sample = json.loads(html.unescape(re.search(r"data-sample-input>(.*?)</textarea>", page, re.S).group(1)))
    assert sample == {"first_name": "first name", "email": "ada@example.com"}
    body = re.search(r"<pre data-preview-body>(.*?)</pre>", page, re.S).group(1)
    assert json.loads(html.unescape(body)) == {"first_name": "First Name", "email": "ada@example.com"}


def test_operators_reach_the_feature_pages_from_the_nav_and_the_integration_admin(staff, hubspot):
    FeatureMappingFactory(integration=hubspot)
    page = staff.get("/my-connections/").content.decode()
    assert '<a href="/features/"' in page

    index = staff.get("/features/").content.decode()
    assert 'href="/integrations/hubspot/features"' in index
    assert re.search(r'data-integration="hubspot">.*?<td>1 <span class="muted">\(1 active\)', index, re.S)

    change = staff.get("/admin/integrations/integration/hubspot/change/").content.decode()
    assert 'href="/integrations/hubspot/features"' in change

    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', staff.get(ADD).content.decode(), re.S).group(0)
    assert re.findall(r">([^<>]+)</(?:a|span)>", crumbs) == ["Features", "HubSpot", "Add a feature"]


def test_end_users_see_no_features_link(client, user):
    client.force_login(user)
    assert "/features/" not in client.get("/my-connections/").content.decode()
    assert client.get("/features/").status_code == 403
