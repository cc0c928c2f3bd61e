"""Errors that connector actions raise so that the engine knows whether to retry.

The hierarchy::

    ConnectorError            base class; never raised directly
    ├── TransientError        worth retrying: network, timeout, 429, 5xx (optional retry_after)
    └── PermanentError        retrying cannot help: bad credentials, unknown channel, 4xx, bad input
        └── AccessTokenRejected   the app refused an OAuth access token that should still work

The engine owns retries: it retries only ``TransientError``, with exponential backoff and jitter,
waiting at least ``retry_after`` seconds when the remote side said so. Any other exception raised
by an action is treated as permanent and recorded with its type name. :class:`AccessTokenRejected`
is the one permanent error the engine acts on: for a connection whose OAuth tokens it refreshes,
it refreshes the access token and tries the step once more before failing it.
:func:`parse_retry_after` reads the header that sets ``retry_after``, for every connector alike.

Connector authors import these names from :mod:`maillon.connectors.sdk`.
"""

from __future__ import annotations

import math
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = [
    "AccessTokenRejected",
    "ConnectorError",
    "PermanentError",
    "TransientError",
    "parse_retry_after",
]


class ConnectorError(Exception):
    """Base class of the errors an action raises on purpose."""

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: Extra structured facts (remote status code, error code) recorded with the step.
        self.details = details or {}


class TransientError(ConnectorError):
    """A failure that may succeed if tried again later."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        #: Seconds the remote side asked us to wait (``Retry-After``), if it said.
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """A failure that will happen again however often it is retried."""


class AccessTokenRejected(PermanentError):
    """The app refused the access token (HTTP 401) before it was known to expire.

    Apps end sessions early (a Salesforce session timeout, a revoked grant, a token some apps
    give no lifetime for), so an action cannot tell an expired token from a withdrawn one. It
    raises this; for a connection whose OAuth tokens the engine refreshes, the engine then
    refreshes the access token and runs the step once more, and a second refusal fails the step
    with "reconnect this account". For any other connection it is a plain permanent error, so
    the message should say what to check (the token, the app's user).
    """


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait that a ``Retry-After`` header asks for, or ``None`` if it says nothing.

    RFC 9110 allows two forms, and servers use both: delta-seconds (``120``, common on 429) and
    an HTTP date (``Wed, 21 Oct 2015 07:28:00 GMT``, common on 503 during maintenance). A date
    is counted from ``now``, a Unix time: the current time by default, or the time of the
    response's ``Date`` header to be immune to clock skew. A negative delay or a date in the
    past means "now" (0); a value that is neither form is ignored (``None``), since a malformed
    header must not turn a retry into a failure.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            # RFC 9110 dates are always GMT; the obsolete forms without a zone mean GMT too.
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None  # "nan" and "inf" read as floats, but no server means them
    return max(0.0, seconds)
