"""Calls to Mailchimp's Marketing API (3.0) over httpx, every failure classified.

Mailchimp answers errors as problem documents (``{"title", "status", "detail", "errors":
[{"field", "message"}]}``); their title and detail, and the fields named, make the message.
An API key goes as HTTP Basic (any user name), an OAuth token as a bearer token. An OAuth
account's data centre is asked of Mailchimp's metadata endpoint once per token and process.
"""

from __future__ import annotations

import hashlib
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from maillon.connectors.mailchimp.connection import MailchimpConnection
from maillon.connectors.rest import USER_AGENT, refusal, send
from maillon.connectors.sdk import ConnectionCheck, ConnectorError, PermanentError

if TYPE_CHECKING:
    import httpx

__all__ = ["MailchimpApi", "check_connection", "member_path", "subscriber_hash"]

_AUTH_HINT = "update the API key, or reconnect this Mailchimp account"
#: What to do about the refusals people meet most, by Mailchimp's title.
_HINTS = {
    "Member In Compliance State": "the person unsubscribed or was removed: only they can "
    "subscribe again, or add them as pending so that Mailchimp asks them to confirm",
    "Forgotten Email Not Subscribed": "the person asked Mailchimp to forget them: they can only "
    "subscribe again through a Mailchimp signup form",
    "Invalid Resource": "check the merge fields: their tags and required values are listed in "
    "the audience's settings",
}
#: Data centres of OAuth tokens, learnt once per process (a token's account never moves).
_data_centres: dict[str, str] = {}
_lock = threading.Lock()


def subscriber_hash(email: str) -> str:
    """Mailchimp's ID of an audience member: the MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def member_path(list_id: str, email: str) -> str:
    """The path of one member of one audience."""
    return f"lists/{quote(list_id, safe='')}/members/{subscriber_hash(email)}"


class MailchimpApi:
    """The calls of one connection, on one httpx client; an async context manager."""

    def __init__(self, conn: MailchimpConnection, *, timeout: float) -> None:
        import httpx

        self._conn = conn
        auth: httpx.Auth | None = None
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if conn.api_key is not None:
            auth = httpx.BasicAuth("maillon", conn.api_key.get_secret_value())
        elif conn.access_token is not None:
            headers["Authorization"] = f"Bearer {conn.access_token.get_secret_value()}"
        self._http = httpx.AsyncClient(timeout=timeout, headers=headers, auth=auth)
        self._base: str | None = conn.api_url

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
        """One call (``path`` relative to the API root); its JSON answer, ``None`` if empty.

        ``what`` names the thing called, for a 404's message ("the audience abc123 or its
        member ada@example.com").
        """
        url = await self._base_url() + path
        response = await send(self._http, method, url, app="Mailchimp", **kwargs)
        if response.status_code < 300:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise PermanentError("Mailchimp answered with a body that is not JSON") from exc
        raise _refusal(response, what)

    async def _base_url(self) -> str:
        if self._base is None:
            centre = self._conn.data_centre or await self._asked_data_centre()
            self._base = f"https://{centre}.api.mailchimp.com/3.0/"
        return self._base

    async def _asked_data_centre(self) -> str:
        assert self._conn.access_token is not None  # no data centre otherwise only with a token
        token = self._conn.access_token.get_secret_value()
        with _lock:
            known = _data_centres.get(token)
        if known:
            return known
        response = await send(
            self._http,
            "GET",
            self._conn.metadata_url,
            app="Mailchimp",
            headers={"Authorization": f"OAuth {token}"},
        )
        if response.status_code != 200:
            raise _refusal(response, "the account's metadata")
        try:
            centre = response.json().get("dc")
        except (ValueError, AttributeError):
            centre = None
        if not isinstance(centre, str) or not centre:
            raise PermanentError(
                "Mailchimp did not say the account's data centre: set it on the connection"
            )
        with _lock:
            _data_centres[token] = centre
        return centre


def _refusal(response: httpx.Response, what: str) -> ConnectorError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:300] or response.reason_phrase
        return refusal(response, app="Mailchimp", message=text, auth_hint=_AUTH_HINT)
    title = str(body.get("title") or "")
    detail = str(body.get("detail") or "")
    fields = [
        f"{e.get('field') or '?'}: {e.get('message')}"
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    message = ": ".join(p for p in (title, detail) if p) or f"HTTP {response.status_code}"
    if fields:
        message += " (" + "; ".join(fields) + ")"
    if response.status_code == 404:
        message = f"{what} ({message})"
    elif title in _HINTS:
        message += f"; {_HINTS[title]}"
    details: dict[str, object] = {"title": title}
    if fields:
        details["errors"] = fields
    return refusal(
        response, app="Mailchimp", message=message, auth_hint=_AUTH_HINT, details=details
    )


async def check_connection(conn: MailchimpConnection) -> ConnectionCheck:
    """Ask Mailchimp which account the credentials open."""
    async with MailchimpApi(conn, timeout=20.0) as api:
        root = await api.call(
            "GET", "", what="the API root", params={"fields": "account_name,email"}
        )
    name = root.get("account_name") if isinstance(root, dict) else None
    return ConnectionCheck(ok=True, message=f"Connected to Mailchimp account {name or '?'}.")
