import json

import pytest
from django.urls import reverse

from integrations.models import Integration
from tests.integrations.factories import IntegrationFactory, integration_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


def test_changelist_filters_and_searches(admin_client):
    url = reverse("admin:integrations_integration_changelist")

    page = admin_client.get(url, {"category": "payment"}).content.decode()
    assert "Stripe" in page and "Slack" not in page

    page = admin_client.get(url, {"q": "helpdesk"}).content.decode()
    assert "Freshdesk" in page and "Stripe" not in page
    assert 'src="/integrations/freshdesk/icon.svg"' in page


def test_change_page_shows_the_document_as_json(admin_client):
    page = admin_client.get(
        reverse("admin:integrations_integration_change", args=["stripe"])
    ).content.decode()

    assert "&quot;baseUrl&quot;: &quot;https://api.stripe.com/v1&quot;" in page
    assert "Provider file" in page


def test_invalid_document_is_shown_inline_with_json_paths(admin_client):
    document = integration_document(id="acme")
    document["authMethods"][0]["fields"][0]["type"] = "secret-box"

    response = admin_client.post(
        reverse("admin:integrations_integration_add"), {"document": json.dumps(document)}
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["document"]
    assert any(e.startswith("$.authMethods[0].fields[0].type:") for e in errors)
    assert "$.authMethods[0].fields[0].type:" in response.content.decode()
    assert not Integration.objects.filter(pk="acme").exists()


def test_malformed_json_is_an_inline_error(admin_client):
    response = admin_client.post(reverse("admin:integrations_integration_add"), {"document": '{"id": '})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["document"] == ["Enter a valid JSON."]


def test_add_copies_columns_from_the_document(admin_client):
    document = integration_document(id="acme", displayName="Acme Admin", category="crm")

    response = admin_client.post(
        reverse("admin:integrations_integration_add"), {"document": json.dumps(document)}
    )

    assert response.status_code == 302
    integration = Integration.objects.get(pk="acme")
    assert (integration.display_name, integration.category, integration.icon_url) == (
        "Acme Admin",
        "crm",
        "/integrations/acme/icon.svg",
    )


def test_add_refuses_an_existing_id(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_integration_add"),
        {"document": json.dumps(integration_document(id="stripe"))},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["document"] == [
        "$.id: an integration with id 'stripe' already exists"
    ]


def test_change_updates_columns_and_keeps_the_id(admin_client):
    IntegrationFactory(id="acme")
    url = reverse("admin:integrations_integration_change", args=["acme"])

    response = admin_client.post(
        url, {"document": json.dumps(integration_document(id="acme", status="inactive"))}
    )
    assert response.status_code == 302
    assert Integration.objects.get(pk="acme").status == "inactive"

    response = admin_client.post(url, {"document": json.dumps(integration_document(id="renamed"))})
    assert response.context["adminform"].form.errors["document"] == ["$.id: must stay 'acme'"]


def test_delete_of_a_bundled_integration_deactivates_it(admin_client):
    url = reverse("admin:integrations_integration_delete", args=["github"])

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert response.status_code == 200
    assert Integration.objects.get(pk="github").status == "inactive"
    assert "deactivated, not deleted" in response.content.decode()
