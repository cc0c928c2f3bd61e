"""Authentication: every route needs a bearer token unless its handler is marked public.

Public routes are the hook endpoints (their URL carries an unguessable secret), the OAuth
callback and the health check. Marking public handlers, rather than listing protected ones, makes
forgetting safe: a new route is protected by default.

The check is an app-wide middleware that public handlers opt out of, not a guard: Litestar calls
every guard with a fresh copy of the route handler, a cost paid on every request, public ones
included, even when the guard returns at once.
"""

from __future__ import annotations

from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from maillon.engine.runtime import Runtime

__all__ = ["PUBLIC", "RequireToken"]

_PUBLIC_KEY = "public"
#: ``opt`` of a route handler that needs no token.
PUBLIC = {_PUBLIC_KEY: True}


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
        runtime: Runtime = scope["litestar_app"].state.runtime
        if not await runtime.services.tokens.check(token.strip()):
            raise NotAuthorizedException(
                "invalid API token", headers={"WWW-Authenticate": "Bearer"}
            )
        await next_app(scope, receive, send)
