"""The end user's HTML pages through Django's test client: the wizard (without JavaScript, as
a plain multi-step form), edit mode, My Connections, delete and reactivate."""

import re
from datetime import UTC

import pytest
from django.test import Client
from django.urls import reverse

from connections.forms import ConnectionForm
from connections.models import AuditEvent, Connection
from connections.selectors import connection_credentials
from connections.views import PAGE_SIZE
from tests.accounts.factories import UserFactory
from tests.connections.factories import (
    ACME_DOCUMENT,
    ConnectionFactory,
    acme,
    hubspot,
    integration_from_document,
    provider_document,
    salesforce,
)

pytestmark = pytest.mark.django_db

WIZARD = "/connections/new/"
ACME_BASIC = f"{WIZARD}?integration=acme&authMethod=basic"
GOOD_ACME = {
    "connection_name": "Acme production",
    "credentials__username": "dana",
    "credentials__password": "s3cret-Passw0rd",
    "credentials__region": "us",
    "configuredVariables__subdomain": "mycompany",
}


@pytest.fixture
def client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


def catalog_names(response) -> list[str]:
    return re.findall(r'class="catalog-name truncate">([^<]+)<', html(response))


def acme_connection(user, **overrides) -> Connection:
    values = {
        "user": user,
        "integration": acme(),
        "auth_method_id": "basic",
        "auth_method_label": "Username and password",
        "connection_name": "Acme production",
        "configured_variables": {"subdomain": "mycompany"},
        "credentials": {
            "username": "dana",
            "password": "s3cret-Passw0rd",
            "region": "us",
            "account": "AC1234",
        },
    }
    return ConnectionFactory(**{**values, **overrides})


# --- Access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [WIZARD, "/connect-integration.html", "/my-connections/", "/my-connections.html", "/"]
)
def test_pages_need_a_signed_in_user(url, db):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_home_leads_signed_in_users_to_my_connections(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("my-connections")


def test_pages_send_security_headers(client):
    response = client.get(WIZARD)
    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy)[1]
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src
    assert response["X-Frame-Options"] == "DENY"
    # Every asset the page references is the app's own.
    assert not re.search(
        r'(?:src|href)="(?:https?:)?//', html(response).replace('href="https://', 'href="ext:')
    )


def test_forms_are_protected_against_csrf(user):
    salesforce()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(f"{WIZARD}?integration=salesforce&authMethod=api-key", {"connection_name": "x"})
    assert response.status_code == 403
    assert 'name="csrfmiddlewaretoken"' in html(
        client.get(f"{WIZARD}?integration=salesforce&authMethod=api-key")
    )


# --- Step 1 and 2: choosing ---------------------------------------------------------------


@pytest.mark.parametrize("url", [WIZARD, "/connect-integration.html"])
def test_step_one_lists_active_integrations(client, url):
    salesforce()
    hubspot(status="inactive")
    acme()
    response = client.get(url)
    page = html(response)
    names = catalog_names(response)
    assert "Acme Widgets" in names and "Salesforce" in names and "HubSpot" not in names
    assert 'aria-current="step"' in page
    assert 'href="?integration=salesforce"' in page


def test_step_one_filters_by_search_and_category(client):
    salesforce()
    acme()
    names = catalog_names(client.get(WIZARD, {"q": "customer relationship"}))
    assert "Salesforce" in names and "Acme Widgets" not in names
    names = catalog_names(client.get(WIZARD, {"category": "testing"}))
    assert "Acme Widgets" in names and "Salesforce" not in names
    response = client.get(WIZARD, {"q": "nothing like this"})
    assert catalog_names(response) == [] and "No integration matches" in html(response)


def test_step_one_draws_a_monogram_when_the_icon_is_not_the_apps_own(client):
    salesforce(icon_url="https://logo.clearbit.com/salesforce.com")
    page = html(client.get(WIZARD))
    assert "clearbit" not in page
    assert '<span class="monogram">S</span>' in page


