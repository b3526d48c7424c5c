import xml.etree.ElementTree as ET

import pytest

from integrations.documents import PROVIDERS_DIR
from tests.integrations.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def test_provider_icon_is_served_with_caching_headers(client):
    response = client.get("/integrations/slack/icon.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "public" in response["Cache-Control"] and "max-age=86400" in response["Cache-Control"]
    assert response.content == (PROVIDERS_DIR / "slack" / "icon.svg").read_bytes()

    again = client.get("/integrations/slack/icon.svg", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_integration_without_an_icon_file_gets_a_monogram(client):
    IntegrationFactory(id="acme-widgets", displayName="Acme <Widgets>")

    response = client.get("/integrations/acme-widgets/icon.svg")

    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.get("aria-label") == "Acme <Widgets>"
    assert root.find("{http://www.w3.org/2000/svg}text").text == "AW"


@pytest.mark.parametrize("integration_id", ["nope", "..", "STRIPE"])
def test_unknown_icon_is_404(client, integration_id):
    assert client.get(f"/integrations/{integration_id}/icon.svg").status_code == 404


def test_icon_is_read_only(client):
    assert client.post("/integrations/slack/icon.svg").status_code == 405
