import pytest

from connections.credential_validation import validate_connection_input
from core.errors import ValidationFailed
from tests.connections.factories import SEED_CREDENTIALS, acme, hubspot, onprem, salesforce

pytestmark = pytest.mark.django_db

ACME_OK = {"username": "ada", "password": "pw"}
SERVER = {"subdomain": "crm"}


def errors_of(**kwargs) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_connection_input(**kwargs)
    return caught.value.errors


def test_the_seed_salesforce_example_is_accepted_and_resolved():
    valid = validate_connection_input(
        integration=salesforce(),
        auth_method_id="oauth2",
        credentials=dict(SEED_CREDENTIALS),
        configured_variables={"instance_url": "https://mycompany.salesforce.com"},
    )

    assert valid.base_url == "https://mycompany.salesforce.com/services/data/v58.0"
    assert valid.credentials == SEED_CREDENTIALS
    assert valid.configured_variables == {"instance_url": "https://mycompany.salesforce.com"}
    assert valid.auth_method["label"] == "OAuth 2.0"


def test_required_missing_empty_and_unknown_are_all_reported():
    errors = errors_of(
        integration=salesforce(),
        auth_method_id="oauth2",
        credentials={"clientSecret": "  ", "password": "x"},
        configured_variables={"instance_url": "https://a.salesforce.com", "region": "eu"},
    )

    assert errors == [
        "credentials.password is not a field of this auth method",
        "credentials.clientId is required",
        "credentials.clientSecret cannot be empty",
        "configuredVariables.region is not a field of this auth method",
    ]


def test_unknown_auth_method_lists_the_valid_ones():
    assert errors_of(
        integration=salesforce(), auth_method_id="saml", credentials={}, configured_variables={}
    ) == ["authMethodId must be one of: oauth2, api-key, sign-in"]


def test_an_instance_url_that_is_not_a_url():
    errors = errors_of(
        integration=salesforce(),
        auth_method_id="api-key",
        credentials={"apiKey": "k"},
        configured_variables={"instance_url": "not a url"},
    )

    assert errors == ["configuredVariables.instance_url must be a valid URL"]


def test_pattern_message_is_used():
    errors = errors_of(
        integration=salesforce(),
        auth_method_id="api-key",
        credentials={"apiKey": "k"},
        configured_variables={"instance_url": "https://evil.example.com"},
    )

    assert errors == [
        "configuredVariables.instance_url must be your Salesforce address, such as https://mycompany.my.salesforce.com"
    ]


def test_hubspot_token_pattern():
    errors = errors_of(
        integration=hubspot(),
        auth_method_id="api-key",
        credentials={"apiKey": "nope"},
        configured_variables={},
    )
    assert errors == ["credentials.apiKey must be a private app token starting with pat-"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"username": "ab"}, "credentials.username must be at least 3 characters"),
        ({"username": "a" * 21}, "credentials.username must be at most 20 characters"),
        ({"region": "apac"}, "credentials.region must be one of: us, eu"),
        ({"contact": "not-an-email"}, "credentials.contact must be a valid email address"),
        ({"timeout": "soon"}, "credentials.timeout must be a number"),
        ({"timeout": True}, "credentials.timeout must be a number"),
        ({"account": "XY12"}, "credentials.account must look like AC1234"),
        ({"username": 42}, "credentials.username must be a string"),
        ({"username": {"nested": "x"}}, "credentials.username must be a single value"),
        ({"euToken": "t"}, "credentials.euToken is only used when region is eu"),
    ],
)
def test_field_types(extra, message):
    assert errors_of(
        integration=acme(),
        auth_method_id="basic",
        credentials={**ACME_OK, **extra},
        configured_variables=SERVER,
    ) == [message]


def test_valid_typed_values_pass():
    valid = validate_connection_input(
        integration=acme(),
        auth_method_id="basic",
        credentials={**ACME_OK, "region": "us", "contact": "a@b.example", "timeout": 30, "account": "AC1234"},
        configured_variables={"subdomain": "https://crm.acme.test/"},
    )
    assert valid.base_url == "https://crm.acme.test/api/v2"


