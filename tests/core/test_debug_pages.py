"""With DEBUG on (as bin/app runs), Django's technical pages never show a credential, and the
404 page carries the Content-Security-Policy header like every other page."""

import pytest
from django.test import Client

from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

SECRET = "debug-page-secret-8Hq2xVw"


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    return settings


@pytest.mark.urls("tests.core.debug_urls")
def test_the_technical_500_page_hides_credentials_in_locals_posts_and_headers(debug, raw_api_key):
    ConnectionFactory(credentials={"clientId": "3MVG9-client", "clientSecret": SECRET})
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {raw_api_key}")

    response = client.post(
        "/fail/",
        {"credentials__clientSecret": SECRET, "password": SECRET, "connection_name": "Visible name"},
    )

    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "failing_view" in page, "still the technical page"
    assert SECRET not in page
    assert raw_api_key not in page
    assert "Visible name" in page, "ordinary form fields are still shown"
    assert "********************" in page


def test_the_debug_404_page_sends_the_content_security_policy(debug, client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
