"""The errors engine services raise, for every transport to map once.

The hierarchy::

    LookupError
    └── NotFound          the named object does not exist (HTTP 404)
    ValueError
    ├── Invalid           the input cannot be accepted; ``problems`` lists every reason (422)
    └── Conflict          the change would break a uniqueness or state rule (409)
    Forbidden             the acting user may not do this (403)
    Unauthenticated       the caller's credentials are missing or wrong (401)
    RateLimited           too many attempts; ``retry_after`` says for how long to wait (429)
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "RateLimited", "Unauthenticated"]


class NotFound(LookupError):
    """The named object does not exist."""


class Conflict(ValueError):
    """The change would break a uniqueness rule or a state rule."""


class Invalid(ValueError):
    """Input that cannot be accepted; ``problems`` lists every reason, not just the first.

    ``fields`` maps an input, named as the caller sent it (``name``, ``values.bot_token``), to
    what is wrong with it, so that a form can show each reason next to its input; ``general``
    are the reasons that concern no single input. ``problems`` holds both, a field's reason as
    ``"<input>: <reason>"``.
    """

    def __init__(self, problems: list[str], fields: Mapping[str, str] | None = None) -> None:
        self.general = list(problems)
        self.fields = dict(fields or {})
        self.problems = [*self.general, *(f"{k}: {v}" for k, v in self.fields.items())]
        super().__init__("; ".join(self.problems))


class Forbidden(Exception):
    """The acting user's role does not allow the operation."""


class Unauthenticated(Exception):
    """The caller's credentials (a token) are missing or wrong."""


class RateLimited(Exception):
    """Too many attempts of something guarded; ``retry_after`` is in seconds (at least 1)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1.0, retry_after)
