"""What the current unit of work is (a web request or a Celery task), for log lines and tasks it queues.

A web request gets a request id (its ``X-Request-ID`` when the caller sent a sane one, else a new
one); every task it queues carries it in a message header and the worker binds it again while the
task runs, so ``grep <request id>`` finds the request and its tasks in web and worker logs alike.

The unit of work also holds the secrets it handled (``hide_in_logs``, called by the encryption
module for every credential set it encrypts or decrypts): the log formatter masks them, in every
encoding ``core.redaction`` knows, in every line written meanwhile, whatever the logger or library.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from core import redaction

HEADER = "X-Request-ID"
# Accepted from callers as is: long enough for UUIDs and trace ids, nothing that could forge a log line.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{8,128}")
# A bulk command handles many connections in one unit of work: keep the most recent ones' secrets.
MAX_HIDDEN_GROUPS = 256


@dataclass
class WorkContext:
    request_id: str | None = None
    task_name: str | None = None
    task_id: str | None = None
    # Secrets to mask, one tuple per credential set (the forms are computed on the first log line).
    hidden: dict[tuple[str, ...], frozenset[str] | None] = field(default_factory=dict)


_current: ContextVar[WorkContext | None] = ContextVar("work_context", default=None)
# Outside any request or task (a management command, the shell) one context per thread.
_fallback: ContextVar[WorkContext] = ContextVar("fallback_work_context")


def current() -> WorkContext:
    context = _current.get()
    if context is not None:
        return context
    try:
        return _fallback.get()
    except LookupError:
        context = WorkContext()
        _fallback.set(context)
        return context


def request_id() -> str | None:
    return current().request_id


def accepted_request_id(incoming: str | None) -> str:
    """The caller's id when it is a plausible one, else a new random id."""
    if incoming and _ACCEPTED_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@contextmanager
def work(
    *, request_id: str | None, task_name: str | None = None, task_id: str | None = None
) -> Iterator[WorkContext]:
    """Bind a fresh context for one request or task; the previous one comes back afterwards."""
    token = _current.set(WorkContext(request_id=request_id, task_name=task_name, task_id=task_id))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def begin(*, request_id: str | None, task_name: str | None = None, task_id: str | None = None):
    """Like ``work`` for code that starts and ends in two callbacks (Celery's signals, a request
    whose last log line is written after the middleware returned): the token goes to ``end``."""
    return _current.set(WorkContext(request_id=request_id, task_name=task_name, task_id=task_id))


def end(token=None) -> None:
    """Leave the unit of work ``begin`` started (or, without its token, any: back to none)."""
    if token is None:
        _current.set(None)
    else:
        _current.reset(token)


def hide_in_logs(secrets: Iterable[object]) -> None:
    """Mask these values (one credential set) in log lines of the current unit of work. Cheap: the
    encoded forms are only worked out when a line is written."""
    group = tuple(sorted({str(value) for value in secrets if value not in (None, "")}))
    if not group:
        return
    hidden = current().hidden
    hidden[group] = hidden.pop(group, None)
    while len(hidden) > MAX_HIDDEN_GROUPS:
        del hidden[next(iter(hidden))]


def hidden_forms() -> set[str]:
    """Every form of every secret registered in this unit of work (worked out once per set)."""
    hidden = current().hidden
    forms: set[str] = set()
    for group, known in hidden.items():
        if known is None:
            known = hidden[group] = frozenset(redaction.all_forms(group))
        forms |= known
    return forms
