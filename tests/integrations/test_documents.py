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
