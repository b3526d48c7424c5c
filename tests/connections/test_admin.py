import pytest

from connections.models import Connection
from connections.selectors import MASK, connection_credentials
from tests.connections.factories import ConnectionFactory, hubspot

pytestmark = pytest.mark.django_db

CANARY = "CANARY-s3cr3t-admin-7f3a"


@pytest.fixture
def connection(user):
    return ConnectionFactory(user=user, credentials={"clientId": "3MVG9-admin", "clientSecret": CANARY})


def change_url(connection) -> str:
    return f"/admin/connections/connection/{connection.pk}/change/"


def test_changelist_filters_searches_and_never_shows_secrets(admin_client, connection):
    ConnectionFactory(connection_name="Someone else's")
    hubspot()  # a second integration, so the integration filter has a choice to offer
    response = admin_client.get("/admin/connections/connection/", {"q": connection.connection_id})

    page = response.content.decode()
    assert response.status_code == 200
    assert connection.connection_name in page and "Someone else" not in page
    assert CANARY not in page
    for filter_name in ("integration__id__exact", "status__exact", "last_test_status__exact"):
        assert filter_name in page


def test_change_page_masks_secrets_and_shows_the_audit_trail(admin_client, connection, user):
    from connections.services import audit_record

    audit_record(connection=connection, action="update", actor=user, fields=["credentials.clientSecret"])
    response = admin_client.get(change_url(connection))

    page = response.content.decode()
    assert response.status_code == 200
    assert CANARY not in page
    assert connection.credentials_encrypted not in page
    assert MASK in page and 'name="credential__clientSecret"' in page
    assert 'value="3MVG9-admin"' in page
    assert "credentials.clientSecret" in page  # the audit inline names fields
    assert "AES-256-GCM with key &#x27;test2&#x27;" in page


def form_data(connection, **overrides) -> dict:
    data = {
        "connection_name": connection.connection_name,
        "status": connection.status,
        "credential__clientId": "3MVG9-admin",
        "credential__clientSecret": "",
        "variable__instance_url": connection.configured_variables["instance_url"],
        "audit_events-TOTAL_FORMS": "0",
        "audit_events-INITIAL_FORMS": "0",
        "audit_events-MIN_NUM_FORMS": "0",
        "audit_events-MAX_NUM_FORMS": "0",
        "test_runs-TOTAL_FORMS": "0",
        "test_runs-INITIAL_FORMS": "0",
        "test_runs-MIN_NUM_FORMS": "0",
        "test_runs-MAX_NUM_FORMS": "0",
        "proxy_calls-TOTAL_FORMS": "0",
        "proxy_calls-INITIAL_FORMS": "0",
        "proxy_calls-MIN_NUM_FORMS": "0",
        "proxy_calls-MAX_NUM_FORMS": "0",
    }
    return {**data, **overrides}


def test_saving_with_an_empty_secret_keeps_it(admin_client, connection):
    response = admin_client.post(change_url(connection), form_data(connection, connection_name="Renamed"))

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.connection_name == "Renamed"
    assert connection_credentials(connection=connection)["clientSecret"] == CANARY
    assert connection.audit_events.get().fields == ["connectionName"]


def test_typing_a_secret_replaces_it_through_the_service(admin_client, connection, operator):
    response = admin_client.post(
        change_url(connection), form_data(connection, credential__clientSecret="new-secret")
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection_credentials(connection=connection)["clientSecret"] == "new-secret"
    event = connection.audit_events.get()
    assert (event.actor, event.fields) == (f"user:{operator.user_id}", ["credentials.clientSecret"])


def test_invalid_values_are_shown_as_form_errors(admin_client, connection):
    response = admin_client.post(
        change_url(connection),
        form_data(connection, credential__clientId="", variable__instance_url="not an address"),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "credentials.clientId cannot be empty" in page
    assert "configuredVariables.instance_url must be a valid URL" in page
    assert CANARY not in page
    connection.refresh_from_db()
    assert connection.version == 1


def test_deactivate_action(admin_client, connection):
    response = admin_client.post(
        "/admin/connections/connection/", {"action": "deactivate", "_selected_action": [connection.pk]}
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == Connection.Status.INACTIVE
    assert connection.audit_events.get().action == "delete"


def test_no_add_or_delete_pages(admin_client, connection):
    assert admin_client.get("/admin/connections/connection/add/").status_code == 403
    assert admin_client.get(f"/admin/connections/connection/{connection.pk}/delete/").status_code == 403
