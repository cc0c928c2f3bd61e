"""Addresses of Maillon's own pages, for what leaves Maillon: alerts and failure events.

Built from the install's public base URL (``MAILLON_PUBLIC_URL``), the one hook URLs are built
from, so that a link in an e-mail opens the page that the browser of its reader can reach.
"""

from __future__ import annotations

__all__ = ["flow_url", "run_url"]


def run_url(base_url: str, run_id: str) -> str:
    """A run's page."""
    return f"{base_url.rstrip('/')}/runs/{run_id}"


def flow_url(base_url: str, flow_id: str) -> str:
    """A flow's page (its editor, where it is switched on again)."""
    return f"{base_url.rstrip('/')}/flows/{flow_id}"
