"""Log lines that say what they were about: the request, run, event and flow ids of the moment.

The ids live in context variables, set where the work starts (the web edge sets the request id
for each request, the executor sets the run's ids while it runs one) and read by a logging
filter, so that every line logged while that work is in progress carries them, whichever module
logs it and without passing ids around. asyncio tasks and ``anyio.to_thread`` copy the context
they start from, so a worker thread doing a request's database work logs its request id too.

Two formats: text for a person at a terminal (``ids`` appended to the line when set), and JSON,
one object per line, for a log collector (``MAILLON_LOG_FORMAT=json``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

__all__ = [
    "IDS",
    "ContextFilter",
    "JsonFormatter",
    "LogFormat",
    "configure",
    "log_ids",
    "request_id",
]

LogFormat = Literal["text", "json"]

#: The ids a log line may carry, in the order they are shown.
IDS = ("request_id", "run_id", "event_id", "flow_id")
_vars: dict[str, ContextVar[str | None]] = {name: ContextVar(name, default=None) for name in IDS}
#: The request being served (set by the web edge for the life of each request).
request_id = _vars["request_id"]


@contextmanager
def log_ids(**ids: str | None) -> Iterator[None]:
    """Tag every line logged inside the block with ``ids`` (names from :data:`IDS`)."""
    tokens = [(_vars[name], _vars[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


_handler: logging.Handler | None = None


class ContextFilter(logging.Filter):
    """Copies the ids of the current context onto each record (``record.request_id``, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            setattr(record, name, var.get())
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = " ".join(f"{n}={v}" for n in IDS if (v := getattr(record, n, None)))
        if not tags:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} [{tags}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in IDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            # Already formatted (and redacted of the secrets in play, engine.redaction).
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str, fmt: LogFormat) -> None:
    """Log to stderr at ``level``, as text or JSON, every line tagged with the current ids.

    A second call replaces the handler of the first (a command run twice in one process),
    so that no line is logged twice. Like :func:`logging.basicConfig`, it adds nothing when
    someone else already handles the root logger (a test runner capturing logs).
    """
    global _handler
    root = logging.getLogger()
    if any(h is not _handler for h in root.handlers):
        return
    root.setLevel(level.upper())
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = handler
    root.addHandler(handler)
