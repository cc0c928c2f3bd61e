"""HTTP's "test connection": a GET of the connection's test URL (else its base URL) with its
credentials, sent by the ``send_request`` action itself, so that the test goes through the
same URL joining, headers, authentication and proxy rules as every step.

It runs in an event loop of its own, whose pooled session is closed at the end: the loop that
asks (a server's, whose workers share its sessions) keeps its pools untouched.
"""

from __future__ import annotations

import asyncio

from maillon.connectors.http._client import aclose_clients
from maillon.connectors.http.connection import HttpConnection
from maillon.connectors.http.send_request import SendRequest, SendRequestInput
from maillon.connectors.sdk import ActionContext, ConnectionCheck

__all__ = ["check_connection"]

#: Seconds the test request may take.
TIMEOUT = 15.0


async def check_connection(conn: HttpConnection) -> ConnectionCheck:
    """GET the test URL; a 2xx answer is a success, anything else raises a classified error."""
    url = conn.test_url or conn.base_url
    if url is None:
        return ConnectionCheck(
            ok=None,
            message="The connection has no test_url or base_url: set one to a URL that answers "
            "a GET with these credentials.",
        )
    return await asyncio.to_thread(asyncio.run, _get(conn, url))


async def _get(conn: HttpConnection, url: str) -> ConnectionCheck:
    ctx = ActionContext(idempotency_key="connection-test", attempt=1, timeout=TIMEOUT)
    try:
        answer = await SendRequest().run(ctx, conn, SendRequestInput(url=url, timeout=TIMEOUT))
    finally:
        await aclose_clients()
    # Without the query, which may carry an API key.
    shown = answer.url.split("?", 1)[0]
    return ConnectionCheck(
        ok=True, message=f"GET {shown} answered {answer.status} in {answer.elapsed_ms} ms."
    )
