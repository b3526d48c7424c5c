"""``proxy_input`` checks the usual proxy request without building ``ProxyInput``: it must give
exactly what the serializer gives, and leave everything else (every error) to it."""

import pytest
from rest_framework.exceptions import ValidationError

from connections.api.serializers import ProxyInput, proxy_input
from core.api.validation import validate_input

ACCEPTED = [
    {"method": "GET", "path": "/items"},
    {"method": "POST", "path": "items?a=1", "query": {"b": [1, "2", None], "c": True}, "body": {"x": [1]}},
    {"method": "PUT", "path": "/x", "headers": {"X-A": "", "X-B": "b c"}, "body": "raw text"},
    {"method": "DELETE", "path": " /spaced ", "body": None, "extra": "ignored"},
    {"method": "GET", "path": "/é", "headers": {"X-Name": "Zoë"}},  # not ASCII: the serializer's turn
    {"method": "GET", "path": "/h", "headers": {"X-Number": 5}},  # the serializer turns it into text
    {"method": "GET", "path": 5},  # so too
    {"method": "GET", "path": "/" + "a" * 1999},
]
REFUSED = [
    [],
    "GET",
    {},
    {"method": "get", "path": "/items"},
    {"method": "GET"},
    {"method": "GET", "path": ""},
    {"method": "GET", "path": None},
    {"method": "GET", "path": "/" + "a" * 2000},
    {"method": "GET", "path": "/a\x00"},
    {"method": "GET", "path": "/a", "query": []},
    {"method": "GET", "path": "/a", "query": None},
    {"method": "GET", "path": "/a", "headers": {"X-A": None}},
    {"method": "GET", "path": "/a", "headers": {"X-A": ["a"]}},
    {"method": "GET", "path": "/a", "headers": "X-A: a"},
]


@pytest.mark.parametrize("data", ACCEPTED)
def test_the_usual_request_gives_what_the_serializer_gives(data):
    assert proxy_input(data) == dict(validate_input(ProxyInput, data))


@pytest.mark.parametrize("data", REFUSED)
def test_anything_else_is_refused_with_the_serializers_messages(data):
    with pytest.raises(ValidationError) as expected:
        validate_input(ProxyInput, data)
    with pytest.raises(ValidationError) as refused:
        proxy_input(data)
    assert refused.value.detail == expected.value.detail
