"""Fixtures of the Google connector tests: a fake Google (token endpoint + APIs) on one port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from maillon.connectors.google import GoogleConnection
from maillon.connectors.google.client import _credentials, session
from maillon.connectors.google.sheets import header_cache
from maillon.connectors.testing import FakeServer
from tests.connectors.google.support import TOKEN_PATH


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Each test's fake server has its own port, hence its own connection and cache keys; clearing
    # keeps one test's cached tokens from ever standing in for another's.
    yield
    session.cache_clear()
    _credentials.cache_clear()
    header_cache.clear()


@pytest.fixture
def google(fake_server: FakeServer) -> FakeServer:
    """The fake server, answering token refreshes with the access token ``fresh``."""
    fake_server.on("POST", TOKEN_PATH, (200, {"access_token": "fresh", "expires_in": 3600}))
    return fake_server


@pytest.fixture
def conn(google: FakeServer) -> GoogleConnection:
    """An OAuth user connection whose token endpoint and APIs are the fake server."""
    return GoogleConnection(
        client_id="cid",
        client_secret=SecretStr("cs"),
        refresh_token=SecretStr("r1"),
        account_email="ada@example.com",
        token_uri=google.url + "token",
        api_endpoint=google.url,
    )


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """A throwaway key for a fake service account."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
