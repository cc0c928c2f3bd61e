"""The HTTP connection's "test connection": a GET of its test URL with its credentials."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from maillon.connectors.http import HttpConnection, connector
from maillon.connectors.sdk import ConnectionCheck, PermanentError
from maillon.connectors.testing import FakeServer


def check(conn: HttpConnection) -> ConnectionCheck:
    assert connector.check is not None
    return asyncio.run(connector.check(conn))


def test_the_test_url_is_fetched_with_the_credentials(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v1/me", (200, {"id": "me"}))
    conn = HttpConnection(
        base_url=fake_server.url + "v1/", test_url="me", bearer_token=SecretStr("t0k")
    )

    result = check(conn)

    assert result.ok
    assert result.message.startswith(f"GET {fake_server.url}v1/me answered 200 in ")
    [request] = fake_server.received("GET", "/v1/me")
    assert request.headers["authorization"] == "Bearer t0k"


def test_the_base_url_is_the_default(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/api/", (204, b""))
    assert check(HttpConnection(base_url=fake_server.url + "api/")).ok


def test_refused_credentials_fail(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/me", (401, {"error": "bad token"}))
    conn = HttpConnection(test_url=fake_server.url + "me", api_key=SecretStr("k"))
    with pytest.raises(PermanentError, match="401"):
        check(conn)
    assert fake_server.received("GET", "/me")[0].headers["x-api-key"] == "k"


def test_without_a_url_there_is_nothing_to_test() -> None:
    result = check(HttpConnection())
    assert result.ok is None and result.message.startswith("The connection has no test_url")
