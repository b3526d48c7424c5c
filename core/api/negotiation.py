"""Content negotiation with a shortcut for what host products send: ``Accept: application/json``
or ``*/*`` (or nothing) and no ``?format=``. The answer is then the first renderer (JSON) whatever
the parsing would find, so the header is not parsed; anything else (a browser asking for HTML, a
format parameter) is negotiated as DRF does."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import api_settings

JSON = "application/json"
_ANYTHING = frozenset({JSON, "*/*"})


def answers_json_unnegotiated(request) -> bool:
    """True when the caller takes JSON without negotiating: ``Accept`` is JSON, ``*/*`` or absent,
    and no ``?format=`` (``request`` is Django's or DRF's)."""
    return (
        request.META.get("HTTP_ACCEPT", "*/*") in _ANYTHING
        and api_settings.URL_FORMAT_OVERRIDE not in request.GET
    )


class JsonFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        if (
            first is not None
            and first.media_type == JSON
            and format_suffix is None
            and answers_json_unnegotiated(request)
        ):
            return first, JSON
        return super().select_renderer(request, renderers, format_suffix)
