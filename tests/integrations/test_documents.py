import copy
import json
from pathlib import Path

import pytest

import integrations
from integrations.documents import document_errors

SALESFORCE = json.loads(
    (Path(integrations.__file__).parent / "providers/salesforce/auth.schema.json").read_text()
)


def salesforce(**changes) -> dict:
    document = copy.deepcopy(SALESFORCE)
    document.update(changes)
    return document


def test_the_shipped_document_is_valid():
    assert document_errors(salesforce()) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["authMethods"][0]["fields"][1].update(type="date"), "$.authMethods[0].fields[1].type"),
        (
            lambda d: d["authMethods"][1].update(apply={"type": "bearer", "field": "nope"}),
            "$.authMethods[1].apply.field",
        ),
        (lambda d: d.pop("allowedHosts"), "$.allowedHosts: required"),
        (
            lambda d: d["authMethods"][0]["additionalFields"][0].update(type="password"),
            "$.authMethods[0].additionalFields[0]: a secret",
        ),
        (
            lambda d: d["authMethods"][0]["fields"][0].update(pattern="(unclosed"),
            "$.authMethods[0].fields[0].pattern",
        ),
        (lambda d: d["authMethods"][1].update(id="oauth2"), "duplicate auth method id"),
        (lambda d: d["authMethods"][0]["additionalFields"].clear(), "baseUrl variable 'instance_url'"),
        (
            lambda d: d["authMethods"][0]["fields"][0].update(showWhen={"key": "ghost", "value": 1}),
            "no field named 'ghost'",
        ),
    ],
)
def test_a_broken_document_is_refused_with_its_json_path(mutate, expected):
    document = salesforce()
    mutate(document)

    errors = document_errors(document)

    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize(
    ("character", "name"),
    [("\x00", "NUL"), ("\x0b", "VT"), ("\x0c", "FF"), ("\x85", "NEL"), ("\r\n", "CRLF")],
)
@pytest.mark.parametrize("where", ["testRequest", "method testRequest", "custom headers", "header apply"])
def test_control_characters_in_header_templates_are_refused_when_saved(where, character, name):
    document = header_document(where, f"v1{character}X-Evil: 1")

    errors = document_errors(document)

    assert any("contains a control character (such as NUL, VT, FF, NEL, CR or LF)" in e for e in errors), (
        name,
        errors,
    )


@pytest.mark.parametrize("where", ["testRequest", "method testRequest", "custom headers", "header apply"])
def test_a_non_latin_1_header_template_is_refused_with_the_reason(where):
    errors = document_errors(header_document(where, "Preis in €"))

    assert any("outside Latin-1 (ISO-8859-1), which HTTP header values cannot carry" in e for e in errors), (
        errors
    )


def test_latin_1_and_tabs_in_header_templates_are_fine():
    assert document_errors(header_document("testRequest", "Grüße\tv1 {{apiKey}}")) == []


def header_document(where: str, value: str) -> dict:
    document = copy.deepcopy(HEADER_BASE)
    method = document["authMethods"][0]
    if where == "testRequest":
        document["testRequest"]["headers"] = {"X-Version": value}
    elif where == "method testRequest":
        method["testRequest"] = {"method": "GET", "path": "/me", "headers": {"X-Version": value}}
    elif where == "custom headers":
        document["headers"] = {"X-Version": value}
    else:
        method["apply"]["value"] = value + " {{apiKey}}"
    return document


HEADER_BASE = {
    "id": "headers",
    "displayName": "Headers",
    "description": "Header templates",
    "category": "testing",
    "status": "active",
    "baseUrl": "https://api.example.com",
    "testRequest": {"method": "GET", "path": "/me"},
    "authMethods": [
        {
            "id": "key",
            "type": "API-KEY",
            "label": "Key",
            "fields": [{"name": "apiKey", "label": "Key", "type": "password", "required": True}],
            "apply": {"type": "header", "name": "X-Key", "value": "{{apiKey}}"},
        }
    ],
}
