"""Content negotiation with a shortcut for what host products send: ``Accept: application/json``
or ``*/*`` (or nothing) and no ``?format=``. The answer is then the first renderer (JSON) whatever
the parsing would find, so the header is not parsed; anything else (a browser asking for HTML, a
format parameter) is negotiated as DRF does."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

JSON = "application/json"
_ANYTHING = frozenset({JSON, "*/*"})


class JsonFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        if (
            first is not None
            and first.media_type == JSON
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") in _ANYTHING
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, JSON
        return super().select_renderer(request, renderers, format_suffix)
