"""The shortcut answers exactly what DRF's negotiation would, and leaves everything else to it."""

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api.negotiation import JsonFirstContentNegotiation
from core.api.renderers import OrjsonRenderer

RENDERERS = [OrjsonRenderer(), BrowsableAPIRenderer()]


def negotiate(negotiation, path: str, accept: str | None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, RENDERERS)
    except NotAcceptable:
        return "not acceptable"
    return type(renderer), media_type


@pytest.mark.parametrize(
    "accept",
    [None, "application/json", "*/*", "text/html", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"],
)
@pytest.mark.parametrize("path", ["/api/x", "/api/x?format=api", "/api/x?format=json"])
def test_same_choice_as_drf(path, accept):
    assert negotiate(JsonFirstContentNegotiation(), path, accept) == negotiate(
        DefaultContentNegotiation(), path, accept
    )


def test_a_browser_still_gets_the_browsable_api():
    assert negotiate(JsonFirstContentNegotiation(), "/api/x", "text/html")[0] is BrowsableAPIRenderer