def test_step_two_offers_each_auth_method_with_its_description(client):
    salesforce()
    page = html(client.get(WIZARD, {"integration": "salesforce"}))
    assert "OAuth 2.0" in page and "Secure OAuth 2.0 authentication with automatic token refresh" in page
    assert "API Key" in page and "Simple API key authentication" in page
    assert "integration=salesforce&amp;authMethod=oauth2" in page


def test_unknown_or_inactive_integration_is_not_found(client):
    hubspot(status="inactive")
    assert client.get(WIZARD, {"integration": "nope"}).status_code == 404
    assert client.get(WIZARD, {"integration": "hubspot"}).status_code == 404
    salesforce()
    assert client.get(WIZARD, {"integration": "salesforce", "authMethod": "nope"}).status_code == 404


# --- Step 3: the form built from the schema --------------------------------------------------


def test_step_three_builds_inputs_from_the_schema(client):
    acme()
    page = html(client.get(ACME_BASIC))
    assert re.search(r'<input type="password" name="credentials__password"[^>]*required', page)
    assert 'autocomplete="new-password"' in page
    assert re.search(r'<input type="email" name="credentials__contact"', page)
    assert re.search(r'<input type="number" name="credentials__timeout"', page)
    assert re.search(r'<select name="credentials__region"', page)
    assert '<option value="eu">EU</option>' in page and '<option value="us" selected>US</option>' in page
    assert 'pattern="^AC[0-9]{4}$"' in page and 'data-pattern-message="must look like AC1234"' in page
    assert 'minlength="3"' in page and 'maxlength="20"' in page
    assert 'name="configuredVariables__subdomain"' in page
    # The connection name defaults to the integration's name.
    assert re.search(r'name="connection_name" value="Acme Widgets"', page)
    # A showWhen field is on the page (for browsers without JavaScript) with its condition.
    assert "Only needed when Region is EU." in page
    assert 'data-show-when="credentials__region" data-show-value="eu"' in page
    assert not re.search(r'name="credentials__euToken"[^>]*required', page)


def test_step_three_shows_help_text_and_docs_link(client):
    salesforce()
    page = html(client.get(WIZARD, {"integration": "salesforce", "authMethod": "oauth2"}))
    assert "Setup → App Manager" in page
    assert (
        'href="https://help.salesforce.com/s/articleView?id=sf.connected_app_client_credentials_setup.htm"'
        in page
    )
    assert 'placeholder="https://your-instance.salesforce.com"' in page
    assert page.count('class="required-mark"') >= 3


def test_step_three_has_a_setup_guide_beside_the_form(client):
    integration_from_document(provider_document("stripe"))
    page = html(client.get(WIZARD, {"integration": "stripe"}, follow=True))

    guide = re.search(r"<aside class=\"card setup-guide\".*?</aside>", page, re.S).group(0)
    assert "<strong>Secret key</strong>" in guide
    assert "Dashboard → Developers → API keys" in guide
    assert 'href="https://docs.stripe.com/keys"' in guide and "Where do I find the secret key?" in guide
    assert 'href="https://docs.stripe.com/api"' in guide and "Stripe documentation" in guide


