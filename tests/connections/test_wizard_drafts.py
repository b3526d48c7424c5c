"""The wizard's draft through the test client: typed secrets survive a refused submit (kept
encrypted server-side, never in the HTML), one draft makes at most one connection, and a second
connection with the same integration and name is asked about first."""

import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from connections.models import Connection
from connections.selectors import connection_credentials
from connections.wizard_drafts import SESSION_KEY
from tests.connections.factories import ConnectionFactory, acme
from tests.connections.test_pages import GOOD_ACME as GOOD

pytestmark = pytest.mark.django_db

ACME_BASIC = "/connections/new/?integration=acme&authMethod=basic"
SECRET = GOOD["credentials__password"]


@pytest.fixture
def client(client, user) -> Client:
    client.force_login(user)
    return client


def draft_of(page: str) -> str:
    return re.search(r'name="draft" value="([^"]+)"', page)[1]


def stored_sessions() -> str:
    return " ".join(s.session_data + str(s.get_decoded()) for s in Session.objects.all())


def test_a_refused_submit_keeps_the_typed_secret_encrypted_and_out_of_the_page(client, user):
    acme()
    draft = draft_of(client.get(ACME_BASIC).content.decode())
    refused = client.post(ACME_BASIC, {**GOOD, "draft": draft, "configuredVariables__subdomain": "bad_host!"})
    page = refused.content.decode()
    assert refused.status_code == 200 and not Connection.objects.exists()
    assert SECRET not in page
    assert "Kept — leave blank to keep" in page and "•••••••• (kept)" in page
    # Kept, so no longer required of the browser, and nothing to re-enter.
    assert not re.search(r'name="credentials__password"[^>]*required', page)
    assert "must be entered again" not in page
    # Held in the session, but only as ciphertext.
    assert SESSION_KEY in stored_sessions() and SECRET not in stored_sessions()

    saved = client.post(ACME_BASIC, {**GOOD, "draft": draft, "credentials__password": ""})
    connection = Connection.objects.get(user=user)
    assert saved["Location"] == reverse("connection-review", args=[connection.connection_id])
    assert connection_credentials(connection=connection)["password"] == SECRET
    # The draft ended: its secrets are gone from the session.
    assert client.session[SESSION_KEY] == {}


def test_a_kept_secret_can_be_replaced_and_is_only_kept_by_its_own_draft(client, user):
    acme()
    client.post(ACME_BASIC, {**GOOD, "draft": "draft-one", "configuredVariables__subdomain": "bad_host!"})
    # Another draft (another tab) has nothing kept: its password is still required.
    other = client.post(
        ACME_BASIC, {**GOOD, "draft": "draft-two", "credentials__password": ""}
    ).content.decode()
    assert (
        "1 secret field must be entered again" in other
        and 'href="#id_credentials__password">Password' in other
    )
    assert not Connection.objects.exists()

    client.post(ACME_BASIC, {**GOOD, "draft": "draft-one", "credentials__password": "typed-again"})
    assert connection_credentials(connection=Connection.objects.get())["password"] == "typed-again"


def test_secrets_the_server_refused_must_be_entered_again_and_are_counted(client, user):
    acme()
    page = client.post(
        ACME_BASIC, {**GOOD, "draft": "d", "credentials__password": "", "credentials__username": ""}
    ).content.decode()
    assert "Please fix" in page
    assert "1 secret field must be entered again: " in page
    assert "Please enter it again" in page


def test_submitting_a_saved_draft_again_leads_to_the_same_connection(client, user):
    acme()
    first = client.post(ACME_BASIC, {**GOOD, "draft": "once"})
    # Back, change something, submit again: still the one connection, and the user is told.
    again = client.post(ACME_BASIC, {**GOOD, "draft": "once", "connection_name": "Renamed"}, follow=True)
    connection = Connection.objects.get()
    assert connection.connection_name == "Acme production"
    assert first["Location"] == again.redirect_chain[-1][0]
    assert "was already saved, so no second connection was created" in again.content.decode()


def test_a_second_connection_with_the_same_name_is_asked_about_first(client, user):
    integration = acme()
    existing = ConnectionFactory(user=user, integration=integration, connection_name="Acme production")
    asked = client.post(ACME_BASIC, {**GOOD, "draft": "dup"})
    page = asked.content.decode()
    assert asked.status_code == 200 and Connection.objects.count() == 1
    assert "You already have “Acme production”" in page
    assert reverse("connection-review", args=[existing.connection_id]) in page
    assert "Create a second one anyway" in page and SECRET not in page

    created = client.post(
        ACME_BASIC, {**GOOD, "draft": "dup", "credentials__password": "", "allow_duplicate": "1"}
    )
    assert created.status_code == 302 and Connection.objects.count() == 2
    assert connection_credentials(connection=Connection.objects.latest("pk"))["password"] == SECRET


def test_an_inactive_or_differently_named_connection_is_no_duplicate(client, user):
    integration = acme()
    ConnectionFactory(
        user=user, integration=integration, connection_name="Acme production", status="inactive"
    )
    ConnectionFactory(user=user, integration=integration, connection_name="Acme staging")
    assert client.post(ACME_BASIC, {**GOOD, "draft": "x"}).status_code == 302
