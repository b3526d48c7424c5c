"""What the current unit of work is (a web request or a Celery task), for log lines and tasks it queues.

A web request gets a request id (its ``X-Request-ID`` when the caller sent a sane one, else a new
one); every task it queues carries it in a message header and the worker binds it again while the
task runs, so ``grep <request id>`` finds the request and its tasks in web and worker logs alike.

The unit of work also holds the text forms of secrets it handled (``hide_in_logs``): the log
formatter masks them in every line written meanwhile, whatever the logger or library.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

HEADER = "X-Request-ID"
# Accepted from callers as is: long enough for UUIDs and trace ids, nothing that could forge a log line.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{8,128}")
# A bulk command handles many connections in one unit of work: keep the most recent ones' secrets.
MAX_HIDDEN = 512


@dataclass
class WorkContext:
    request_id: str | None = None
    task_name: str | None = None
    task_id: str | None = None
    hidden: dict[str, None] = field(default_factory=dict)  # ordered set of secret forms


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
    """Like ``work`` for code that starts and ends in two callbacks (Celery's signals): returns the
    token to give ``end``."""
    return _current.set(WorkContext(request_id=request_id, task_name=task_name, task_id=task_id))


def end(token) -> None:
    _current.reset(token)


def hide_in_logs(forms: Iterable[str]) -> None:
    """Mask these strings (every encoded form of a secret) in log lines of the current unit of work."""
    hidden = current().hidden
    for form in forms:
        if form:
            hidden.pop(form, None)
            hidden[form] = None
    while len(hidden) > MAX_HIDDEN:
        del hidden[next(iter(hidden))]


def hidden_forms() -> list[str]:
    return list(current().hidden)
