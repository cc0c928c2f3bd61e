"""Where deliveries arrive: hook URLs, and how flows on app events are indexed.

Two kinds of URL receive deliveries:

- ``<public url>/hooks/<flow token>``: one flow's webhook trigger;
- ``<public url>/hooks/<app>/<connection token>/<event>``: one event of one app account (for
  example Particeep's ``transaction_created``), fanned out to every enabled flow on it.

Both are built here and nowhere else, so that the API, the CLI, the UI and the registrations at
the apps always agree. Flows on an app event are found at intake through their
:class:`SourceKey`, kept on the flow row as text.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SourceKey", "hook_url"]


def hook_url(base_url: str, token: str, *, app: str | None = None, event: str | None = None) -> str:
    """The URL a sender posts to.

    With ``token`` alone: a flow's webhook URL. With ``app``: an app account's URL for ``event``,
    or the account's prefix (ending with ``/``) when ``event`` is ``None``.
    """
    base = base_url.rstrip("/")
    if app is None:
        return f"{base}/hooks/{token}"
    return f"{base}/hooks/{app}/{token}/{event or ''}"


class SourceKey(NamedTuple):
    """One event of one app connection: what flows on an app trigger listen to."""

    connection_id: str
    event: str

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.event}"

    @classmethod
    def parse(cls, text: str) -> SourceKey:
        """The key stored as ``text`` (``<connection id>:<event>``)."""
        connection_id, _, event = text.partition(":")
        return cls(connection_id, event)
