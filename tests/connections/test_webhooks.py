"""Webhooks to the host product, in process: events from the API and from tests, Standard Webhooks
signatures checked by a local receiver with the standardwebhooks library, retries, disabling,
the admin (secret shown once, delivery log, Redeliver) and the sweeper."""

import json
import re

import pytest

from connections import test_run_services as runs
from connections import webhooks
from connections.models import Connection, WebhookDelivery, WebhookEndpoint
from tests import provider_server as provider
from tests.connections.factories import local_connection, local_provider
from tests.connections.task_queue import clear_published, published_messages
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

ALL_EVENTS = list(WebhookEndpoint.Event.values)
Status = WebhookDelivery.Status


@pytest.fixture
def receiver(allow_local_provider):
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def endpoint(receiver):
    endpoint, secret = webhooks.webhook_endpoint_create(url=receiver.url, events=ALL_EVENTS)
    receiver.secret = secret
    return endpoint


def deliver_all() -> list[WebhookDelivery]:
    """One attempt of every due delivery, as the worker makes them."""
    for pk in (
        WebhookDelivery.objects.filter(status=Status.PENDING).order_by("pk").values_list("pk", flat=True)
    ):
        webhooks.webhook_delivery_attempt(delivery_id=pk)
    return list(WebhookDelivery.objects.order_by("pk"))


def test_connection_events_arrive_signed_with_ids_names_and_statuses(
    endpoint, receiver, key_client, user, django_capture_on_commit_callbacks
):
    secret_value = "sk-live-never-in-a-webhook-8Qz"
    with django_capture_on_commit_callbacks(execute=True):
        created = key_client.post(
            "/api/user-integrations/connect",
            {
                "userId": user.user_id,
                "integrationId": "salesforce",
                "authMethodId": "oauth2",
                "configuredVariables": {"instance_url": "https://acme.salesforce.com"},
                "credentials": {"clientId": "3MVG9-client", "clientSecret": secret_value},
            },
            format="json",
        )
        connection_id = created.json()["connectionId"]
        key_client.put(
            f"/api/user-integrations/{connection_id}", {"connectionName": "Renamed"}, format="json"
        )
        key_client.delete(f"/api/user-integrations/{connection_id}")

    deliveries = deliver_all()

    assert [d.status for d in deliveries] == [Status.SUCCEEDED] * 3
    assert [r.error for r in receiver.received] == [None, None, None]  # every signature verified
    payloads = [r.payload for r in receiver.received]
    assert [p["type"] for p in payloads] == ["connection.created", "connection.updated", "connection.deleted"]
    data = payloads[1]["data"]
    assert data["connectionId"] == connection_id and data["connectionName"] == "Renamed"
    assert data["userId"] == user.user_id and data["integrationId"] == "salesforce"
    assert data["fields"] == ["connectionName"] and payloads[2]["data"]["status"] == "inactive"
    for received in receiver.received:
        assert re.fullmatch(r"v1,[A-Za-z0-9+/=]+", received.headers["webhook-signature"])
        assert secret_value.encode() not in received.body and b"3MVG9-client" not in received.body
        assert receiver.secret.encode() not in received.body


def test_a_failed_test_and_needing_attention_are_events(endpoint, receiver, provider_server, settings, user):
    settings.CONNECTION_ATTENTION_AFTER = 2
    connection = local_connection(
        local_provider(provider_server.origin), user=user, credentials={"token": "bad-tok-1"}
    )

    for _ in range(2):
        runs.test_run_create(connection=connection, actor="tests")
    deliver_all()

    types = [r.payload["type"] for r in receiver.received]
    assert types == ["connection.test.failed", "connection.test.failed", "connection.needs_attention"]
    failed = receiver.received[0].payload["data"]
    assert failed["reason"].startswith("Invalid credentials") and failed["testRunId"].startswith("run_")
    assert receiver.received[2].payload["data"]["needsAttention"] is True
    assert all(b"bad-tok-1" not in r.body for r in receiver.received)


def test_failed_attempts_are_retried_with_the_same_id_then_marked_failed(endpoint, receiver, settings, user):
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0]
    receiver.fail_next(10)
    connection = local_connection(local_provider("http://127.0.0.1:9"), user=user)
    (delivery,) = webhooks.webhook_event_emit(event_type="connection.updated", connection=connection)

    statuses = []
    for _ in range(4):
        webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        statuses.append(delivery.status)

    assert statuses == [Status.PENDING, Status.PENDING, Status.FAILED, Status.FAILED]
    assert delivery.attempts == 3 and delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    assert len({r.message_id for r in receiver.received}) == 1 and len(receiver.received) == 3