def test_saving_step_three_creates_the_connection_and_opens_the_review(client, user):
    acme()
    response = client.post(ACME_BASIC, GOOD_ACME)
    connection = Connection.objects.get(user=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("connection-review", args=[connection.connection_id])
    assert connection.connection_name == "Acme production"
    assert connection.configured_variables == {"subdomain": "mycompany"}
    assert connection_credentials(connection=connection) == {
        "username": "dana",
        "password": "s3cret-Passw0rd",
        "region": "us",
    }

    review = html(client.get(response["Location"]))
    assert "s3cret-Passw0rd" not in review
    assert "••••••••" in review and "dana" in review and "mycompany" in review
    assert "Test connection" in review and 'aria-live="polite"' in review
    assert "Not tested yet." in review


def test_connection_name_defaults_to_the_integration_name(client, user):
    acme()
    client.post(ACME_BASIC, {**GOOD_ACME, "connection_name": ""})
    assert Connection.objects.get(user=user).connection_name == "Acme Widgets"


def test_service_errors_appear_next_to_their_fields(client, user):
    acme()
    response = client.post(
        ACME_BASIC,
        {
            **GOOD_ACME,
            "credentials__username": "",
            "credentials__account": "XY",
            "credentials__contact": "not an email",
        },
    )
    page = html(response)
    assert response.status_code == 200
    assert not Connection.objects.exists()

    def errors_of(key):
        return re.search(rf'id="{key}-errors">(.*?)</ul>', page, re.S)[1]

    assert "Username is required" in errors_of("credentials__username")
    assert "Account must look like AC1234" in errors_of("credentials__account")
    assert "Contact must be a valid email address" in errors_of("credentials__contact")
    assert "Please fix 3 problems" in page
    assert 'href="#id_credentials__username"' in page
    assert re.search(r'name="credentials__username"[^>]*aria-invalid="true"', page)
    # What was typed is kept, except the secret.
    assert 'value="mycompany"' in page and "s3cret-Passw0rd" not in page


def test_a_wrong_host_variable_is_reported_on_its_input(client):
    salesforce()
    page = html(
        client.post(
            f"{WIZARD}?integration=salesforce&authMethod=api-key",
            {
                "credentials__apiKey": "token",
                "configuredVariables__instance_url": "https://evil.example.com",
            },
        )
    )
    assert (
        "Instance URL must be your Salesforce address"
        in re.search(r'id="configuredVariables__instance_url-errors">(.*?)</ul>', page, re.S)[1]
    )


def test_without_javascript_a_field_whose_condition_does_not_hold_is_ignored(client, user):
    acme()
    client.post(
        ACME_BASIC, {**GOOD_ACME, "credentials__region": "us", "credentials__euToken": "typed anyway"}
    )
    assert "euToken" not in connection_credentials(connection=Connection.objects.get(user=user))


def test_a_field_whose_condition_holds_is_required(client, user):
    acme()
    page = html(client.post(ACME_BASIC, {**GOOD_ACME, "credentials__region": "eu"}))
    assert "EU token is required" in page
    client.post(ACME_BASIC, {**GOOD_ACME, "credentials__region": "eu", "credentials__euToken": "tok"})
    assert connection_credentials(connection=Connection.objects.get(user=user))["euToken"] == "tok"


# --- Edit mode -------------------------------------------------------------------------------


def test_edit_prefills_everything_but_secrets(client, user):
    connection = acme_connection(user)
    for url in (
        reverse("connection-edit", args=[connection.connection_id]),
        f"/connect-integration.html?mode=edit&connectionId={connection.connection_id}",
    ):
        page = html(client.get(url))
        assert 'value="Acme production"' in page and 'value="dana"' in page
        assert 'value="mycompany"' in page and 'value="AC1234"' in page
        assert "s3cret-Passw0rd" not in page
        assert "Leave blank to keep the current value." in page
        assert not re.search(r'name="credentials__password"[^>]*required', page)


def test_saving_with_the_password_left_blank_keeps_it(client, user):
    connection = acme_connection(user)
    url = reverse("connection-edit", args=[connection.connection_id])
    response = client.post(
        url,
        {**GOOD_ACME, "connection_name": "Renamed", "credentials__password": "", "credentials__account": ""},
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.connection_name == "Renamed"
    # The blank secret is kept; the cleared optional value is cleared.
    assert connection_credentials(connection=connection) == {
        "username": "dana",
        "password": "s3cret-Passw0rd",
        "region": "us",
    }
    assert AuditEvent.objects.filter(connection=connection, action="update").exists()


def test_edit_can_switch_the_auth_method(client, user):
    connection = acme_connection(user)
    url = reverse("connection-edit", args=[connection.connection_id])
    choices = html(client.get(url, {"step": "auth"}))
    assert "API token" in choices and "Current" in choices
    page = html(client.get(url, {"authMethod": "token"}))
    # A new method starts from nothing: its secret is required, not "kept".
    assert "Leave blank to keep the current value." not in page
    client.post(
        f"{url}?authMethod=token",
        {
            "connection_name": "Acme",
            "credentials__apiToken": "tok",
            "configuredVariables__subdomain": "mycompany",
        },
    )
    connection.refresh_from_db()
    assert connection.auth_method_id == "token"
    assert connection_credentials(connection=connection) == {"apiToken": "tok"}


def test_other_peoples_connections_are_not_found(client):
    theirs = acme_connection(UserFactory())
    for name in ("connection-edit", "connection-review", "connection-delete"):
        assert client.get(reverse(name, args=[theirs.connection_id])).status_code == 404
    assert client.post(reverse("connection-delete", args=[theirs.connection_id])).status_code == 404
    assert client.post(reverse("connection-reactivate", args=[theirs.connection_id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "active"


# --- My Connections --------------------------------------------------------------------------


def test_my_connections_empty_state_leads_to_the_wizard(client):
    page = html(client.get("/my-connections/"))
    assert "No connections yet" in page
    assert f'href="{WIZARD}"' in page


@pytest.mark.parametrize("url", ["/my-connections/", "/my-connections.html"])
def test_my_connections_shows_stats_and_a_card_per_connection(
    client, user, url, django_assert_max_num_queries
):
    acme_connection(user, connection_name="A very long connection name " * 5)
    ConnectionFactory(
        user=user,
        connection_name="Old Salesforce",
        status="inactive",
        last_test_status="error",
        last_test_message="Invalid credentials",
    )
    ConnectionFactory(user=UserFactory(), connection_name="Someone else's")
    for _ in range(10):
        ConnectionFactory(user=user)
    client.get(url)  # the catalog is loaded once per process
    # Session, user, the page with its stats, integration choices: not one per connection.
    with django_assert_max_num_queries(4):
        response = client.get(url)
    page = html(response)
    # Active, inactive, total, recent (all were created just now).
    assert re.findall(r'stat-value">(\d+)', page) == ["11", "1", "12", "12"]
    assert page.count('class="card connection-card') == 12
    assert "Someone else" not in page
    assert "Invalid credentials" in page and "Reactivate" in page
    assert 'class="clamp-2"' in page


def test_my_connections_pages_newest_first_with_exact_stats(client, user, django_assert_max_num_queries):
    integration = salesforce()
    Connection.objects.bulk_create(
        ConnectionFactory.build(user=user, integration=integration, connection_name=f"Conn {n:02d}")
        for n in range(PAGE_SIZE + 5)
    )
    first = html(client.get("/my-connections/"))
    older = re.search(r'href="\?cursor=([^"]+)" rel="next"', first)

    assert first.count('class="card connection-card') == PAGE_SIZE
    assert f"Conn {PAGE_SIZE + 4:02d}" in first and "Conn 00" not in first
    assert re.findall(r'stat-value">(\d+)', first) == [
        str(PAGE_SIZE + 5),
        "0",
        str(PAGE_SIZE + 5),
        str(PAGE_SIZE + 5),
    ]
    with django_assert_max_num_queries(4):
        second = html(client.get(f"/my-connections/?cursor={older.group(1)}"))
    assert second.count('class="card connection-card') == 5
    assert "Conn 00" in second and 'rel="next"' not in second
    assert "← Newest" in second
    assert client.get("/my-connections/?cursor=broken").status_code == 404


def test_my_connections_search_runs_in_the_database_over_every_page(client, user):
    integration = salesforce()
    Connection.objects.bulk_create(
        ConnectionFactory.build(user=user, integration=integration, connection_name=f"Bulk {n}")
        for n in range(PAGE_SIZE + 1)
    )
    ConnectionFactory(
        user=user,
        integration=hubspot(),
        connection_name="Marketing",
        auth_method_id="api-key",
        credentials={"apiKey": "k"},
        configured_variables={},
    )
    # The oldest, far beyond the first page; found by name.
    Connection.objects.filter(connection_name="Bulk 0").update(connection_name="Needle in the stack")

    assert html(client.get("/my-connections/?q=needle")).count('class="card connection-card') == 1
    assert "Marketing" in html(client.get("/my-connections/?q=hubspot"))


def test_my_connections_filters(client, user):
    acme_connection(user, connection_name="Acme one")
    ConnectionFactory(user=user, connection_name="Sales prod")
    ConnectionFactory(user=user, connection_name="Sales old", status="inactive")
    page = html(client.get("/my-connections/", {"status": "inactive"}))
    assert "Sales old" in page and "Sales prod" not in page and "Acme one" not in page
    page = html(client.get("/my-connections/", {"integration": "acme"}))
    assert "Acme one" in page and "Sales prod" not in page
    page = html(client.get("/my-connections/", {"q": "prod"}))
    assert "Sales prod" in page and "Acme one" not in page
    page = html(client.get("/my-connections/", {"q": "zzz"}))
    assert "No connection matches these filters" in page


def test_delete_asks_first_then_deactivates(client, user):
    connection = acme_connection(user)
    url = reverse("connection-delete", args=[connection.connection_id])
    assert "Delete “Acme production”?" in html(client.get(url))
    response = client.post(url, {"action": "deactivate"}, follow=True)
    connection.refresh_from_db()
    assert connection.status == "inactive"
    assert "was deactivated" in html(response) and 'class="toast toast-success"' in html(response)


def test_delete_permanently_erases_the_credentials_and_leaves_the_list(client, user):
    connection = acme_connection(user)
    url = reverse("connection-delete", args=[connection.connection_id])
    page = html(client.get(url))
    assert 'value="deactivate"' in page and 'value="permanent"' in page and "cannot be undone" in page

    response = client.post(url, {"action": "permanent"}, follow=True)

    connection.refresh_from_db()
    assert connection.deleted_at is not None and connection.credentials_encrypted == ""
    page = html(response)
    assert "was deleted permanently" in page and "Acme production</h2>" not in page
    assert client.get(url).status_code == 404
    # An inactive connection offers only the permanent delete.
    inactive = acme_connection(user, status="inactive")
    page = html(client.get(reverse("connection-delete", args=[inactive.connection_id])))
    assert 'value="deactivate"' not in page and 'value="permanent"' in page


def test_reactivate_brings_a_connection_back(client, user):
    connection = acme_connection(user, status="inactive")
    response = client.post(
        reverse("connection-reactivate", args=[connection.connection_id]),
        {"next": "/my-connections/?status=inactive"},
    )
    assert response["Location"] == "/my-connections/?status=inactive"
    connection.refresh_from_db()
    assert connection.status == "active"


def test_reactivate_ignores_a_foreign_next_url(client, user):
    connection = acme_connection(user, status="inactive")
    response = client.post(
        reverse("connection-reactivate", args=[connection.connection_id]),
        {"next": "https://evil.example.com/"},
    )
    assert response["Location"] == reverse("my-connections")


def test_reactivating_under_an_inactive_integration_explains_why(client, user):
    connection = acme_connection(user, status="inactive")
    acme(status="inactive")
    response = client.post(reverse("connection-reactivate", args=[connection.connection_id]), follow=True)
    assert "cannot be reactivated" in html(response)
    connection.refresh_from_db()
    assert connection.status == "inactive"


# --- The form on its own ---------------------------------------------------------------------


def test_service_messages_map_to_inputs():
    method = ACME_DOCUMENT["authMethods"][0]
    form = ConnectionForm({"connection_name": ""}, auth_method=method)
    assert form.is_valid()
    form.add_service_errors(
        [
            "credentials.username is required",
            "configuredVariables.subdomain: must be host labels",
            "connectionName must be at most 200 characters",
            "userId 'x' is inactive",
        ]
    )
    assert form.errors["credentials__username"] == ["Username is required"]
    assert form.errors["configuredVariables__subdomain"] == ["Subdomain must be host labels"]
    assert form.errors["connection_name"] == ["Connection name must be at most 200 characters"]
    assert form.non_field_errors() == ["userId 'x' is inactive"]


def test_no_template_comment_leaks_onto_a_page(client, user):
    client.force_login(user)
    html = client.get("/my-connections/").content.decode()
    assert "{#" not in html and "#}" not in html


def test_step_two_is_skipped_when_there_is_one_auth_method(client):
    from tests.connections.factories import integration_from_document, provider_document

    integration_from_document(provider_document("stripe"))
    response = client.get(WIZARD, {"integration": "stripe"})
    assert response.status_code == 302
    assert response["Location"] == f"{WIZARD}?integration=stripe&authMethod=api-key"
    page = html(client.get(response["Location"]))
    assert f'href="{WIZARD}?integration=stripe"' not in page  # no step 2 to go back to


def test_categories_read_as_words(client):
    salesforce()
    page = html(client.get(WIZARD))
    assert '<option value="crm">CRM</option>' in page
    assert '<span class="badge badge-neutral">CRM</span>' in page


@pytest.mark.parametrize(
    ("state", "badge", "fix"),
    [
        ({"last_test_status": "success"}, 'badge-success">Active<', False),
        ({"last_test_status": "error"}, 'badge-danger">Failing<', True),
        ({"last_test_status": "error", "consecutive_failures": 5}, 'badge-warning">Needs attention<', True),
        ({}, 'badge-neutral">Active · not tested<', False),
        ({"status": "inactive", "last_test_status": "success"}, 'badge-neutral">Inactive<', False),
    ],
)
def test_status_badges_tell_the_truth_and_failing_ones_offer_a_fix(client, user, state, badge, fix):
    connection = acme_connection(user, **state)
    page = html(client.get("/my-connections/"))
    assert badge in page
    assert 'badge-success">Active<' not in page or state.get("last_test_status") == "success"
    edit = reverse("connection-edit", args=[connection.connection_id])
    assert (f'href="{edit}">Reconnect / Fix' in page) is fix


def test_a_changed_secret_clears_the_last_test_on_review(client, user):
    from django.utils import timezone

    connection = acme_connection(
        user, last_test_status="success", last_test_message="Welcome Dana", last_test_date=timezone.now()
    )
    edit = reverse("connection-edit", args=[connection.connection_id])
    data = {**GOOD_ACME, "credentials__password": "n3w-Passw0rd!"}
    response = client.post(edit, data, follow=True)
    page = html(response)
    assert "Welcome Dana" not in page and "Not tested since your last change." in page


def test_dates_use_one_format_in_the_users_time_zone(client, user):
    from datetime import datetime

    acme_connection(user, last_test_status="success", last_test_date=datetime(2026, 1, 15, 13, 5, tzinfo=UTC))
    assert '2026-01-15T13:05:00+00:00">Jan 15, 2026, 13:05 UTC</time>' in html(client.get("/my-connections/"))
    client.cookies["tz"] = "Europe/Paris"  # as static/js/dates.js sets it
    assert ">Jan 15, 2026, 14:05 CET</time>" in html(client.get("/my-connections/"))
    client.cookies["tz"] = "Not/AZone"
    assert ">Jan 15, 2026, 13:05 UTC</time>" in html(client.get("/my-connections/"))


def test_review_shows_option_labels_and_edit_does_not_mark_kept_secrets_required(client, user):
    connection = acme_connection(
        user,
        credentials={
            "username": "dana",
            "password": "s3cret-Passw0rd",
            "region": "eu",
            "euToken": "tok-123456",
        },
    )
    page = html(client.get(reverse("connection-review", args=[connection.connection_id])))
    assert ">EU<" in page and ">eu<" not in page
    edit = html(client.get(reverse("connection-edit", args=[connection.connection_id])))
    password_label = re.search(r'<label for="id_credentials__password">(.*?)</label>', edit, re.S)[1]
    assert "required" not in password_label and "Leave blank to keep the current value." in edit
