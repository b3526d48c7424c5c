import copy

import factory

from integrations.models import Integration
from integrations.services import integration_create


def integration_document(**overrides) -> dict:
    """A small valid document: one bearer-token method, a fixed host."""
    document = {
        "id": "acme",
        "displayName": "Acme",
        "description": "Acme widgets API",
        "category": "devtools",
        "status": "active",
        "baseUrl": "https://api.acme.example/v1",
        "allowedHosts": ["api.acme.example"],
        "testRequest": {"method": "GET", "path": "/me", "expectedStatus": [200]},
        "authMethods": [
            {
                "id": "api-key",
                "type": "API-KEY",
                "label": "API Key",
                "description": "A personal API key",
                "fields": [{"name": "apiKey", "label": "API Key", "type": "password", "required": True}],
                "additionalFields": [],
                "apply": {"type": "bearer", "field": "apiKey"},
            }
        ],
    }
    document.update(copy.deepcopy(overrides))
    return document


class IntegrationFactory(factory.Factory):
    """Integrations made the way the product makes them: through the service, from a document."""

    class Meta:
        model = Integration

    id = factory.Sequence(lambda n: f"acme-{n:04d}")
    displayName = factory.Sequence(lambda n: f"Acme {n}")
    description = "Acme widgets API"
    category = "devtools"
    status = Integration.Status.ACTIVE

    @classmethod
    def _create(cls, model_class, **fields):
        return integration_create(document=integration_document(**fields))
