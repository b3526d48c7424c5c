"""Log line formats (``LOG_FORMAT``: ``plain`` by default, ``json`` for log shippers).

Both add the request id and, on workers, the task to every line, and both mask secrets in the
finished line: the forms the current unit of work registered (``request_context.hide_in_logs``)
and, whoever wrote the line, credentials in well-known shapes (``Authorization`` values, URL
passwords, secret-looking query parameters).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from core import redaction, request_context

MASK = redaction.MASK
_WELL_KNOWN = [
    # Authorization: Bearer x / Basic x, in headers, reprs and messages (a word is not a token:
    # it needs a digit or a symbol).
    re.compile(r"(?i)\b(bearer|basic)(\s+)(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}"),
    # https://user:password@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*)(:)[^@/\s]+(?=@)"),
    # ?api_key=x&… and "client_secret": "x" (a bare "name:" is left alone: "api-key:NAME" is a label)
    re.compile(
        r"(?i)\b((?:access_|refresh_|id_)?token|api[_-]?key|apikey|secret|client_secret|password|passwd"
        r"|signature|sig|code_verifier)(\s*=\s*|[\"']\s*:\s*[\"']?)[^\s&\"',;}]+"
    ),
]


def mask_secrets(text: str) -> str:
    # Shapes first: a registered value that is also a word ("Bearer" as a token type) must not
    # break the shape that would have masked the token after it.
    for pattern in _WELL_KNOWN:
        text = pattern.sub(lambda match: f"{match.group(1)}{match.group(2)}{MASK}", text)
    return redaction.mask_forms(text, request_context.hidden_forms())


def _context_fields() -> dict[str, str]:
    context = request_context.current()
    fields = {"request_id": context.request_id, "task": context.task_name, "task_id": context.task_id}
    return {name: value for name, value in fields.items() if value}


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger message [request_id=… task=… task_id=…]``, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context_fields()
        if context:
            line += " [" + " ".join(f"{name}={value}" for name, value in context.items()) + "]"
        return mask_secrets(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id/task/task_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
            **_context_fields(),
        }
        if record.exc_info:
            entry["exception"] = mask_secrets(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = mask_secrets(record.exc_text)
        if record.stack_info:
            entry["stack"] = mask_secrets(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)
