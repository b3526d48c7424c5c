"""The API's orjson renderer writes the same bytes as DRF's JSONRenderer."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from core.api.renderers import OrjsonRenderer

PAYLOADS = [
    {"success": True, "message": "Connection created successfully", "total": 2, "stats": {"active": 1}},
    {"text": 'naïve “quotes” 日本 \u2028 line \u2029 para \x00 \\ "', "none": None, "flag": False},
    {"when": datetime(2025, 11, 23, 15, 45, 0, 123456, tzinfo=UTC), "day": date(2025, 11, 23)},
    {"lazy": gettext_lazy("Not found"), "id": UUID(int=7), "amount": Decimal("1.50"), 3: "int key"},
    {"nested": [{"a": [1, 2.5, -3]}, [], {}], "big": 2**70},
    [{"list": "at the top"}],
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_same_bytes_as_drf(payload):
    assert OrjsonRenderer().render(payload, "application/json") == JSONRenderer().render(
        payload, "application/json"
    )


def test_an_indent_asked_for_is_honoured():
    rendered = OrjsonRenderer().render({"a": 1}, "application/json; indent=2")
    assert rendered == b'{\n  "a": 1\n}'


def test_the_api_answers_through_it(key_client):
    response = key_client.get("/api/users")
    assert response.accepted_renderer.__class__ is OrjsonRenderer
    assert response.content.startswith(b'{"success":true,"users":[')
