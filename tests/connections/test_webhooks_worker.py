"""Webhooks delivered by a real Celery worker process on the real Redis, to a local receiver that
verifies every signature with the standardwebhooks library and answers 500 before it accepts."""

import uuid

import pytest
import redis

from connections import webhooks
from connections.models import WebhookDelivery
from tests.connections.task_queue import REDIS_URL, RealWorker, broker, drop_redis_queue, wait_for
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def queue():
    name = f"test-hooks-{uuid.uuid4().hex[:12]}"
    redis.Redis.from_url(REDIS_URL).ping()  # the real Redis must be there; these tests do not skip
    yield name
    drop_redis_queue(name)


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory, queue):
    # Retries one second apart, so the test sees them.
    with RealWorker(
        tmp_path_factory.mktemp("worker"), queue, concurrency=4, WEBHOOK_RETRY_SCHEDULE="1,1"
    ) as running:
        yield running


@pytest.fixture
def receiver(allow_local_provider):
    with WebhookReceiver() as running:
        yield running


def test_the_worker_delivers_signed_events_and_retries_after_a_500(worker, queue, receiver, key_client, user):
    endpoint, receiver.secret = webhooks.webhook_endpoint_create(
        url=receiver.url, events=["connection.created"]
    )
    receiver.fail_next(1)
    secret_value = "cs-never-in-a-webhook-4Lp9"

    with broker(REDIS_URL, queue=queue):
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

    assert created.status_code == 201
    assert wait_for(lambda: len(receiver.received) == 2, 30), (receiver.received, worker.log)
    first, second = receiver.received
    assert (first.answered, second.answered) == (500, 200)
    assert first.error is None and second.error is None  # both signatures verified
    assert first.message_id == second.message_id
    assert second.payload["type"] == "connection.created"
    assert second.payload["data"]["connectionId"] == created.json()["connectionId"]
    assert secret_value.encode() not in first.body and receiver.secret.encode() not in first.body
    assert wait_for(lambda: WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED, 10)
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 2 and delivery.last_status_code == 200
    assert secret_value not in worker.log and receiver.secret not in worker.log
