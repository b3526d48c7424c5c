"""Fixtures shared by the feature-run suites: the local provider and a mapping that runs on it."""

import pytest

from tests.connections.factories import local_provider
from tests.features.factories import FeatureMappingFactory


@pytest.fixture
def local_integration(provider_server, allow_local_provider):
    return local_provider(provider_server.origin)


@pytest.fixture
def echo_mapping(local_integration):
    """A mapping of the local provider that POSTs to /echo/contacts (the provider echoes it)."""
    return FeatureMappingFactory(
        integration=local_integration,
        field_mappings={
            "first_name": {
                "enabled": True,
                "customHandlers": {
                    "valueHandler": "capitalizeFirstName",
                    "submitHandler": {"name": "nestUnder", "params": {"path": "properties"}},
                },
            },
            "email": {"enabled": True, "customHandlers": {"validationHandler": "validateEmailFormat"}},
        },
        api_config={"method": "POST", "endpoint": "/echo/{{object_type}}"},
        extra_fields=[
            {
                "fieldKey": "object_type",
                "label": "Object Type",
                "type": "static",
                "fieldType": "string",
                "htmlType": "text",
                "fillBy": "Admin",
                "required": True,
                "adminValue": "contacts",
                "order": 1,
            }
        ],
    )