def test_a_field_shown_by_show_when_becomes_required():
    errors = errors_of(
        integration=acme(),
        auth_method_id="basic",
        credentials={**ACME_OK, "region": "eu"},
        configured_variables=SERVER,
    )
    assert errors == ["credentials.euToken is required"]

    valid = validate_connection_input(
        integration=acme(),
        auth_method_id="basic",
        credentials={**ACME_OK, "region": "eu", "euToken": "t"},
        configured_variables=SERVER,
    )
    assert valid.credentials["euToken"] == "t"


def test_every_base_url_variable_must_be_supplied():
    assert errors_of(
        integration=acme(), auth_method_id="token", credentials={"apiToken": "t"}, configured_variables={}
    ) == ["configuredVariables.subdomain is required"]


def test_a_base_url_variable_cannot_move_the_host():
    assert errors_of(
        integration=acme(),
        auth_method_id="token",
        credentials={"apiToken": "t"},
        configured_variables={"subdomain": "evil.com/x?"},
    ) == ["configuredVariables.subdomain must be a host name such as 'mycompany' or a URL on this service"]


@pytest.mark.parametrize(
    ("allowlist", "host", "message"),
    [
        ([], "crm.corp.test", "configuredVariables.host must make the baseUrl an https URL"),
        (
            ["*.example.com"],
            "evil.example.com",
            "configuredVariables.host must point at *.corp.test, localhost",
        ),
    ],
)
def test_the_resolved_base_url_must_be_https_on_an_allowed_host(settings, allowlist, host, message):
    settings.OUTBOUND_ALLOWLIST = allowlist
    assert errors_of(
        integration=onprem(),
        auth_method_id="token",
        credentials={"token": "t"},
        configured_variables={"host": host},
    ) == [message]


def test_plain_http_only_for_allowlisted_hosts(settings):
    settings.OUTBOUND_ALLOWLIST = ["*.corp.test"]
    valid = validate_connection_input(
        integration=onprem(),
        auth_method_id="token",
        credentials={"token": "t"},
        configured_variables={"host": "crm.corp.test"},
    )
    assert valid.base_url == "http://crm.corp.test/api"


def test_values_are_stored_as_they_were_checked_trimmed(user):
    from connections.selectors import connection_credentials
    from connections.services import connection_create
    from tests.connections.factories import integration_from_document, provider_document

    integration_from_document(provider_document("stripe"))
    connection = connection_create(
        actor=user,
        user=user,
        integration_id="stripe",
        auth_method_id="api-key",
        credentials={"secretKey": "  sk_test_abc123\n"},
        configured_variables={},
    )
    assert connection_credentials(connection=connection) == {"secretKey": "sk_test_abc123"}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("mycompany", "https://mycompany.my.salesforce.com"),
        (" mycompany.my.salesforce.com ", "https://mycompany.my.salesforce.com"),
        ("https://mycompany.lightning.force.com/lightning/page/home", "https://mycompany.my.salesforce.com"),
        ("https://acme--dev.sandbox.lightning.force.com/", "https://acme--dev.sandbox.my.salesforce.com"),
        ("https://mycompany.salesforce.com/", "https://mycompany.salesforce.com"),
    ],
)
def test_salesforce_accepts_what_users_copy_and_stores_the_instance_address(typed, stored):
    valid = validate_connection_input(
        integration=salesforce(),
        auth_method_id="api-key",
        credentials={"apiKey": "k"},
        configured_variables={"instance_url": typed},
    )

    assert valid.configured_variables == {"instance_url": stored}
    assert valid.base_url == f"{stored}/services/data/v58.0"


def test_a_lightning_address_on_another_domain_is_refused():
    errors = errors_of(
        integration=salesforce(),
        auth_method_id="api-key",
        credentials={"apiKey": "k"},
        configured_variables={"instance_url": "https://mycompany.lightning.force.com.evil.example"},
    )

    assert errors == [
        "configuredVariables.instance_url must be your Salesforce address, such as https://mycompany.my.salesforce.com"
    ]
