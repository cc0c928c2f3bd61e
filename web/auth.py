"""Authentication: every route needs a bearer token unless its handler is marked public.

Public routes are the hook endpoints (their URL carries an unguessable secret) and the health
check. Marking public handlers, rather than listing protected ones, makes forgetting safe: a new
route is protected by default.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from engine.store import Store

__all__ = ["TokenCache", "require_token"]

PUBLIC = {"public": True}


class TokenCache:
    """Remembers recently verified tokens for a few seconds to spare a query per API call.

    A revoked token therefore keeps working for at most ``ttl`` seconds.
    """

    def __init__(self, store: Store, ttl: float = 5.0) -> None:
        self._store = store
        self._ttl = ttl
        self._ok: dict[str, float] = {}

    def valid(self, token: str) -> bool:
        now = time.monotonic()
        expiry = self._ok.get(token)
        if expiry is not None and expiry > now:
            return True
        if self._store.check_token(token) is None:
            return False
        if len(self._ok) > 10_000:
            self._ok.clear()
        self._ok[token] = now + self._ttl
        return True


def require_token(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Litestar guard: a valid ``Authorization: Bearer <token>`` unless the route is public."""
    if handler.opt.get("public"):
        return
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not hmac.compare_digest(scheme.lower(), "bearer") or not token:
        raise NotAuthorizedException(
            "an API token is required: Authorization: Bearer <token> (maillon tokens create)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache: TokenCache = connection.app.state.tokens
    if not cache.valid(token.strip()):
        raise NotAuthorizedException("invalid API token", headers={"WWW-Authenticate": "Bearer"})
