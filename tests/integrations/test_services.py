import pytest

from core.errors import Conflict, ValidationFailed
from integrations.models import Integration
from integrations.selectors import integration_get, integration_list
from integrations.services import integration_create, integration_delete, integration_update
from tests.integrations.factories import IntegrationFactory, integration_document

pytestmark = pytest.mark.django_db


def test_create_copies_columns_from_the_document():
    integration = integration_create(document=integration_document(id="acme", displayName="Acme Corp"))

    integration.refresh_from_db()
    assert integration.display_name == "Acme Corp"
    assert integration.category == "devtools"
    assert integration.base_url == "https://api.acme.example/v1"
    assert integration.status == "active"
    assert integration.icon_url == "/integrations/acme/icon.svg"
    assert integration.document["authMethods"][0]["id"] == "api-key"


def test_create_keeps_a_local_icon_url_and_refuses_another_host():
    assert integration_create(document=integration_document(iconUrl="/static/img/acme.svg")).icon_url == (
        "/static/img/acme.svg"
    )
    with pytest.raises(ValidationFailed) as excinfo:
        integration_create(
            document=integration_document(id="acme2", iconUrl="https://logo.clearbit.com/acme.com")
        )
    assert excinfo.value.errors == ["$.iconUrl: must be a path on this app, such as /static/img/acme.svg"]


def test_create_reports_json_paths_and_writes_nothing():
    document = integration_document()
    document["authMethods"][0]["fields"][0]["type"] = "secret-box"
    del document["baseUrl"]

    with pytest.raises(ValidationFailed) as excinfo:
        integration_create(document=document)

    assert excinfo.value.message == "Validation error"
    assert "$: 'baseUrl' is a required property" in excinfo.value.errors
    assert any(e.startswith("$.authMethods[0].fields[0].type:") for e in excinfo.value.errors)
    assert not Integration.objects.filter(pk="acme").exists()


def test_create_refuses_an_existing_id():
    integration_create(document=integration_document())
    with pytest.raises(Conflict):
        integration_create(document=integration_document())


def test_update_replaces_the_document_and_keeps_the_id():
    integration = IntegrationFactory(id="acme")

    integration_update(
        integration=integration, document=integration_document(id="acme", category="crm", status="inactive")
    )

    integration.refresh_from_db()
    assert (integration.category, integration.status, integration.document["category"]) == (
        "crm",
        "inactive",
        "crm",
    )
    with pytest.raises(ValidationFailed) as excinfo:
        integration_update(integration=integration, document=integration_document(id="other"))
    assert excinfo.value.errors == ["$.id: must stay 'acme'; create a new integration for a new id"]


def test_delete_removes_an_integration_nothing_depends_on():
    integration = IntegrationFactory(id="acme")

    assert integration_delete(integration=integration) is True
    assert not Integration.objects.filter(pk="acme").exists()


def test_delete_of_a_bundled_integration_deactivates_it():
    salesforce = integration_get(integration_id="salesforce")

    assert integration_delete(integration=salesforce) is False

    salesforce.refresh_from_db()
    assert salesforce.status == "inactive"
    assert salesforce.document["status"] == "inactive"


def test_list_defaults_to_active_and_filters():
    IntegrationFactory(id="zz-one", displayName="Widget Hub", description="Sync widgets", category="zz")
    IntegrationFactory(id="zz-two", displayName="Gadgets", description="The WIDGET store", category="zz")
    IntegrationFactory(id="zz-off", displayName="Old widgets", category="zz", status="inactive")

    assert [i.pk for i in integration_list(category="zz")] == ["zz-two", "zz-one"]
    assert [i.pk for i in integration_list(category="zz", status="inactive")] == ["zz-off"]
    assert [i.pk for i in integration_list(category="zz", q="widget")] == ["zz-two", "zz-one"]
    assert [i.pk for i in integration_list(category="zz", q="widget STORE")] == ["zz-two"]
    assert [i.pk for i in integration_list(category="zz", q="hub")] == ["zz-one"]
    # The wizard's filter also matches the category and the id, as its live filter does.
    assert [i.pk for i in integration_list(q="zz gadgets")] == ["zz-two"]
    assert [i.pk for i in integration_list(q="zz-one")] == ["zz-one"]


def test_get_unknown_or_impossible_id_is_not_found(django_assert_num_queries):
    from core.errors import NotFound

    with pytest.raises(NotFound, match="Integration not found"):
        integration_get(integration_id="nope")
    with django_assert_num_queries(0), pytest.raises(NotFound):
        integration_get(integration_id="../etc\x00")
