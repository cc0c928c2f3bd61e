"""Google's "test connection": a fresh access token from a fake token endpoint, and whose."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from maillon.connectors.google import GoogleConnection
from maillon.connectors.google.gmail import connector
from maillon.connectors.sdk import ConnectionCheck, PermanentError, TransientError
from maillon.connectors.testing import FakeServer, Recorded
from tests.connectors.google.support import (
    TOKEN_PATH,
    id_token,
    service_account_conn,
    token_forms,
)


def check(conn: GoogleConnection) -> ConnectionCheck:
    assert connector.check is not None
    return asyncio.run(connector.check(conn))


def test_an_oauth_account_is_named_by_the_id_token_of_the_refresh(
    google: FakeServer, conn: GoogleConnection
) -> None:
    token = id_token({"email": "ops@example.com", "sub": "1"})
    google.on(
        "POST", TOKEN_PATH, (200, {"access_token": "fresh", "expires_in": 3600, "id_token": token})
    )

    result = check(conn)

    assert result == ConnectionCheck(
        ok=True,
        message="Google issued an access token for account ops@example.com from the refresh token.",
    )
    [form] = token_forms(google)
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "r1"


def test_without_an_id_token_the_stored_address_is_shown(
    google: FakeServer, conn: GoogleConnection
) -> None:
    assert "account ada@example.com" in check(conn).message


def test_a_revoked_refresh_token_asks_to_reconnect(
    google: FakeServer, conn: GoogleConnection
) -> None:
    google.on("POST", TOKEN_PATH, (400, {"error": "invalid_grant", "error_description": "Bad"}))
    with pytest.raises(PermanentError, match="reconnect this Google account"):
        check(conn)


def test_an_unreachable_token_endpoint_is_transient(fake_server: FakeServer) -> None:
    url = fake_server.url
    fake_server.stop()
    conn = GoogleConnection(
        client_id="cid", client_secret="cs", refresh_token="r1", token_uri=url + "token"
    )
    with pytest.raises(TransientError, match="could not reach Google's token endpoint"):
        check(conn)


def _scope(request: Recorded) -> str:
    payload = request.form()["assertion"][0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["scope"])


def test_a_service_account_says_which_apps_delegation_grants(
    google: FakeServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    def token(request: Recorded) -> tuple[int, object]:
        if _scope(request).endswith("/calendar.events"):
            return 401, {"error": "unauthorized_client", "error_description": "Not delegated"}
        return 200, {"access_token": "fresh", "expires_in": 3600}

    google.on("POST", TOKEN_PATH, token)

    result = check(service_account_conn(google, rsa_key))

    assert result.ok
    assert result.message.startswith(
        "Google issued tokens to robot@maillon-test.iam.gserviceaccount.com acting as "
        "ada@example.com for Gmail, Sheets, Drive. Refused for Calendar (Google refused the "
        "service account's token request (unauthorized_client"
    )
    assert result.message.endswith("steps using those apps will fail.")
    assert len(google.received("POST", TOKEN_PATH)) == 4


def test_a_service_account_refused_everywhere_fails(
    google: FakeServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    google.on("POST", TOKEN_PATH, (401, {"error": "unauthorized_client"}))
    result = check(service_account_conn(google, rsa_key))
    assert not result.ok
    assert result.message.startswith("Google refused every token request of robot@")
