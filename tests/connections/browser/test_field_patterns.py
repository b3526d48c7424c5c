"""Every catalog pattern works in the browser: Chromium compiles the HTML ``pattern`` attribute
with the ``v`` flag, where an invalid pattern is skipped silently (only a console error)."""

import json
import re

import pytest
from playwright.sync_api import expect

from integrations.documents import PROVIDERS_DIR
from tests.accounts.factories import UserFactory
from tests.conftest import sign_in
from tests.connections.factories import integration_from_document, provider_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def catalog_patterns() -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(PROVIDERS_DIR.glob("*/auth.schema.json")):
        walk(json.loads(path.read_text()))
    return found


def test_every_catalog_pattern_compiles_with_the_v_flag_and_checks_in_the_form(page, screenshot):
    patterns = catalog_patterns()
    assert len(patterns) >= 25
    sign_in(page, UserFactory())
    # As the browser builds it from the attribute: ^(?:pattern)$ with the v flag.
    invalid = page.evaluate(
        """patterns => patterns.filter(p => {
            try { new RegExp("^(?:" + p + ")$", "v"); return false; } catch (e) { return true; }
        })""",
        patterns,
    )
    assert invalid == []
    for pattern in patterns:
        re.compile(pattern)  # the server checks the same pattern

    # And the browser really checks: the Stripe key's format rule shows before any mistake.
    integration_from_document(provider_document("stripe"))
    page.goto("/connections/new/?integration=stripe")
    key = page.get_by_label(re.compile("^Secret key"))
    expect(page.locator(".format-rule").first).to_be_visible()
    key.fill("pk_live_wrong")
    assert page.evaluate("el => el.validity.patternMismatch", key.element_handle())
    key.fill("sk_test_abc123")
    assert not page.evaluate("el => el.validity.patternMismatch", key.element_handle())


def test_salesforce_address_field_takes_a_bare_name_or_the_browsers_lightning_address(page, screenshot):
    integration_from_document(provider_document("salesforce"))
    sign_in(page, UserFactory())
    page.goto("/connections/new/?integration=salesforce&authMethod=api-key")
    field = page.get_by_label(re.compile("^Instance URL"))
    for typed in (
        "mycompany",
        "mycompany.my.salesforce.com",
        "https://mycompany.lightning.force.com/lightning/page/home",
    ):
        field.fill(typed)
        assert page.evaluate("el => el.validity.valid", field.element_handle()), typed
    field.fill("https://evil.example.com")
    assert page.evaluate("el => el.validity.patternMismatch", field.element_handle())
    screenshot("salesforce-instance-field")
