import pytest
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
    assert staff.get(f"/admin/features/featuremapping/{mapping.pk}/change/").status_code == 200


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
