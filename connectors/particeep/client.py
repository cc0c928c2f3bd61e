"""A small typed client for the parts of Particeep's API that Maillon uses.

Async (``httpx.AsyncClient``) because every caller already runs on an event loop or can start
one cheaply: the engine awaits async actions directly (no worker thread held while Particeep
answers), the web layer's handlers are async, and a CLI command wraps one call in
``asyncio.run``. A sync twin would double the surface for no caller that needs it.

Failures are raised as the connector SDK's errors, so the engine's retry policy applies as is:

- network failure, timeout, 408, 429, 5xx → :class:`~maillon.connectors.sdk.TransientError`
  (``retry_after`` from ``Retry-After`` when Particeep sends one);
- 401, 403 → :class:`ParticeepAuthError` ("Particeep refused the API keys");
- 404 → :class:`~maillon.connectors.sdk.PermanentError` (unknown user, transaction, webhook);
- any other 4xx → :class:`~maillon.connectors.sdk.PermanentError` carrying Particeep's own
  message.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from maillon.connectors.particeep.connection import ParticeepConnection
from maillon.connectors.particeep.models import Transaction, User, Webhook
from maillon.connectors.particeep.signing import PTPAuth
from maillon.connectors.sdk import PermanentError, TransientError, parse_retry_after

__all__ = [
    "ConnectionCheck",
    "ParticeepAuthError",
    "ParticeepClient",
    "error_message",
]

_USER_AGENT = "Maillon-Particeep/0.1"
_M = TypeVar("_M", Webhook, User, Transaction)
#: Statuses that say "try again later" rather than "this request is wrong".
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class ParticeepAuthError(PermanentError):
    """Particeep refused the API key pair (401 or 403)."""


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of :meth:`ParticeepClient.check_connection`, ready to show to a person."""

    outcome: Literal["ok", "bad_keys", "unreachable", "error"]
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def error_message(response: httpx.Response) -> tuple[str, str | None]:
    """Particeep's own words for a failed call, and its technical code when it gave one.

    Particeep's SDKs parse errors as ``{"hasError": true, "errors": [{"technicalCode": ...,
    "message": ...}]}``; anything else (a proxy's HTML page, a bare string) is shown as text so
    that the person reading the error still sees what came back.
    """
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:300]
        return text or response.reason_phrase or f"HTTP {response.status_code}", None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            messages = [
                str(e.get("message") or e.get("technicalCode") or e)
                if isinstance(e, dict)
                else str(e)
                for e in errors
            ]
            first = errors[0]
            code = first.get("technicalCode") if isinstance(first, dict) else None
            return "; ".join(messages), (str(code) if code else None)
        for key in ("message", "error"):
            if isinstance(body.get(key), str):
                return body[key], None
    return str(body)[:300], None


