"""Errors that connector actions raise so that the engine knows whether to retry.

The hierarchy::

    ConnectorError            base class; never raised directly
    ├── TransientError        worth retrying: network, timeout, 429, 5xx (optional retry_after)
    └── PermanentError        retrying cannot help: bad credentials, unknown channel, 4xx, bad input

The engine owns retries: it retries only ``TransientError``, with exponential backoff and jitter,
waiting at least ``retry_after`` seconds when the remote side said so. Any other exception raised
by an action is treated as permanent and recorded with its type name.
"""

from __future__ import annotations

__all__ = ["ConnectorError", "PermanentError", "TransientError"]


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


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header given in seconds; HTTP dates are rare enough to ignore."""
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None
