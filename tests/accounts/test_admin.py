import pytest

from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

CANARY = "CANARY-user-admin-s3cr3t"


def test_user_admin_shows_their_connections_without_secrets(client, operator, user):
    connection = ConnectionFactory(
        user=user, connection_name="Sales CRM", credentials={"clientId": "3MVG9", "clientSecret": CANARY}
    )
    client.force_login(operator)

    page = client.get(f"/admin/accounts/user/{user.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert connection.connection_id in html
    assert "Sales CRM" in html
    assert CANARY not in html
    assert connection.credentials_encrypted not in html


def test_api_key_admin_shows_the_raw_key_once(client, operator):
    client.force_login(operator)

    response = client.post("/admin/accounts/apikey/add/", {"name": "billing"}, follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("New API key (shown once") for m in messages)
    raw = messages[0].rsplit(" ", 1)[-1]
    assert raw.startswith("ck_")
    listing = client.get("/admin/accounts/apikey/").content.decode()
    assert "billing" in listing and raw not in listing
