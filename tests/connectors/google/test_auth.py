"""The consent flow, token refresh and service accounts, against a fake token endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from maillon.connectors.google import GoogleConnection, oauth
from maillon.connectors.google.client import GMAIL, SHEETS, session
from maillon.connectors.google.connection import DEFAULT_AUTHORIZE_URL
from maillon.connectors.google.gmail import SendEmail
from maillon.connectors.google.oauth import GOOGLE_OAUTH
from maillon.connectors.google.sheets import AppendRow
from maillon.connectors.sdk import PermanentError, TokenSet
from maillon.connectors.testing import FakeServer
from maillon.engine.oauth import authorization_url
from tests.connectors.google.support import (
    GMAIL_SEND,
    TOKEN_PATH,
    ctx,
    google_error,
    id_token,
    service_account_conn,
    token_forms,
)

MAIL = SendEmail.Input(to="ada@example.com", subject="Hi", text="hi")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- the consent flow ---------------------------------------------------------------------------


def test_consent_asks_for_offline_access_and_every_google_scope() -> None:
    url = authorization_url(
        GOOGLE_OAUTH,
        GOOGLE_OAUTH.authorize_url,
        client_id="cid",
        redirect_uri="https://maillon.example.com/oauth/google/callback",
        state="st4te",
        verifier="v" * 50,
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == DEFAULT_AUTHORIZE_URL
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    challenge = b64url(hashlib.sha256(b"v" * 50).digest())
    assert query == {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "https://maillon.example.com/oauth/google/callback",
        "scope": "openid email https://www.googleapis.com/auth/gmail.send "
        "https://www.googleapis.com/auth/spreadsheets "
        "https://www.googleapis.com/auth/calendar.events "
        "https://www.googleapis.com/auth/drive",
        "state": "st4te",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    # google-auth refreshes access tokens in the actions: the engine leaves them alone.
    assert not GOOGLE_OAUTH.engine_refreshes


def test_scopes_cover_every_google_connector_by_default() -> None:
    assert oauth.scopes_for(identity=False) == [
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/spreadsheets",
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/drive",
    ]
    with pytest.raises(ValueError, match="not a Google connector"):
        oauth.scopes_for(["slack"])


def test_granted_tokens_become_the_refresh_token_and_the_account_email() -> None:
    granted = TokenSet(
        access_token="at-1",
        refresh_token="rt-1",
        raw={"id_token": id_token({"email": "ada@example.com", "sub": "1"})},
    )
    # The short-lived access token is not stored.
    assert GOOGLE_OAUTH.to_connection(granted) == {
        "refresh_token": "rt-1",
        "account_email": "ada@example.com",
    }
    assert GOOGLE_OAUTH.to_connection(TokenSet(access_token="a", refresh_token="r")) == {
        "refresh_token": "r"
    }
    assert oauth.email_from_id_token("not-a-jwt") is None


def test_connected_account_refreshes_its_token_and_keeps_it_in_memory(google: FakeServer) -> None:
    conn = GoogleConnection(
        client_id="cid",
        client_secret=SecretStr("cs"),
        refresh_token=SecretStr("rt-1"),
        token_uri=google.url + "token",
        api_endpoint=google.url,
    )
    google.on("POST", TOKEN_PATH, (200, {"access_token": "fresh", "expires_in": 3600}))
    google.on("POST", GMAIL_SEND, (200, {"id": "m1", "threadId": "t1"}))

    SendEmail().run(ctx("r1:a"), conn, MAIL)
    SendEmail().run(ctx("r1:b"), conn, MAIL)

    assert token_forms(google) == [
        {
            "grant_type": "refresh_token",
            "refresh_token": "rt-1",
            "client_id": "cid",
            "client_secret": "cs",
        }
    ]
    sends = google.received("POST", GMAIL_SEND)
    assert [r.headers["authorization"] for r in sends] == ["Bearer fresh", "Bearer fresh"]


def test_stale_access_token_is_refreshed_after_a_401_and_the_call_replayed(
    google: FakeServer, conn: GoogleConnection
) -> None:
    stale = conn.model_copy(update={"access_token": SecretStr("stale")})
    google.on(
        "POST",
        GMAIL_SEND,
        (401, google_error(401, "Invalid Credentials", "authError", "UNAUTHENTICATED")),
        (200, {"id": "m1", "threadId": "t1"}),
    )

    out = SendEmail().run(ctx(), stale, MAIL)

    assert out.message_id == "m1"
    sends = google.received("POST", GMAIL_SEND)
    assert [r.headers["authorization"] for r in sends] == ["Bearer stale", "Bearer fresh"]
    assert len(token_forms(google)) == 1


def test_revoked_refresh_token_asks_to_reconnect(
    google: FakeServer, conn: GoogleConnection
) -> None:
    google.on(
        "POST",
        TOKEN_PATH,
        (
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        ),
    )

    with pytest.raises(PermanentError, match="reconnect this Google account") as caught:
        SendEmail().run(ctx(), conn, MAIL)

    assert "Token has been expired or revoked" in caught.value.message
    assert google.received("POST", GMAIL_SEND) == []


def test_credentials_rejected_even_after_refresh_is_permanent(
    google: FakeServer, conn: GoogleConnection
) -> None:
    google.on("POST", GMAIL_SEND, (401, google_error(401, "Invalid Credentials", "authError")))

    with pytest.raises(PermanentError, match="reconnect this Google account") as caught:
        SendEmail().run(ctx(), conn, MAIL)

    assert caught.value.details["status"] == 401


def test_sessions_are_cached_and_oauth_credentials_shared_between_apis(
    conn: GoogleConnection,
) -> None:
    gmail = session(conn, GMAIL)
    assert session(conn, GMAIL) is gmail
    sheets = session(conn, SHEETS)
    assert sheets is not gmail
    assert sheets.credentials is gmail.credentials


# --- service accounts ---------------------------------------------------------------------------


def test_service_account_exchanges_a_signed_jwt_for_a_token(
    google: FakeServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    conn = service_account_conn(google, rsa_key)
    append = "/v4/spreadsheets/SID/values/%27Sheet1%27%21A1:append"
    google.on(
        "POST", append, (200, {"updates": {"updatedRange": "Sheet1!A2:B2", "updatedRows": 1}})
    )

    AppendRow().run(ctx(), conn, AppendRow.Input(spreadsheet="SID", sheet="Sheet1", values=[1, 2]))

    (form,) = token_forms(google)
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, payload, signature = form["assertion"].split(".")
    rsa_key.public_key().verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{header}.{payload}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "robot@maillon-test.iam.gserviceaccount.com"
    assert claims["sub"] == "ada@example.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/spreadsheets"
    assert claims["aud"] == "https://oauth2.googleapis.com/token"
    assert google.received("POST", append)[0].headers["authorization"] == "Bearer fresh"


def test_service_account_without_delegation_is_permanent(
    google: FakeServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    conn = service_account_conn(google, rsa_key)
    google.on(
        "POST",
        TOKEN_PATH,
        (401, {"error": "unauthorized_client", "error_description": "Client is unauthorized"}),
    )

    with pytest.raises(PermanentError, match="domain-wide delegation"):
        SendEmail().run(ctx(), conn, MAIL)


def test_gmail_through_a_service_account_sends_as_the_impersonated_user(
    google: FakeServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    conn = service_account_conn(google, rsa_key)
    google.on("POST", GMAIL_SEND, (200, {"id": "m1", "threadId": "t1"}))

    SendEmail().run(ctx(), conn, MAIL)

    raw = base64.urlsafe_b64decode(google.received("POST", GMAIL_SEND)[0].json()["raw"])
    assert b"From: ada@example.com\r\n" in raw
    (form,) = token_forms(google)
    claims = form["assertion"].split(".")[1]
    scope = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["scope"]
    assert scope == "https://www.googleapis.com/auth/gmail.send"
