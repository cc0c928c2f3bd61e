"""What the CRM connectors share: Salesforce, HubSpot, Pipedrive, Zoho CRM and Dynamics 365.

Each CRM has its own words (sObjects, objects, items, modules, tables) and its own wire, kept in
its package; what is the same for the five lives here once:

- the outputs of their actions (:class:`RecordOutput`, :class:`FoundRecords`,
  :class:`NoteOutput`), so that a flow reads ``steps.<key>.id`` whichever CRM it writes to;
- :class:`RestApi`, one app's JSON API called with httpx, whose failures become the SDK's
  errors by one rule: unreachable, 408, 429 and 5xx are transient (the app's wait honoured);
  401 is :class:`~maillon.connectors.sdk.AccessTokenRejected`; any other refusal is permanent,
  with the app's own field-level words, which each package reads from its error bodies
  (:class:`Problem`);
- small helpers: URL settings (:data:`Url`), "one record or none" for upserts done by a
  search, and a connection check that turns errors into words.

httpx is imported on first use, as for every connector: this module is imported with the
connectors' actions, which the catalog lists without calling any app.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, Field

from maillon.connectors.sdk import (
    AccessTokenRejected,
    ConnectionCheck,
    ConnectorError,
    PermanentError,
    TransientError,
    parse_retry_after,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "FIELDS_DESCRIPTION",
    "Answer",
    "FoundRecords",
    "NoteOutput",
    "OptionalUrl",
    "Problem",
    "RecordOutput",
    "RestApi",
    "Url",
    "check_with",
    "one_or_none",
    "refusal",
]

#: Help text of the "fields" input of create, update and upsert actions.
FIELDS_DESCRIPTION = (
    "Field values by their API name (as the CRM's settings show it), custom fields included."
)

#: Statuses that say "later" rather than "never", besides 5xx.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
#: How much of an unreadable error body goes into a message.
_SNIPPET = 300


class RecordOutput(BaseModel):
    """The record an action created, updated or upserted."""

    id: str = Field(
        title="Record ID",
        description="The CRM's ID of the record, for later steps (link a deal, add a note).",
    )
    created: bool = Field(
        title="Created",
        description="True when the step made a new record, false when it changed one.",
    )


class FoundRecords(BaseModel):
    """Records that matched a search, in the CRM's own field names."""

    records: list[dict[str, Any]] = Field(
        title="Records", description="Each record's fields, as the CRM returned them."
    )
    count: int = Field(title="Count", description="How many records are in the list.")
    first_id: str | None = Field(
        title="First record ID", description="The ID of the first record, or empty if none."
    )
    more: bool = Field(
        title="More records",
        description="True when more records matched than the limit let through.",
    )


class NoteOutput(BaseModel):
    """The note or activity added to a record."""

    id: str = Field(title="Note ID", description="The CRM's ID of the new note or activity.")


def _url(value: object) -> object:
    if value is None or value == "":
        return None  # an empty form field: the setting is unset
    if not isinstance(value, str):
        return value  # the field's type refuses it
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


#: A connection's http(s) URL setting, kept without its trailing slash (paths are appended).
Url = Annotated[str, BeforeValidator(_url)]
#: The same, optional: empty is unset.
OptionalUrl = Annotated[str | None, BeforeValidator(_url)]


def one_or_none(ids: Sequence[str], app: str, key: str, value: str) -> str | None:
    """The one record a key finds, ``None`` for none; several are refused, since updating one
    of them at random would be wrong."""
    if len(ids) > 1:
        raise PermanentError(
            f"{app} has {len(ids)} records with {key} = {value!r} (IDs {', '.join(ids[:5])}): "
            "merge them, or upsert by a key that is unique",
            details={"ids": list(ids[:20])},
        )
    return ids[0] if ids else None


async def check_with(call: Callable[[], Awaitable[str]]) -> ConnectionCheck:
    """Run a connection check's one call: its words on success, the error's on failure."""
    try:
        return ConnectionCheck(ok=True, message=await call())
    except ConnectorError as exc:
        return ConnectionCheck(ok=False, message=exc.message)


@dataclass(frozen=True)
class Answer:
    """An app's unsuccessful answer, whichever client library received it."""

    status: int
    #: Header names in lower case.
    headers: Mapping[str, str]
    text: str
    #: The body parsed as JSON, ``None`` when it is not JSON.
    body: Any

    @classmethod
    def of(cls, status: int, headers: Mapping[str, str] | None, text: str) -> Answer:
        """Read a raw answer; its body is parsed here."""
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        return cls(status, lowered, text, body)

    def snippet(self) -> str:
        """The start of the body as text, for answers that say nothing readable."""
        return self.text.strip()[:_SNIPPET] or f"HTTP {self.status}"


@dataclass(frozen=True)
class Problem:
    """What an app's error body says, read by the app's package."""

    #: The app's words, with field names where it gives them.
    message: str
    #: The app's error code (``REQUIRED_FIELD_MISSING``, ``INVALID_DATA``, ...).
    code: str | None = None
    #: True for an app's "later" that its status does not say (Salesforce's 403
    #: ``REQUEST_LIMIT_EXCEEDED``); False for a 5xx that retrying cannot help; None: by status.
    transient: bool | None = None
    #: Seconds to wait that the app said in its own headers or body, besides ``Retry-After``.
    retry_after: float | None = None


#: Reads an app's unsuccessful answer.
Explain = Callable[[Answer], Problem]


