"""The errors engine services raise, for every transport to map once.

The hierarchy::

    LookupError
    └── NotFound          the named object does not exist (HTTP 404)
    ValueError
    ├── Invalid           the input cannot be accepted; ``problems`` lists every reason (422)
    └── Conflict          the change would break a uniqueness or state rule (409)
"""

from __future__ import annotations

__all__ = ["Conflict", "Invalid", "NotFound"]


class NotFound(LookupError):
    """The named object does not exist."""


class Conflict(ValueError):
    """The change would break a uniqueness rule or a state rule."""


class Invalid(ValueError):
    """Input that cannot be accepted; ``problems`` lists every reason, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
