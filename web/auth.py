"""Authentication: every route needs a bearer token unless its handler is marked public.

Public routes are the hook endpoints (their URL carries an unguessable secret), the OAuth
callback and the health check. Marking public handlers, rather than listing protected ones, makes
forgetting safe: a new route is protected by default.

The check is an app-wide middleware that public handlers opt out of, not a guard: Litestar calls
every guard with a fresh copy of the route handler, a cost paid on every request, public ones
included, even when the guard returns at once.
"""

from __future__ import annotations

import time

import anyio
from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from maillon.engine.store import Store

__all__ = ["PUBLIC", "RequireToken", "TokenCache"]

_PUBLIC_KEY = "public"
#: ``opt`` of a route handler that needs no token.
PUBLIC = {_PUBLIC_KEY: True}


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


class RequireToken(ASGIMiddleware):
    """A valid ``Authorization: Bearer <token>`` on every route not marked :data:`PUBLIC`."""

    exclude_opt_key = _PUBLIC_KEY

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        header = Headers.from_scope(scope).get("authorization", "")
        scheme, _, token = header.partition(" ")
        # The scheme is no secret: a plain comparison (compare_digest raises on non-ASCII text).
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(
                "an API token is required: Authorization: Bearer <token> (maillon tokens create)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        cache: TokenCache = scope["litestar_app"].state.tokens
        # A cache miss queries the database: off the event loop.
        if not await anyio.to_thread.run_sync(cache.valid, token.strip()):
            raise NotAuthorizedException(
                "invalid API token", headers={"WWW-Authenticate": "Bearer"}
            )
        await next_app(scope, receive, send)
