"""JSON for the API through orjson: the same bytes as DRF's JSONRenderer (compact, UTF-8,
U+2028/U+2029 escaped) several times faster, which matters for lists of a thousand items."""

from __future__ import annotations

import orjson
from rest_framework.renderers import JSONRenderer

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        # Whatever orjson does not know natively (lazy strings, datetimes, dates, decimals) gets
        # DRF's encoding.
        try:
            rendered = orjson.dumps(data, default=self.encoder_class().default, option=OPTIONS)
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: DRF's own rules
            return super().render(data, accepted_media_type, renderer_context)
        return rendered.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
