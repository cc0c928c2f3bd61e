"""A fake Dropbox: its API and content hosts as two prefixes of one fake server."""

from __future__ import annotations

import pytest

from maillon.connectors.dropbox import DropboxConnection
from maillon.connectors.testing import FakeServer


@pytest.fixture
def conn(fake_server: FakeServer) -> DropboxConnection:
    """A connection with an access token, whose API and content URLs are the fake server."""
    return DropboxConnection.model_validate(
        {
            "access_token": "sl.at-1",
            "api_url": fake_server.url + "api/2",
            "content_url": fake_server.url + "content/2/",
        }
    )
