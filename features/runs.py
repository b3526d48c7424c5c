"""Running a feature mapping through a connection: the preview's pipeline (admin value or input →
value handler → type check → validation handler → submit handler), then the proxy.

Nothing is sent unless every field is valid: a 400 lists every field error first. The connection
is reached through ``integrations.connection_gateway`` (this app may not import ``connections``),
which applies the proxy's rules: who may use the connection, its state, the rate limit, retries,
the record of the call.
"""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, NotFound, ValidationFailed
from features.models import FeatureMapping
from features.preview import feature_mapping_preview
from integrations.connection_gateway import ConnectionRequest, connection_gateway


def feature_mapping_request(*, mapping: FeatureMapping, user_input: dict) -> ConnectionRequest:
    """The request ``mapping`` makes of ``user_input``; ValidationFailed listing every field error."""
    preview = feature_mapping_preview(mapping=mapping, user_input=user_input)
    if not preview["valid"]:
        raise ValidationFailed(preview["validationErrors"])
    request = preview["request"]
    return ConnectionRequest(
        method=request["method"], path=request["path"], query=request["query"], body=request["body"]
    )


def feature_mapping_run(*, actor: Any, connection_id: str, mapping_id: str, user_input: dict) -> dict:
    """Run the saved mapping ``mapping_id`` with ``user_input`` through the connection; the
    provider's answer as the proxy gives it. 404 when the mapping is not one of the connection's
    integration, 409 when it is inactive."""

    def build(integration_id: str) -> tuple[ConnectionRequest, str]:
        mapping = (
            FeatureMapping.objects.select_related("feature_template")
            .filter(pk=mapping_id, integration_id=integration_id)
            .first()
        )
        if mapping is None:
            raise NotFound("Feature mapping not found")
        if mapping.status != FeatureMapping.Status.ACTIVE:
            raise Conflict("Feature mapping is inactive", error="Activate it before running it")
        return feature_mapping_request(mapping=mapping, user_input=user_input), mapping.pk

    return connection_gateway().send(actor=actor, connection_id=connection_id, build=build)


def feature_draft_try(
    *, operator: Any, connection_id: str, mapping: FeatureMapping, user_input: dict
) -> dict:
    """Run a mapping being edited (saved or not) through any active connection of its
    integration, for an operator trying it on the add-feature page. Recorded like any call."""

    def build(integration_id: str) -> tuple[ConnectionRequest, str]:
        if integration_id != mapping.integration_id:
            raise NotFound("Connection not found", error="Choose a connection of this integration")
        saved_id = "" if mapping._state.adding else mapping.pk
        return feature_mapping_request(mapping=mapping, user_input=user_input), saved_id

    return connection_gateway().send(
        actor=operator, connection_id=connection_id, build=build, operator_trial=True
    )


def feature_try_choices(*, integration_id: str) -> list[tuple[str, str]]:
    return connection_gateway().choices(integration_id=integration_id)
