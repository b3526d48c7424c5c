"""Integrations from the real provider files, and feature mappings through the service."""

from pathlib import Path

import factory

from features.models import FeatureMapping
from integrations.documents import load_document_file
from integrations.models import Integration

PROVIDERS_DIR = Path(__file__).resolve().parents[2] / "integrations" / "providers"


def provider_document(provider_id: str) -> dict:
    return load_document_file(PROVIDERS_DIR / provider_id / "auth.schema.json")


class IntegrationFactory(factory.django.DjangoModelFactory):
    """``IntegrationFactory()`` is HubSpot; ``IntegrationFactory(provider="salesforce")`` another file."""

    class Meta:
        model = Integration
        django_get_or_create = ["id"]

    class Params:
        provider = "hubspot"

    document = factory.LazyAttribute(lambda o: provider_document(o.provider))
    id = factory.LazyAttribute(lambda o: o.document["id"])
    display_name = factory.LazyAttribute(lambda o: o.document["displayName"])
    description = factory.LazyAttribute(lambda o: o.document.get("description", ""))
    category = factory.LazyAttribute(lambda o: o.document["category"])
    status = factory.LazyAttribute(lambda o: o.document.get("status", "active"))
    base_url = factory.LazyAttribute(lambda o: o.document["baseUrl"])


# The seed's POST body for a feature mapping.
SEED_MAPPING = {
    "featureTemplateId": "create_contact",
    "featureTemplateName": "Create Contact",
    "fieldMappings": {
        "first_name": {"enabled": True, "customHandlers": {"valueHandler": "capitalizeFirstName"}},
        "email": {"enabled": True, "customHandlers": {"validationHandler": "validateEmailFormat"}},
    },
    "apiConfig": {"apiConfigId": None, "method": "POST", "endpoint": "/api/contacts"},
    "extraFields": [
        {
            "fieldKey": "sheet_id",
            "label": "Google Sheet ID",
            "type": "static",
            "fieldType": "string",
            "htmlType": "text",
            "fillBy": "Admin",
            "required": True,
            "adminValue": "1BxiMVs0...",
            "order": 1,
        }
    ],
}


class FeatureMappingFactory(factory.django.DjangoModelFactory):
    """A mapping saved through ``feature_mapping_create``, so it obeys every rule."""

    class Meta:
        model = FeatureMapping

    integration = factory.SubFactory(IntegrationFactory)
    feature_template_id = "create_contact"
    feature_template_name = None
    field_mappings = factory.LazyFunction(lambda: SEED_MAPPING["fieldMappings"])
    api_config = factory.LazyFunction(lambda: dict(SEED_MAPPING["apiConfig"]))
    extra_fields = factory.LazyFunction(list)
    status = "active"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from features.services import feature_mapping_create

        return feature_mapping_create(**kwargs)
