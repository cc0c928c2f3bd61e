"""Calls to Dropbox's HTTP API (v2) over httpx, every failure classified.

Dropbox has two kinds of endpoints: RPC ones on the API host (a JSON body in, JSON out) and
content-upload ones on the content host (the bytes as the body, the JSON argument in the
``Dropbox-API-Arg`` header). Its refusals, by status:

- 400: a malformed request, explained in plain text;
- 401: the token (``invalid_access_token``, ``expired_access_token``, ``missing_scope``);
- 409: the route's own error, as ``error_summary`` (``path/conflict/folder/..``), raised as
  :class:`DropboxRouteError` so that an action can handle the ones it expects;
- 429 and 503: rate limits, with ``Retry-After``; other 5xx: Dropbox failing.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from maillon.connectors.dropbox.connection import DropboxConnection
from maillon.connectors.rest import USER_AGENT, refusal, send
from maillon.connectors.sdk import ConnectionCheck, ConnectorError, PermanentError

if TYPE_CHECKING:
    import httpx

__all__ = ["DropboxApi", "DropboxRouteError", "check_connection"]

#: What to do about the route errors people meet most.
_HINTS = {
    "path/not_found": "no file or folder at that path",
    "path/conflict": "something exists at that path already",
    "path/insufficient_space": "the Dropbox account is full",
    "path/malformed_path": "the path is not valid (it must start with /)",
    "path/no_write_permission": "the account may not write there",
    "path/disallowed_name": "Dropbox does not allow that file name",
    "shared_link_access_denied": "the account may not share this file",
    "email_not_verified": "the account's email address must be verified to share links",
    "settings_error": "the link settings are not allowed on this account (expiring and team "
    "links need a paid plan)",
}


class DropboxRouteError(PermanentError):
    """An error a route documents (HTTP 409); :attr:`summary` is Dropbox's ``error_summary``."""

    def __init__(self, message: str, *, summary: str, error: Any) -> None:
        super().__init__(message, details={"status": 409, "error_summary": summary})
        self.summary = summary
        #: The structured ``error`` object of the answer.
        self.error = error


def _arg_header(arg: Any) -> str:
    # Header values must be ASCII: Dropbox wants non-ASCII characters (and DEL) escaped as JSON
    # \u sequences, which ensure_ascii does for all but DEL.
    return json.dumps(arg, ensure_ascii=True, separators=(",", ":")).replace("\x7f", "\\u007f")


class DropboxApi:
    """The calls of one connection, on one pooled httpx client; an async context manager."""

    def __init__(self, conn: DropboxConnection, *, timeout: float) -> None:
        import httpx

        if conn.access_token is None:
            raise PermanentError(
                "the Dropbox connection has no access token: connect the account again"
            )
        self._conn = conn
        self._http = httpx.AsyncClient(
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {conn.access_token.get_secret_value()}",
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

    async def rpc(self, route: str, arg: Any = None) -> Any:
        """Call an RPC route (``files/create_folder_v2``) with ``arg`` as its JSON body."""
        url = self._conn.api_url + route
        if arg is None:
            # A route without arguments takes no body at all, and no Content-Type.
            response = await send(self._http, "POST", url, app="Dropbox")
        else:
            response = await send(self._http, "POST", url, app="Dropbox", json=arg)
        return self._answer(response)

    async def upload(self, route: str, arg: Any, content: bytes) -> Any:
        """Call a content-upload route (``files/upload``) with ``content`` as the body."""
        headers = {"Dropbox-API-Arg": _arg_header(arg), "Content-Type": "application/octet-stream"}
        response = await send(
            self._http,
            "POST",
            self._conn.content_url + route,
            app="Dropbox",
            headers=headers,
            content=content,
        )
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> Any:
        if response.status_code == 200:
            try:
                return response.json() if response.content else None
            except ValueError as exc:
                raise PermanentError("Dropbox answered with a body that is not JSON") from exc
        raise _refusal(response)


def _refusal(response: httpx.Response) -> ConnectorError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:300] or response.reason_phrase
        return refusal(response, app="Dropbox", message=text, auth_hint=_AUTH_HINT)
    summary = str(body.get("error_summary") or "").rstrip("/.")
    error = body.get("error")
    if response.status_code == 409:
        hint = next((h for prefix, h in _HINTS.items() if summary.startswith(prefix)), None)
        said = f"{summary} ({hint})" if hint else summary
        return DropboxRouteError(f"Dropbox refused: {said}", summary=summary, error=error)
    tag = error.get(".tag") if isinstance(error, dict) else None
    hint = _AUTH_HINT
    if tag == "missing_scope":
        scope = error.get("required_scope") if isinstance(error, dict) else None
        hint = (
            f"give the Dropbox app the {scope or 'missing'} permission (App Console → "
            "Permissions), then connect the account again"
        )
    details: dict[str, object] = {"error_summary": summary}
    # A rate limit's body says how long to wait too, should a proxy drop the header.
    wait = error.get("retry_after") if isinstance(error, dict) else None
    return refusal(
        response,
        app="Dropbox",
        message=summary or str(tag),
        auth_hint=hint,
        details=details,
        retry_after=float(wait) if isinstance(wait, int | float) else None,
    )


_AUTH_HINT = "reconnect this Dropbox account (or paste a new access token)"


async def check_connection(conn: DropboxConnection) -> ConnectionCheck:
    """Ask Dropbox whose account the token opens."""
    async with DropboxApi(conn, timeout=20.0) as api:
        account = await api.rpc("users/get_current_account")
    name = (account.get("name") or {}).get("display_name") if isinstance(account, dict) else None
    email = account.get("email") if isinstance(account, dict) else None
    return ConnectionCheck(
        ok=True, message=f"Connected to Dropbox as {name or 'an unnamed user'} ({email or '?'})."
    )
