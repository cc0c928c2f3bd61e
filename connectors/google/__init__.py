"""Google connectors: Gmail, Google Sheets and Google Calendar.

All three share one connection kind, :class:`GoogleConnection` (an OAuth user or a service
account), and the plumbing in :mod:`.client`. The connectors themselves live in :mod:`.gmail`,
:mod:`.sheets` and :mod:`.calendar`; how accounts connect with OAuth in :mod:`.oauth`.

Importing this package or a connector module does not import google-api-python-client: that
happens on the first action run.
"""

from __future__ import annotations

from maillon.connectors.google.connection import AuthMode, GoogleConnection

__all__ = ["AuthMode", "GoogleConnection"]
