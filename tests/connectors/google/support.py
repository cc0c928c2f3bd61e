"""Helpers of the Google connector tests."""

from __future__ import annotations

import base64
import json

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