def test_a_retry_waits_for_its_time(endpoint, receiver, settings, user):
    settings.WEBHOOK_RETRY_SCHEDULE = [3600]
    receiver.fail_next(1)
    connection = local_connection(local_provider("http://127.0.0.1:9"), user=user)
    (delivery,) = webhooks.webhook_event_emit(event_type="connection.updated", connection=connection)

    webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
    skipped = webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)

    assert skipped is None and len(receiver.received) == 1


def test_an_endpoint_failing_every_delivery_is_disabled_and_the_operator_told_why(
    endpoint, receiver, settings, user, admin_client
):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    receiver.fail_next(10)
    connection = local_connection(local_provider("http://127.0.0.1:9"), user=user)

    for _ in range(2):
        webhooks.webhook_event_emit(event_type="connection.updated", connection=connection)
        deliver_all()
    webhooks.webhook_event_emit(event_type="connection.updated", connection=connection)

    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert "after 2 deliveries in a row failed every attempt (the last: HTTP 500" in endpoint.disabled_reason
    assert WebhookDelivery.objects.count() == 2  # a disabled endpoint gets no new events
    changelist = admin_client.get("/admin/connections/webhookendpoint/").content.decode()
    assert "deliveries in a row failed" in changelist


def test_the_admin_shows_the_secret_once_and_stores_it_encrypted(admin_client, receiver):
    response = admin_client.post(
        "/admin/connections/webhookendpoint/add/",
        {
            "url": receiver.url,
            "description": "Host product",
            "events": ["connection.created", "connection.deleted"],
        },
        follow=True,
    )

    page = response.content.decode()
    (secret,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", page)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["connection.created", "connection.deleted"]
    assert secret not in endpoint.secret_encrypted and webhooks._signing_secret(endpoint) == secret
    change_page = admin_client.get(
        f"/admin/connections/webhookendpoint/{endpoint.pk}/change/"
    ).content.decode()
    assert secret not in change_page


def test_the_admin_refuses_a_private_url(admin_client, settings):
    settings.OUTBOUND_ALLOWLIST = []

    response = admin_client.post(
        "/admin/connections/webhookendpoint/add/",
        {"url": "http://169.254.169.254/hooks", "events": ["connection.created"]},
    )

    assert response.status_code == 200 and not WebhookEndpoint.objects.exists()
    assert "Blocked: 169.254.169.254 is a private address" in response.content.decode()


def test_redeliver_sends_the_same_message_again(endpoint, receiver, user, admin_client):
    connection = local_connection(local_provider("http://127.0.0.1:9"), user=user)
    (delivery,) = webhooks.webhook_event_emit(event_type="connection.created", connection=connection)
    deliver_all()
    changelist = admin_client.get("/admin/connections/webhookdelivery/").content.decode()

    admin_client.post(
        "/admin/connections/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    deliver_all()

    assert "connection.created" in changelist and "Succeeded" in changelist
    first, second = receiver.received
    assert first.message_id == second.message_id == delivery.message_id
    assert second.payload == first.payload


def test_events_only_go_to_endpoints_listening_to_them(receiver, user):
    webhooks.webhook_endpoint_create(url=receiver.url, events=["connection.deleted"])
    connection = local_connection(local_provider("http://127.0.0.1:9"), user=user)

    assert webhooks.webhook_event_emit(event_type="connection.created", connection=connection) == []
    assert len(webhooks.webhook_event_emit(event_type="connection.deleted", connection=connection)) == 1


def test_the_sweeper_sends_due_deliveries_again(endpoint, user):
    connection = local_connection(local_provider("http://127.0.0.1:9"), user=user)
    (delivery,) = webhooks.webhook_event_emit(event_type="connection.created", connection=connection)
    clear_published()

    assert webhooks.webhook_deliveries_sweep() == 1

    (message,) = published_messages()
    assert message.task == "connections.deliver_webhook" and message.args == [delivery.pk]
    assert str(connection.connection_id) not in message.raw  # tasks carry ids only


def test_payload_never_holds_credentials(user):
    connection = local_connection(local_provider("http://127.0.0.1:9"), user=user)

    data = json.dumps(webhooks.connection_event_data(Connection.objects.get(pk=connection.pk)))

    assert provider.BEARER_TOKEN not in data and "credentials" not in data
