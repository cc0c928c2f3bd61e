"""Dropbox: upload files, create folders and shared links.

Dropbox's HTTP API is called through httpx rather than Dropbox's Python SDK: the SDK reads its
hosts from process-wide environment variables when it is imported and always calls them over
https with its own pinned certificates, so one connection cannot be pointed at another host (a
proxy, or a local fake in tests); and it retries and sleeps by itself, where Maillon's engine
owns retries. The API itself is small and documented: JSON in and out, files as the body.
"""

from __future__ import annotations

from maillon.connectors.dropbox._api import check_connection
from maillon.connectors.dropbox.actions import CreateFolder, CreateSharedLink, UploadFile
from maillon.connectors.dropbox.connection import DROPBOX_OAUTH, DropboxConnection
from maillon.connectors.dropbox.french import FRENCH
from maillon.connectors.sdk import Connector, aclose_fetch_clients

__all__ = ["DropboxConnection", "connector"]

connector = Connector(
    key="dropbox",
    title="Dropbox",
    description="Upload files, create folders and share links in Dropbox.",
    actions=(UploadFile, CreateFolder, CreateSharedLink),
    connection=DropboxConnection,
    check=check_connection,
    oauth=DROPBOX_OAUTH,
    close=aclose_fetch_clients,
    translations={"fr": FRENCH},
)
