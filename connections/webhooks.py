"""Webhooks to the host product: connection events, signed as Standard Webhooks says.

- An event (``webhook_event_emit``) becomes one ``WebhookDelivery`` per enabled endpoint that
  listens to it, in the caller's transaction, and is sent by a Celery task once that commits.
- Each delivery is a JSON POST through the guarded outbound client, with ``webhook-id`` (the
  same across retries, so receivers can drop duplicates), ``webhook-timestamp`` and
  ``webhook-signature`` (``v1,<HMAC-SHA256 of id.timestamp.body>``, by the ``standardwebhooks``
  package). Any 2xx answer is a success; redirects are not followed.
- A failed attempt is retried after each delay of ``WEBHOOK_RETRY_SCHEDULE`` (about a day in
  all), then the delivery is marked failed. Short delays are queued with a countdown; longer ones
  wait in the database for the sweeper (the beat runs it every minute), because Redis hands an
  unacknowledged message to another worker after its visibility timeout.
- ``WEBHOOK_DISABLE_AFTER_FAILURES`` deliveries failed in a row disable the endpoint, with the
  reason shown to operators in the admin.

Payloads carry ids, names, statuses and reasons — never a credential.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from celery import signature
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from connections import encryption
from connections.models import Connection, WebhookDelivery, WebhookEndpoint
from core import metrics
from core.errors import ServiceUnavailable, ValidationFailed
from core.outbound_http import OutboundError, check_outbound_url, outbound_request
from core.tasks import publish

logger = logging.getLogger(__name__)

DELIVER_TASK = "connections.deliver_webhook"
Event = WebhookEndpoint.Event
Status = WebhookDelivery.Status
# What a receiver's answer may add to the log: enough to see why it refused, no more.
# Audit actions that are also events for the host product (the audit trail records every write).
AUDIT_EVENTS = {
    "create": Event.CONNECTION_CREATED,
    "update": Event.CONNECTION_UPDATED,
    "reactivate": Event.CONNECTION_UPDATED,
    "delete": Event.CONNECTION_DELETED,
    "reconnect": Event.CONNECTION_UPDATED,
    "needs_reconnect": Event.CONNECTION_RECONNECT_REQUIRED,
}
MAX_ANSWER_BYTES = 64 * 1024
MAX_ERROR_TEXT = 300


# --- Endpoints


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_endpoint_validate(*, url: str, events: list[str]) -> list[str]:
    """The events in their canonical order; ValidationFailed for a URL the guarded client would
    refuse or an unknown event."""
    errors = []
    try:
        check_outbound_url(url)
    except OutboundError as exc:
        errors.append(f"url: {exc.message}")
    unknown = sorted(set(events) - set(Event.values))
    if unknown:
        errors.append(f"events: unknown event(s) {', '.join(unknown)}")
    if not events:
        errors.append("events: choose at least one event")
    if errors:
        raise ValidationFailed(errors)
    return [event for event in Event.values if event in events]


def _store_secret(endpoint: WebhookEndpoint, secret: str) -> None:
    endpoint.secret_encrypted = encryption.encrypt_json(
        {"secret": secret}, bound_to=endpoint.encryption_binding
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=endpoint.secret_encrypted)


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (``whsec_…``), which is only ever returned here."""
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        events=webhook_endpoint_validate(url=url, events=events),
        description=description,
        secret_encrypted="",
    )
    secret = _new_secret()
    _store_secret(endpoint, secret)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str, events: list[str], description: str
) -> None:
    endpoint.url, endpoint.events, endpoint.description = (
        url,
        webhook_endpoint_validate(url=url, events=events),
        description,
    )
    endpoint.save(update_fields=["url", "events", "description", "updated_at"])


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret, returned once; deliveries sign with it from now on."""
    secret = _new_secret()
    _store_secret(endpoint, secret)
    return secret


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True, disabled_reason="", consecutive_failures=0
    )


def _signing_secret(endpoint: WebhookEndpoint) -> str:
    return encryption.decrypt_json(endpoint.secret_encrypted, bound_to=endpoint.encryption_binding)["secret"]


# --- Events


def connection_event_data(connection: Connection) -> dict[str, Any]:
    """What every connection event says about the connection: ids, names, statuses."""
    return {
        "connectionId": connection.connection_id,
        "connectionName": connection.connection_name,
        "userId": connection.user.user_id,
        "integrationId": connection.integration_id,
        "integrationName": connection.integration.display_name,
        "authMethodId": connection.auth_method_id,
        "status": connection.status,
        "lastTestStatus": connection.last_test_status,
        "needsAttention": connection.needs_attention,
        "needsReconnect": connection.needs_reconnect,
    }


def webhook_event_emit(*, event_type: str, connection: Connection, **details: Any) -> list[WebhookDelivery]:
    """Queue ``event_type`` about ``connection`` for every enabled endpoint listening to it; the
    tasks are sent once the current transaction commits. ``details`` (a ``reason``, the names of
    the ``fields`` changed) join the payload's ``data`` and must hold no secret."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(enabled=True) if event_type in e.events]
    if not endpoints:
        return []
    now = timezone.now()
    payload = {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {**connection_event_data(connection), **details},
    }
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(endpoint=e, event_type=event_type, payload=payload, next_attempt_at=now)
            for e in endpoints
        ]
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _send(ids))
    return deliveries


