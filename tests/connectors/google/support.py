"""Helpers of the Google connector tests."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from maillon.connectors.google import GoogleConnection
from maillon.connectors.sdk import ActionContext
from maillon.connectors.testing import FakeServer

TOKEN_PATH = "/token"
GMAIL_SEND = "/gmail/v1/users/me/messages/send"


def ctx(key: str = "r1:s1", timeout: float = 5) -> ActionContext:
    """The context of a first attempt."""
    return ActionContext(idempotency_key=key, attempt=1, timeout=timeout)


def google_error(status: int, message: str, reason: str, status_name: str = "") -> object:
    """An error body shaped like Google's."""
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": status_name,
        }
    }


def token_forms(server: FakeServer) -> list[dict[str, str]]:
    """The forms posted to the token endpoint, one value per field."""
    return [{k: v[0] for k, v in r.form().items()} for r in server.received("POST", TOKEN_PATH)]


def id_token(claims: dict[str, object]) -> str:
    """An ID token as a token endpoint answers it: the claims are read, the signature is not."""

    def part(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def service_account_conn(server: FakeServer, key: rsa.RSAPrivateKey) -> GoogleConnection:
    """A service account acting as ada@example.com, its token endpoint and APIs on ``server``."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "maillon-test",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "robot@maillon-test.iam.gserviceaccount.com",
        "client_id": "123",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return GoogleConnection(
        service_account_json=SecretStr(json.dumps(info)),
        subject="ada@example.com",
        token_uri=server.url + "token",
        api_endpoint=server.url,
    )