def default_explain(answer: Answer) -> Problem:
    """The body's ``message`` or ``error`` when it has one, else its first characters."""
    if isinstance(answer.body, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(answer.body.get(key), str):
                return Problem(answer.body[key])
    return Problem(answer.snippet())


def refusal(app: str, answer: Answer, what: str, explain: Explain) -> ConnectorError:
    """The error an unsuccessful answer stands for: transient when the app says "later"
    (408, 429, 5xx, or its own code for a limit), :class:`AccessTokenRejected` for 401, else
    permanent, with the app's words either way."""
    status = answer.status
    problem = explain(answer)
    details: dict[str, object] = {"status": status}
    if problem.code:
        details["code"] = problem.code
    said = f"{problem.message} ({problem.code})" if problem.code else problem.message
    transient = problem.transient
    if transient is None:
        transient = status in _TRANSIENT_STATUSES or status >= 500
    if transient:
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        if retry_after is None:
            retry_after = problem.retry_after
        if retry_after is not None:
            details["retry_after"] = retry_after
        limited = status == 429 or problem.transient is True
        label = "limits calls" if limited else "is busy or failing"
        return TransientError(
            f"{app} {label} (HTTP {status}): {said}", retry_after=retry_after, details=details
        )
    if status == 401:
        return AccessTokenRejected(f"{app} refused the credentials: {said}", details=details)
    return PermanentError(f"{app} refused {what}: {said}", details=details)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """``url``'s scheme, host and port, the parts a token must not leave (``None``: none
    that can be read)."""
    parts = urlsplit(url)
    try:
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is no number
        return None


class RestApi:
    """One app's JSON API, called with httpx; every failure raised as the SDK's errors.

    A client is made per step (``async with``): CRM steps are a few calls each, and a client of
    its own keeps one step's connection from being handed to another event loop.

    ``token`` and ``renew`` serve connections whose tokens the connector gets itself (a JWT
    assertion, client credentials): after a 401, ``renew`` gives a new token and the call is
    made once more; a second 401 is a plain permanent error, since the engine cannot refresh
    what it did not grant. OAuth connections the engine refreshes pass no ``renew``: their 401
    stays :class:`~maillon.connectors.sdk.AccessTokenRejected`, for the engine to act on.
    """

    def __init__(
        self,
        app: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        explain: Explain = default_explain,
        token: str | None = None,
        renew: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        import httpx

        self.app = app
        self.base_url = base_url.rstrip("/")
        self._explain = explain
        #: Sent as ``Authorization: Bearer``; replaced by what ``renew`` gives after a 401.
        self.token = token
        self._renew = renew
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers={"Accept": "application/json", "User-Agent": "Maillon/0.1", **headers},
            timeout=timeout,
        )

    async def __aenter__(self) -> RestApi:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Sequence[int] = (),
    ) -> httpx.Response:
        """Send one request (``path`` relative to the base URL, or an absolute URL) and return
        the answer when it is a success or in ``accept``; else raise, saying ``what`` failed.
        ``json`` is sent as JSON, ``data`` as a form.
        """
        request = {"params": params, "json": json, "data": data}
        try:
            return await self._send(method, path, what, request, headers, accept)
        except AccessTokenRejected:
            if self._renew is None:
                raise
        self.token = await self._renew()
        try:
            return await self._send(method, path, what, request, headers, accept)
        except AccessTokenRejected as exc:
            raise PermanentError(exc.message, details=exc.details) from exc

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        request: dict[str, Any],
        headers: Mapping[str, str] | None,
        accept: Sequence[int],
    ) -> httpx.Response:
        import httpx

        if "://" in path and (_origin(path) or ()) != _origin(self.base_url):
            # A next page's link (Salesforce's nextRecordsUrl, Dynamics' @odata.nextLink) is
            # the app's to give, but the account's token goes to the app's host alone.
            raise PermanentError(
                f"{self.app} gave a link to another host ({urlsplit(path).netloc}): not "
                "followed with the account's token",
                details={"url": path[:500]},
            )
        if self.token is not None:
            headers = {**(headers or {}), "Authorization": f"Bearer {self.token}"}
        try:
            response = await self._http.request(
                method, path.lstrip("/"), headers=headers, **request
            )
        except httpx.UnsupportedProtocol as exc:
            raise PermanentError(f"{self.app}'s URL is not usable: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"{self.app} did not answer in time ({what})",
                details={"error": type(exc).__name__},
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                f"{self.app} is unreachable at {self.base_url}: {str(exc) or type(exc).__name__}",
                details={"error": type(exc).__name__},
            ) from exc
        # A redirect is no success: followed, it would move the token elsewhere, and read as
        # one, an update to a moved URL would say "updated" and a search "no record".
        if 200 <= response.status_code < 300 or response.status_code in accept:
            return response
        raise self.error(response, what)

    def error(self, response: httpx.Response, what: str) -> ConnectorError:
        """The error an unsuccessful answer stands for (:func:`refusal`)."""
        answer = Answer.of(response.status_code, response.headers, response.text)
        return refusal(self.app, answer, what, self._explain)

    @staticmethod
    def json(response: httpx.Response) -> Any:
        """The answer's JSON body (``None`` when empty); a body that is not JSON is refused."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise PermanentError(
                f"the answer to {response.request.method} {response.request.url.path} is not JSON"
            ) from exc