def webhook_events_for_test_failure(*, connection_pk: int, reason: str, run_id: str) -> None:
    """``connection.test.failed``, and ``connection.needs_attention`` when this failure is the one
    that reached CONNECTION_ATTENTION_AFTER in a row."""
    connection = Connection.objects.select_related("integration", "user").get(pk=connection_pk)
    webhook_event_emit(
        event_type=Event.CONNECTION_TEST_FAILED, connection=connection, reason=reason, testRunId=run_id
    )
    if connection.consecutive_failures == settings.CONNECTION_ATTENTION_AFTER:
        webhook_event_emit(
            event_type=Event.CONNECTION_NEEDS_ATTENTION,
            connection=connection,
            reason=f"{connection.consecutive_failures} tests failed in a row; the last: {reason}",
        )


def _send(delivery_ids: list[int], *, countdown: float | None = None) -> None:
    """Publish a task per delivery. With the broker down they stay pending for the sweeper: an
    event must never fail the request that caused it."""
    deliver = signature(DELIVER_TASK)  # named, not imported: connections.tasks imports this module
    try:
        for delivery_id in delivery_ids:
            publish(deliver, delivery_id, countdown=countdown)
    except ServiceUnavailable:
        logger.warning(
            "webhooks: task queue unavailable; %d delivery(ies) wait for the sweeper", len(delivery_ids)
        )


# --- Delivering


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(status=Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def _post(delivery: WebhookDelivery, now: datetime) -> tuple[int | None, str]:
    """Send the delivery once: (the receiver's status or None, what went wrong or "")."""
    body = json.dumps(delivery.payload, separators=(",", ":"))
    signature = Webhook(_signing_secret(delivery.endpoint)).sign(delivery.message_id, now, body)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    try:
        response = outbound_request(
            "POST",
            delivery.endpoint.url,
            headers=headers,
            data=body.encode(),
            max_bytes=MAX_ANSWER_BYTES,
            truncate=True,
            max_redirects=0,
        )
    except OutboundError as exc:
        return None, exc.message[:MAX_ERROR_TEXT]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code} {response.reason}"[:MAX_ERROR_TEXT]


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """The worker's side: one attempt of a pending, due delivery. Idempotent: a delivery that is
    not pending and due (sent, being sent by another worker, or not due yet) is skipped."""
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    if not delivery.endpoint.enabled:
        _finish(delivery, status=Status.FAILED, code=None, error="The endpoint is disabled")
        return delivery
    code, error = _post(delivery, now)
    if not error:
        _finish(delivery, status=Status.SUCCEEDED, code=code, error="")
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(consecutive_failures=0)
        return delivery
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if delivery.attempts <= len(schedule):
        delay = schedule[delivery.attempts - 1]
        _finish(delivery, status=Status.PENDING, code=code, error=error, retry_in=delay)
        if delay <= settings.WEBHOOK_QUEUED_RETRY_MAX_SECONDS:
            _send([delivery.pk], countdown=delay)
        return delivery
    _finish(delivery, status=Status.FAILED, code=code, error=error)
    _count_failure(delivery.endpoint, error)
    return delivery


def _finish(
    delivery: WebhookDelivery, *, status: str, code: int | None, error: str, retry_in: float = 0
) -> None:
    delivery.status, delivery.last_status_code, delivery.last_error = status, code, error
    delivery.next_attempt_at = (
        timezone.now() + timedelta(seconds=retry_in) if status == Status.PENDING else None
    )
    delivery.save(update_fields=["status", "last_status_code", "last_error", "next_attempt_at"])
    outcome = {Status.SUCCEEDED: "delivered", Status.PENDING: "retrying"}.get(status, "failed")
    metrics.WEBHOOK_DELIVERIES.labels(event=delivery.event_type, outcome=outcome).inc()
    logger.info(
        "webhook %s (%s) to %s: attempt %d %s",
        delivery.message_id,
        delivery.event_type,
        delivery.endpoint.url,
        delivery.attempts,
        error or "delivered",
    )


def _count_failure(endpoint: WebhookEndpoint, error: str) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    reason = (
        f"Disabled on {timezone.now():%Y-%m-%d %H:%M} UTC after {limit} deliveries in a row failed every "
        f"attempt (the last: {error}). Fix the receiver, then enable the endpoint again and redeliver."
    )
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint.pk, enabled=True, consecutive_failures__gte=limit
    ).update(enabled=False, disabled_reason=reason)
    if disabled:
        logger.warning("webhook endpoint %s: %s", endpoint.url, reason)


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> None:
    """Send a delivery again (same ``webhook-id``) with a fresh retry schedule."""
    if not delivery.endpoint.enabled:
        raise ValidationFailed([f"The endpoint {delivery.endpoint.url} is disabled: enable it first"])
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=Status.SENDING).update(
            status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
        transaction.on_commit(lambda: _send([delivery.pk]))


def webhook_deliveries_sweep(*, now: datetime | None = None) -> int:
    """Send the pending deliveries that are due (their retry waited in the database, or the
    broker was down) and put back those whose worker died mid-send. Returns how many were sent."""
    now = now or timezone.now()
    lost = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    WebhookDelivery.objects.filter(status=Status.SENDING, last_attempt_at__lt=lost).update(
        status=Status.PENDING, next_attempt_at=now
    )
    due = list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    _send(due)
    return len(due)