class ParticeepClient:
    """Calls Particeep's API with PTP-signed requests. Use it as an async context manager.

    ``transport`` is the seam for exotic setups (a custom proxy, a test transport); the tests of
    this package use real sockets against a local fake API instead.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str | SecretStr,
        *,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=PTPAuth(api_key, api_secret),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": _USER_AGENT},
        )

    @classmethod
    def from_connection(
        cls, conn: ParticeepConnection, *, timeout: float | None = None
    ) -> ParticeepClient:
        """A client for a stored connection; ``timeout`` overrides the connection's."""
        return cls(
            conn.api_base_url,
            conn.api_key,
            conn.api_secret,
            timeout=timeout if timeout is not None else conn.timeout,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- the calls ---------------------------------------------------------------------------

    async def check_connection(self) -> ConnectionCheck:
        """Make one authenticated call and say, in words, whether the keys work.

        ``GET /ping`` is not used: it is unauthenticated, so it would call bad keys "ok".
        """
        try:
            webhooks = await self.list_webhooks()
        except ParticeepAuthError as exc:
            # Keys of the test platform used against production (or back) is the usual cause.
            return ConnectionCheck(
                "bad_keys",
                f"{exc.message}: check the key pair, and that it was issued for {self.base_url}",
            )
        except TransientError as exc:
            outcome: Literal["unreachable", "error"] = (
                "unreachable" if "status" not in exc.details else "error"
            )
            return ConnectionCheck(outcome, exc.message)
        except PermanentError as exc:
            return ConnectionCheck("error", exc.message)
        return ConnectionCheck(
            "ok", f"Connected to Particeep ({len(webhooks)} webhook(s) registered)."
        )

    async def list_webhooks(self) -> list[Webhook]:
        """Every webhook registered on the account (``GET /webhook/all``)."""
        body = await self._call("GET", "/webhook/all", action="to list the webhooks")
        # A bare list is what the fake answers; a paginated {"data": [...]} envelope, as other
        # Particeep list routes use, is accepted too since the exact shape is not documented.
        items = body.get("data", []) if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise PermanentError(f"Particeep answered the webhook list with {type(body).__name__}")
        return [self._parse(Webhook, item, "webhook") for item in items]

    async def create_webhook(self, name: str, url: str) -> Webhook:
        """Register ``url`` for the event ``name`` (``PUT /webhook``)."""
        body = await self._call(
            "PUT",
            "/webhook",
            json={"name": name, "url": url},
            action=f"to register a webhook for {name}",
        )
        return self._parse(Webhook, body, "webhook")

    async def edit_webhook(self, webhook_id: str, name: str, url: str) -> Webhook:
        """Change a webhook's event or URL (``POST /webhook/{id}``)."""
        body = await self._call(
            "POST",
            f"/webhook/{_segment(webhook_id)}",
            json={"name": name, "url": url},
            action=f"to edit webhook {webhook_id}",
            missing=f"Particeep has no webhook {webhook_id}",
        )
        return self._parse(Webhook, body, "webhook")

    async def delete_webhook(self, webhook_id: str) -> None:
        """Remove a webhook (``DELETE /webhook/{id}``)."""
        await self._call(
            "DELETE",
            f"/webhook/{_segment(webhook_id)}",
            action=f"to delete webhook {webhook_id}",
            missing=f"Particeep has no webhook {webhook_id}",
        )

    async def get_user(self, user_id: str) -> User:
        """One user (``GET /user/{id}``)."""
        body = await self._call(
            "GET",
            f"/user/{_segment(user_id)}",
            action=f"to read user {user_id}",
            missing=f"Particeep has no user {user_id}",
        )
        return self._parse(User, body, "user")

    async def update_user(self, user_id: str, fields: dict[str, Any]) -> User:
        """Change some of a user's fields (``POST /user/{id}``: Particeep edits with POST)."""
        body = await self._call(
            "POST",
            f"/user/{_segment(user_id)}",
            json=fields,
            action=f"to update user {user_id}",
            missing=f"Particeep has no user {user_id}",
        )
        return self._parse(User, body, "user")

    async def get_transaction(self, transaction_id: str) -> Transaction:
        """One transaction (``GET /transaction/{id}``)."""
        body = await self._call(
            "GET",
            f"/transaction/{_segment(transaction_id)}",
            action=f"to read transaction {transaction_id}",
            missing=f"Particeep has no transaction {transaction_id}",
        )
        return self._parse(Transaction, body, "transaction")

    # -- plumbing ----------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        missing: str | None = None,
    ) -> Any:
        """Send one request; return its decoded JSON body (``None`` when empty) or raise."""
        try:
            response = await self._http.request(method, path, json=json)
        except httpx.UnsupportedProtocol as exc:
            raise PermanentError(f"Particeep's base URL is not usable: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"Particeep did not answer in time ({method} {path})",
                details={"error": type(exc).__name__},
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                f"Particeep is unreachable at {self.base_url}: {str(exc) or type(exc).__name__}",
                details={"error": type(exc).__name__},
            ) from exc

        status = response.status_code
        if 200 <= status < 300:  # a redirect is no answer: said below as a refusal
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise PermanentError(
                    f"Particeep answered {method} {path} with a body that is not JSON"
                ) from exc

        message, code = error_message(response)
        details: dict[str, object] = {"status": status, "particeep_message": message}
        if code:
            details["technical_code"] = code
        if status in _TRANSIENT_STATUSES or status >= 500:
            raise TransientError(
                f"Particeep is busy or failing (HTTP {status}): {message}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                details=details,
            )
        if status in (401, 403):
            # Particeep's own text adds nothing a person can act on; the keys are the cause.
            raise ParticeepAuthError("Particeep refused the API keys", details=details)
        if status == 404:
            raise PermanentError(
                missing or f"Particeep found nothing at {method} {path}", details=details
            )
        raise PermanentError(f"Particeep refused {action}: {message}", details=details)

    @staticmethod
    def _parse(model: type[_M], body: Any, what: str) -> _M:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise PermanentError(
                f"Particeep sent a {what} that Maillon cannot read: {exc}"
            ) from exc


def _segment(value: str) -> str:
    """Quote an id for use as one path segment, so that an odd id cannot change the route."""
    return quote(value, safe="")
