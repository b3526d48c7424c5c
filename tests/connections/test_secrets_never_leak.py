"""A canary secret goes in through every door and must come out in plaintext nowhere except the
detail endpoint, to its owner or an API key."""

import logging

import pytest
from django.db import connection as db
from django.test import Client

from connections.models import Connection
from tests.connections.factories import salesforce

pytestmark = pytest.mark.django_db

CANARY = "CANARY-s3cr3t-9d41c7"
CANARY_2 = "CANARY-s3cr3t-rotated-55e0"


def every_stored_text() -> str:
    """Every row of every table, as text."""
    chunks = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_the_canary_appears_nowhere_in_plaintext(caplog, key_client, user_client, user, operator):
    caplog.set_level(logging.DEBUG)
    salesforce()
    seen: list[str] = []
    body = {
        "integrationId": "salesforce",
        "authMethodId": "oauth2",
        "configuredVariables": {"instance_url": "https://mycompany.salesforce.com"},
        "credentials": {"clientId": "3MVG9-canary", "clientSecret": CANARY},
    }

    created = user_client.post(
        "/api/user-integrations/connect", body, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    seen.append(created.content.decode())
    connection_id = created.json()["connectionId"]
    url = f"/api/user-integrations/{connection_id}"
    # Failing requests that carry the canary: their errors must not echo it.
    for bad in (
        {**body, "credentials": {"clientId": "x", "clientSecret": CANARY, "extra": CANARY}},
        {**body, "configuredVariables": {"instance_url": f"{CANARY} is not an address"}},
        {**body, "userId": "someone-else"},
    ):
        seen.append(user_client.post("/api/user-integrations/connect", bad, format="json").content.decode())
    seen.append(
        user_client.post(
            "/api/user-integrations/connect",
            {**body, "connectionName": "x"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k1",
        ).content.decode()
    )
    seen.append(
        user_client.put(url, {"credentials": {"clientSecret": CANARY_2}}, format="json").content.decode()
    )
    seen.append(
        user_client.put(
            url, {"credentials": {"clientId": CANARY, "bogus": CANARY}}, format="json"
        ).content.decode()
    )
    seen.append(
        key_client.get(f"/api/user-integrations/my-connections?userId={user.user_id}").content.decode()
    )
    seen.append(user_client.get("/api/user-integrations/my-connections").content.decode())
    seen.append(user_client.get(f"{url}/history").content.decode())
    operator_client = Client()
    operator_client.force_login(operator)
    seen.append(operator_client.get(url).content.decode())
    seen.append(operator_client.get("/admin/connections/connection/").content.decode())
    pk = Connection.objects.get().pk
    seen.append(operator_client.get(f"/admin/connections/connection/{pk}/change/").content.decode())
    seen.append(operator_client.get(f"/admin/connections/connection/{pk}/history/").content.decode())
    assert Connection.objects.count() == 1  # the failing requests created nothing
    # The owner does get the secret back from the detail endpoint, as the contract says.
    assert CANARY_2 in user_client.get(url).content.decode()

    everything = "\n".join(seen) + every_stored_text() + caplog.text + "".join(map(repr, caplog.records))
    assert "connection " in caplog.text  # the services did log, just not the secrets
    for canary in (CANARY, CANARY_2):
        assert canary not in everything


def test_a_ciphertext_moved_to_another_connection_fails_loudly(key_client, user):
    salesforce()
    from tests.connections.factories import ConnectionFactory

    victim = ConnectionFactory(user=user, credentials={"clientId": "a", "clientSecret": CANARY})
    attacker = ConnectionFactory(credentials={"clientId": "b", "clientSecret": "mine"})
    Connection.objects.filter(pk=attacker.pk).update(credentials_encrypted=victim.credentials_encrypted)

    response = key_client.get(f"/api/user-integrations/{attacker.connection_id}")

    assert response.status_code == 500
    body = response.json()
    assert body["message"] == "Failed to decrypt credentials"
    assert "another record" in body["error"]
    assert CANARY not in response.content.decode()
