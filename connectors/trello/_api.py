"""Calls to Trello's REST API (v1) over httpx, every failure classified.

The key and token go in an ``Authorization: OAuth oauth_consumer_key=…, oauth_token=…``
header, which Trello accepts in place of the ``key`` and ``token`` query parameters, so that
the token never appears in a URL (nor in logs of URLs). Trello words most refusals as plain
text (``invalid id``, ``invalid token``); rate limits come as 429 with a JSON body.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from maillon.connectors.rest import USER_AGENT, refusal, send
from maillon.connectors.sdk import ConnectionCheck, ConnectorError, PermanentError
from maillon.connectors.trello.connection import TrelloConnection

if TYPE_CHECKING:
    import httpx

__all__ = ["TrelloApi", "check_connection"]

_AUTH_HINT = "generate a new token for the API key and update the Trello connection"


class TrelloApi:
    """The calls of one connection, on one httpx client; an async context manager."""

    def __init__(self, conn: TrelloConnection, *, timeout: float) -> None:
        import httpx

        credentials = (
            f'OAuth oauth_consumer_key="{conn.api_key}", '
            f'oauth_token="{conn.token.get_secret_value()}"'
        )
        self._conn = conn
        self._http = httpx.AsyncClient(
            timeout=timeout,
            headers={
                "Authorization": credentials,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        """One call (``path`` relative to the API root); its JSON answer.

        ``what`` names what the call touches, for a 404's message ("the list 5f1…").
        """
        response = await send(self._http, method, self._conn.api_url + path, app="Trello", **kwargs)
        if response.status_code < 300:
            try:
                return response.json() if response.content else None
            except ValueError as exc:
                raise PermanentError("Trello answered with a body that is not JSON") from exc
        raise _refusal(response, what)


def _refusal(response: httpx.Response, what: str) -> ConnectorError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("error") or body)[:300]
    else:
        message = response.text.strip()[:300] or response.reason_phrase
    if response.status_code == 404 or (response.status_code == 400 and "invalid id" in message):
        message = f"{what} ({message}): check the ID, and that the token's member can see it"
    return refusal(response, app="Trello", message=message, auth_hint=_AUTH_HINT)


async def check_connection(conn: TrelloConnection) -> ConnectionCheck:
    """Ask Trello which member the token belongs to."""
    async with TrelloApi(conn, timeout=20.0) as api:
        me = await api.call(
            "GET", "members/me", what="the token's member", params={"fields": "username,fullName"}
        )
    name = me.get("fullName") or me.get("username") if isinstance(me, dict) else None
    return ConnectionCheck(ok=True, message=f"Connected to Trello as {name or '?'}.")
