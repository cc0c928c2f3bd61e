"""Masking secrets: one home for what is hidden, and how, wherever data is kept or logged.

Three kinds of secret are masked, all with :data:`MASK`:

- **secrets in play during a step**: the secret fields of the step's connection (a bot token,
  an API key, an OAuth access token, a password kept out of a URL) and the step's inputs
  declared secret. A :class:`Redactor` replaces their values wherever they appear (in the
  step's recorded input, output, error and details, and in every log line written while the
  step runs), because a remote API that echoes a request back puts them in its answer.
- **secret inputs**, by field, in the input a step records (:func:`mask_secret_inputs`).
- **credentials a sender puts in a delivery**, by header or parameter name, before the event
  is stored (:func:`mask_credentials`).

Log lines are redacted by a log record factory (:func:`install_log_redaction`) that reads the
secrets of the step running in the current context (a context variable, which asyncio tasks
and worker threads started with ``anyio.to_thread`` inherit): client libraries' own loggers
(slack_sdk logs request URLs) are covered without knowing about them.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import logging
import re
import traceback
from collections.abc import Collection, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, SecretStr

from maillon.connectors.base import secret_fields
from maillon.engine.connections import url_fields

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_PARAMETERS",
    "MASK",
    "MIN_SECRET_CHARS",
    "Redactor",
    "install_log_redaction",
    "mask_credentials",
    "mask_secret_inputs",
]

#: What a masked value is replaced with.
MASK = "••••••"

#: Secrets shorter than this are not searched for in text: masking every "a" or "42" in a
#: step's output would hide the output, not protect the secret.
MIN_SECRET_CHARS = 4

#: Request headers that carry a sender's credentials (lower-case names).
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-token",
        "private-token",
    }
)

#: Query-string parameters that carry credentials (compared lower-cased).
CREDENTIAL_PARAMETERS = frozenset(
    {
        "token",
        "access_token",
        "auth_token",
        "api_key",
        "apikey",
        "api-key",
        "key",
        "secret",
        "client_secret",
        "password",
        "pass",
        "auth",
    }
)


#: Path segments of a secret URL at least this long are secrets on their own (a webhook's
#: token); shorter ones (``services``, ``v1``) are ordinary words.
_SECRET_SEGMENT_CHARS = 16


def _url_parts(value: str) -> set[str]:
    """The parts of a secret URL that stand for it: its path and its long path segments."""
    if not value.startswith(("http://", "https://")):
        return set()
    try:
        path = urlsplit(value).path
    except ValueError:
        return set()
    parts = {s for s in path.split("/") if len(s) >= _SECRET_SEGMENT_CHARS}
    if len(path.strip("/")) >= _SECRET_SEGMENT_CHARS:
        parts.add(path)
    return parts


class Redactor:
    """Replaces the values of a set of secrets with :data:`MASK` wherever they appear in text,
    and in the strings (keys included) of nested data.

    Besides each value as given it masks the forms a client puts on the wire: URL-encoded, and
    for a user name with a password, the ``Basic`` credentials they make.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these values too (and their URL-encoded forms; for a secret URL, such as a
        webhook's, its path and its long path segments, which an echo may give alone)."""
        more = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET_CHARS:
                more.update({secret, quote(secret, safe=""), quote(secret)})
                more.update(_url_parts(secret))
        if more - self._secrets:
            self._secrets |= more
            # Longest first: a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def add_basic(self, username: str, password: str) -> None:
        """Mask the ``Basic`` credentials made of ``username`` and ``password``."""
        pair = f"{username}:{password}".encode()
        self.add([base64.b64encode(pair).decode(), password])

    def add_model(self, model: BaseModel) -> None:
        """Mask the secrets ``model`` holds: its ``SecretStr`` fields, the ``Basic``
        credentials of a secret ``*password`` field with its ``*username`` beside it, and
        passwords written in its URL fields."""
        for name in url_fields(type(model)):
            value = getattr(model, name, None)
            with contextlib.suppress(ValueError):
                parts = urlsplit(value) if isinstance(value, str) else None
                if parts is not None and parts.password:
                    self.add_basic(parts.username or "", parts.password)
        for name in secret_fields(type(model)):
            value = getattr(model, name, None)
            if not isinstance(value, SecretStr):
                continue
            self.add([value.get_secret_value()])
            user = getattr(model, name.removesuffix("password") + "username", None)
            if name.endswith("password") and isinstance(user, str):
                self.add_basic(user, value.get_secret_value())

    def text(self, text: str) -> str:
        """``text`` with every secret masked."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """``value`` (nested dicts, lists, strings) with every secret masked in its strings."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    @contextlib.contextmanager
    def active(self) -> Iterator[Redactor]:
        """Redact the log lines written in this context (and in tasks and threads it starts)
        while the block runs."""
        token = _in_play.set(self)
        try:
            yield self
        finally:
            _in_play.reset(token)


def mask_secret_inputs(model: type[BaseModel], rendered: Any) -> Any:
    """``rendered`` with the inputs that ``model`` declares secret masked: the rendered input
    is recorded and shown with the run, and a secret must reach neither the database in clear
    nor a browser."""
    secret = secret_fields(model)
    if not secret or not isinstance(rendered, dict):
        return rendered
    return {
        key: MASK if key in secret and value not in (None, "") else value
        for key, value in rendered.items()
    }


def _masked(values: Mapping[str, Any], lowered: Collection[str]) -> dict[str, Any]:
    return {k: MASK if k.lower() in lowered else v for k, v in values.items()}


@lru_cache(maxsize=16)
def _credential_names(extra: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """The header and the parameter names to mask, lower-cased, given the ``extra`` ones:
    worked out once rather than for every delivery."""
    more = frozenset(name.lower() for name in extra)
    return CREDENTIAL_HEADERS | more, CREDENTIAL_PARAMETERS | more


def mask_credentials(
    meta: dict[str, Any], extra: Iterable[str] = ()
) -> tuple[dict[str, Any], set[str]]:
    """``meta`` (method, query, headers) with credential headers and query parameters masked,
    and the names of the query parameters masked (a body made of the query needs them).

    ``extra``: more header or parameter names to mask (``MAILLON_MASKED_FIELDS``).
    """
    header_names, parameter_names = _credential_names(tuple(extra))
    headers = _masked(meta.get("headers", {}), header_names)
    query: Mapping[str, Any] = meta.get("query", {})
    masked = {k for k in query if k.lower() in parameter_names}
    query = {k: MASK if k in masked else v for k, v in query.items()}
    return {**meta, "headers": headers, "query": query}, masked


_in_play: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "maillon_secrets_in_play", default=None
)
_installed = False


def install_log_redaction() -> None:
    """Redact the secrets in play from every log record made from now on (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor = _in_play.get()
        if redactor is not None:
            _redact_record(record, redactor)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    record.msg, record.args = redactor.text(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        # Formatted now, redacted, and kept as the record's exception text: a handler would
        # otherwise format the exception (and the secrets in its message) itself.
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text, record.exc_info = redactor.text(text), None
