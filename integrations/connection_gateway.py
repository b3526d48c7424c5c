"""Using a connection from the apps beside ``connections`` (``features`` runs a mapping through
one) without importing it: sibling apps stay independent (the import contracts), so
``connections`` installs its implementation here when Django starts (``ConnectionsConfig.ready``)
and callers reach it through ``connection_gateway()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class ConnectionRequest:
    """One request to send to a provider through a connection, relative to its base URL."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON is sent as JSON, a string as it is; None sends no body
    idempotency_key: str | None = None


# Given the connection's integration id: the request, and the feature mapping it runs (or "").
RequestBuilder = Callable[[str], tuple[ConnectionRequest, str]]


class ConnectionGateway(Protocol):
    def send(
        self, *, actor: Any, connection_id: str, build: RequestBuilder, operator_trial: bool = False
    ) -> dict:
        """Find the connection ``actor`` may use (an operator too with ``operator_trial``), build
        the request for its integration and send it; the provider's answer as the proxy gives it."""

    def choices(self, *, integration_id: str) -> list[tuple[str, str]]:
        """(connectionId, label) of the integration's active connections, for operators."""


_installed: ConnectionGateway | None = None


def connection_gateway_install(gateway: ConnectionGateway) -> None:
    global _installed
    _installed = gateway


def connection_gateway() -> ConnectionGateway:
    if _installed is None:
        raise ImproperlyConfigured("The connections app is not installed: no connection gateway")
    return _installed
