"""The bundled catalog: every provider file is valid, real-looking and safe to resolve."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from integrations.documents import PROVIDERS_DIR, is_sign_in_method, load_document_file, method_base_url
from integrations.url_templates import host_matches, resolve_template, resolved_host, template_variables

REPO = Path(__file__).resolve().parents[2]
PROVIDER_FILES = sorted(PROVIDERS_DIR.glob("*/auth.schema.json"))
CATEGORIES = {
    "crm",
    "payment",
    "support",
    "devtools",
    "communication",
    "marketing",
    "productivity",
    "ecommerce",
    "database",
}

# What a user would really type for each baseUrl variable.
SAMPLE_VALUES = {
    "instance_url": "https://mycompany.my.salesforce.com",
    "domain": "mycompany",
    "subdomain": "https://mycompany.zendesk.com",
    "site": "https://mycompany.atlassian.net",
    "server_url": "https://gitlab.mycompany.com",
    "shop": "mystore.myshopify.com",
    "dc": "us21",
    "accountSid": "AC" + "0123456789abcdef" * 2,
    "spreadsheet_id": "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
    "cloudId": "1324a887-45db-1bf4-1e99-ef0ff456d421",
}
HOSTILE_VALUES = [
    "evil.example/",
    "mycompany.evil.example",
    "https://evil.example/x",
    "a b",
    "x@evil.example",
]


def provider_ids():
    return [path.parent.name for path in PROVIDER_FILES]


def all_fields(document):
    for method in document["authMethods"]:
        yield from method["fields"]
        yield from method.get("additionalFields", [])


def test_catalog_has_the_expected_real_integrations():
    expected = {
        "salesforce",
        "hubspot",
        "freshdesk",
        "zendesk",
        "jira",
        "github",
        "gitlab",
        "slack",
        "stripe",
        "shopify",
        "mailchimp",
        "twilio",
        "sendgrid",
        "notion",
        "airtable",
        "pipedrive",
        "google-sheets",
    }
    assert expected <= set(provider_ids())
    assert len(PROVIDER_FILES) >= 17


@pytest.mark.parametrize("path", PROVIDER_FILES, ids=provider_ids())
def test_provider_file_is_valid_and_complete(path: Path):
    document = load_document_file(path)

    assert document["category"] in CATEGORIES
    assert document["docsUrl"].startswith("https://")
    assert document["allowedHosts"], "every integration says where its credentials may go"
    assert document["testRequest"]["method"] in ("GET", "HEAD"), "connection tests must be read-only"
    for method in document["authMethods"]:
        assert method.get("description")
        if is_sign_in_method(method):
            assert not method["fields"], "signing in at the provider, the user types no credential"
            continue
        assert method["fields"], "every method asks for some credential"
        assert any(f["type"] == "password" or f.get("secret") for f in method["fields"])


SIGN_IN_PROVIDERS = [
    "salesforce",
    "hubspot",
    "github",
    "gitlab",
    "google-sheets",
    "slack",
    "notion",
    "airtable",
    "pipedrive",
    "mailchimp",
    "zendesk",
    "shopify",
    "jira",
]


@pytest.mark.parametrize("integration_id", SIGN_IN_PROVIDERS)
def test_sign_in_endpoints_are_https_on_the_providers_hosts(integration_id):
    document = load_document_file(PROVIDERS_DIR / integration_id / "auth.schema.json")
    (method,) = [m for m in document["authMethods"] if is_sign_in_method(m)]
    apply = method["apply"]
    defaults = {f["name"]: f["default"] for f in method.get("additionalFields", []) if "default" in f}
    values = {**SAMPLE_VALUES, **defaults}
    for key in ("authorizeUrl", "tokenUrl", "revocationUrl", "resourcesUrl"):
        if key in apply:
            url = resolve_template(apply[key], values)
            assert url.startswith("https://"), (key, url)
            if key != "authorizeUrl":  # only the browser goes to the consent page
                assert host_matches(resolved_host(url), document["allowedHosts"]), (key, url)


@pytest.mark.parametrize("path", PROVIDER_FILES, ids=provider_ids())
def test_base_url_resolves_onto_an_allowed_host(path: Path):
    document = load_document_file(path)
    for method in document["authMethods"]:
        defaults = {f["name"]: f["default"] for f in method.get("additionalFields", []) if "default" in f}
        url = resolve_template(method_base_url(document, method), {**defaults, **SAMPLE_VALUES})
        assert url.startswith("https://")
        assert host_matches(resolved_host(url), document["allowedHosts"]), url


@pytest.mark.parametrize("path", PROVIDER_FILES, ids=provider_ids())
def test_user_supplied_url_variables_have_strict_patterns(path: Path):
    document = load_document_file(path)
    variables = template_variables(document["baseUrl"])
    for method in document["authMethods"]:
        for field in method.get("additionalFields", []):
            if field["name"] not in variables or field["type"] == "select":
                continue
            assert "pattern" in field and "patternMessage" in field, field["name"]
            pattern = re.compile(field["pattern"])
            assert pattern.fullmatch(SAMPLE_VALUES[field["name"]]), field["name"]
            for hostile in HOSTILE_VALUES:
                assert not pattern.fullmatch(hostile), (field["name"], hostile)


@pytest.mark.parametrize("path", PROVIDER_FILES, ids=provider_ids())
def test_fields_help_the_user(path: Path):
    document = load_document_file(path)
    for field in all_fields(document):
        assert field.get("description") or field.get("helpText") or field.get("placeholder"), field["name"]
    assert any(f.get("docsUrl") for f in all_fields(document)) or document.get("docsUrl")


def test_catalog_uses_selects_and_conditional_fields():
    documents = [json.loads(path.read_text()) for path in PROVIDER_FILES]
    fields = [field for document in documents for field in all_fields(document)]
    assert any(f["type"] == "select" and f["options"] for f in fields)
    assert any("showWhen" in f for f in fields)


def test_self_hosted_gitlab_is_an_origin_with_any_host():
    document = load_document_file(PROVIDERS_DIR / "gitlab" / "auth.schema.json")
    assert document["allowedHosts"] == ["*"]
    assert (
        resolve_template(document["baseUrl"], {"server_url": "https://gitlab.com"})
        == "https://gitlab.com/api/v4"
    )
    assert (
        resolve_template(document["baseUrl"], {"server_url": "https://git.example.org:8443/"})
        == "https://git.example.org:8443/api/v4"
    )


@pytest.mark.parametrize("path", PROVIDER_FILES, ids=provider_ids())
def test_every_provider_has_a_local_svg_icon(path: Path):
    """A brand logo vendored under static/img/brands (its iconUrl), else its own monogram."""
    icon_url = json.loads(path.read_text()).get("iconUrl")
    if icon_url:
        assert icon_url.startswith("/static/img/brands/")
        icon = REPO / "static" / icon_url.removeprefix("/static/")
        assert not (path.parent / "icon.svg").exists()  # one icon per provider
    else:
        icon = path.parent / "icon.svg"
    svg = icon.read_text()
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # No external references: the icon must render without another host.
    assert not re.search(r"(href|src)\s*=", svg)
    assert "<script" not in svg
