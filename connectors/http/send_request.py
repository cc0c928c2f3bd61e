"""Action ``http.send_request``: call any HTTP API."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import Action, ActionContext
from connectors.errors import PermanentError, TransientError, parse_retry_after
from connectors.http._client import client_for
from connectors.http.connection import HttpConnection

__all__ = ["MAX_BODY_BYTES", "SendRequest", "SendRequestInput", "SendRequestOutput"]

#: Largest response body read into memory; the rest is dropped and the output says so.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: How much of an error response goes into the error message and details.
_ERROR_SNIPPET_CHARS = 500

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
QueryValue = str | int | float | bool
StatusCode = Annotated[int, Field(ge=100, le=599)]

#: Methods that do not change anything: they get no Idempotency-Key header.
_SAFE_METHODS = frozenset({"GET", "HEAD"})
#: Statuses worth retrying besides 5xx: timeout, too early, too many requests.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class SendRequestInput(BaseModel):
    """The request to send, and which answers count as success."""

    # Templates often render numbers: accept them where strings are expected.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    method: Method = Field(
        default="GET",
        title="Method",
        description="HTTP method.",
        examples=["POST"],
    )
    url: str = Field(
        min_length=1,
        title="URL",
        description=(
            "Full http(s) URL, or a path relative to the connection's base URL. Query "
            "parameters may be written here or in Query."
        ),
        examples=["https://api.example.com/v1/investors", "investors/{{ event.investor.id }}"],
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        title="Headers",
        description="Request headers; they override the connection's.",
        examples=[{"Accept": "application/json"}],
    )
    query: dict[str, QueryValue | list[QueryValue]] = Field(
        default_factory=dict,
        title="Query parameters",
        description="Added to the URL's query string; a list repeats the parameter.",
        examples=[{"status": "active", "page": 1}],
    )
    # Not "json": that name would shadow BaseModel.json, and an alias would make the name in
    # flows differ from the Python field name, which tools reading model_fields would miss.
    json_body: Any = Field(
        default=None,
        title="JSON body",
        description="Sent as application/json. Give at most one of JSON, form and content.",
        examples=[{"email": "{{ event.investor.email }}", "amount": 1000}],
    )
    form: dict[str, str] | None = Field(
        default=None,
        title="Form body",
        description="Sent as application/x-www-form-urlencoded.",
        examples=[{"name": "Ada", "plan": "gold"}],
    )
    content: str | None = Field(
        default=None,
        title="Raw body",
        description="Sent as is (UTF-8); set a Content-Type header to match.",
        examples=["<ping/>"],
    )
    bearer_token: SecretStr | None = Field(
        default=None,
        title="Bearer token",
        description="Sent as 'Authorization: Bearer <token>'; replaces the connection's auth.",
    )
    basic_username: str | None = Field(
        default=None,
        title="Basic auth user name",
        description="HTTP Basic authentication; replaces the connection's auth.",
    )
    basic_password: SecretStr | None = Field(
        default=None, title="Basic auth password", description="HTTP Basic authentication."
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        title="Timeout (seconds)",
        description="Whole-request budget: connecting, sending and reading the answer.",
        examples=[30],
    )
    raise_for_status: bool = Field(
        default=True,
        title="Fail on error status",
        description=(
            "When on, a status outside 2xx (and outside Accepted statuses) fails the step: "
            "5xx, 408 and 429 are retried, other 4xx are not. When off, every answer is "
            "returned as the step output."
        ),
    )
    accept_statuses: list[StatusCode] = Field(
        default_factory=list,
        title="Accepted statuses",
        description="Non-2xx statuses to return as output instead of failing (e.g. 404, 409).",
        examples=[[404, 409]],
    )
    follow_redirects: bool = Field(
        default=True,
        title="Follow redirects",
        description="Follow 3xx redirects (the Authorization header is dropped on other hosts).",
    )
    send_idempotency_key: bool = Field(
        default=True,
        title="Send Idempotency-Key",
        description=(
            "Add an Idempotency-Key header, stable across retries of this step, to requests "
            "other than GET and HEAD (unless one is set in Headers)."
        ),
    )
    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES,
        ge=1,
        le=MAX_BODY_BYTES,
        title="Response size limit (bytes)",
        description="Response bodies are cut at this size (10 MiB at most); 'truncated' says so.",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a valid URL: {exc}") from exc
        # Check the scheme, not is_absolute_url: "file:///x" has no host, so httpx calls it
        # relative, and it would slip through.
        if url.scheme and url.scheme not in ("http", "https"):
            raise ValueError(
                f"only http:// and https:// URLs can be called, not {url.scheme}: URLs"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SendRequestInput:
        bodies = [
            name
            for name, value in (
                ("json_body", self.json_body),
                ("form", self.form),
                ("content", self.content),
            )
            if value is not None
        ]
        if len(bodies) > 1:
            raise ValueError(f"give at most one body: {' and '.join(bodies)} are both set")
        if self.bearer_token is not None and self.basic_username is not None:
            raise ValueError("give either a bearer token or basic auth, not both")
        if self.basic_password is not None and self.basic_username is None:
            raise ValueError("basic_password needs basic_username")
        return self


class SendRequestOutput(BaseModel):
    """The answer, with the body parsed when it is JSON."""

    status: int = Field(title="Status", description="HTTP status code.", examples=[200])
    headers: dict[str, str] = Field(
        title="Headers",
        description="Response headers, names in lower case; repeated ones joined by commas.",
        examples=[{"content-type": "application/json"}],
    )
    body: Any = Field(
        title="Body",
        description="Parsed JSON for JSON responses, else text; null when there is no body.",
        examples=[{"id": 42}],
    )
    url: str = Field(
        title="Final URL",
        description="URL that answered, after redirects.",
        examples=["https://api.example.com/v1/investors/42"],
    )
    elapsed_ms: int = Field(
        title="Elapsed (ms)", description="Time taken, body included.", examples=[120]
    )
    truncated: bool = Field(
        default=False,
        title="Truncated",
        description="True when the body exceeded the size limit and was cut (and is then text).",
    )


class SendRequest(Action[HttpConnection, SendRequestInput, SendRequestOutput]):
    """Send one HTTP request and return the answer, failing on error statuses by default."""

    key = "send_request"
    title = "Send an HTTP request"
    description = "Call any HTTP API: method, URL, headers, query, and a JSON, form or raw body."
    Input: ClassVar[type[SendRequestInput]] = SendRequestInput
    Output: ClassVar[type[SendRequestOutput]] = SendRequestOutput

    async def run(
        self, ctx: ActionContext, conn: HttpConnection, data: SendRequestInput
    ) -> SendRequestOutput:
        """Send the request over the connection's pooled client; classify every failure."""
        url = _target_url(conn, data.url)
        # Stop before the engine's own deadline so that the failure is ours, and classified.
        budget = min(data.timeout, ctx.timeout)
        client = client_for(conn)
        if data.query:
            # Merge: httpx's params= would replace a query string written in the URL.
            url = url.copy_merge_params(data.query)
        try:
            request = client.build_request(
                data.method,
                url,
                headers=_headers(ctx, conn, data),
                json=data.json_body,
                data=data.form,
                content=data.content,
                timeout=budget,
            )
        except (ValueError, httpx.InvalidURL) as exc:  # e.g. a non-ASCII header value
            raise PermanentError(
                f"the request cannot be built: {exc}", details={"error": type(exc).__name__}
            ) from exc
        shown = str(_display_url(request.url))
        started = time.perf_counter()
        try:
            # httpx timeouts apply per phase (connect, each read); asyncio.timeout bounds the
            # whole exchange, so a server that trickles bytes cannot hold the step forever.
            async with asyncio.timeout(budget):
                response = await client.send(
                    request, stream=True, follow_redirects=data.follow_redirects
                )
                try:
                    raw, truncated = await _read_capped(response, data.max_body_bytes)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TransientError(
                f"{data.method} {shown} timed out after {budget:g}s",
                details={"error": "timeout", "url": shown, "timeout": budget},
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            # Our request is at fault (bad scheme, header or URL): retrying cannot help.
            raise PermanentError(
                f"{data.method} {shown} cannot be sent: {exc}",
                details={"error": type(exc).__name__, "url": shown},
            ) from exc
        except httpx.TooManyRedirects as exc:
            raise PermanentError(
                f"{data.method} {shown}: too many redirects",
                details={"error": "too_many_redirects", "url": shown},
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                f"{data.method} {shown} failed: {type(exc).__name__}: {exc}",
                details={"error": type(exc).__name__, "url": shown},
            ) from exc
        except httpx.DecodingError as exc:
            raise PermanentError(
                f"{data.method} {shown}: the answer could not be decoded: {exc}",
                details={"error": "decoding_error", "url": shown},
            ) from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000)

        body = _parse_body(response, raw, truncated)
        if truncated:
            ctx.logger.warning(
                "%s %s: response body cut at %d bytes", data.method, shown, data.max_body_bytes
            )
        status = response.status_code
        accepted = (
            response.is_success or status in data.accept_statuses or not data.raise_for_status
        )
        if not accepted:
            raise _status_error(data.method, shown, response, body, truncated)
        return SendRequestOutput(
            status=status,
            headers=dict(response.headers.items()),
            body=body,
            url=str(_display_url(response.url, keep_query=True)),
            elapsed_ms=elapsed_ms,
            truncated=truncated,
        )


def _target_url(conn: HttpConnection, raw: str) -> httpx.URL:
    """The URL to call, refusing those that cannot work or would leak the credentials."""
    url = httpx.URL(raw)  # already validated by the input model
    if url.is_relative_url:
        if conn.base_url is None:
            raise PermanentError(
                f"URL {raw!r} has no scheme: write it in full (https://...), or use a connection "
                "with a base URL for relative paths",
                details={"error": "relative_url"},
            )
        return url
    if conn.base_url is not None:
        base = httpx.URL(conn.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise PermanentError(
                f"URL {_display_url(url)} is outside the connection's base URL {conn.base_url}: "
                "the connection's credentials are only sent there",
                details={"error": "url_outside_base_url"},
            )
    return url


def _basic(username: str, password: SecretStr | None) -> str:
    secret = password.get_secret_value() if password is not None else ""
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")


def _headers(ctx: ActionContext, conn: HttpConnection, data: SendRequestInput) -> httpx.Headers:
    """Connection headers, then auth (the step's replaces the connection's), then step headers."""
    headers = httpx.Headers(conn.headers)
    if conn.api_key is not None:
        headers[conn.api_key_header] = conn.api_key.get_secret_value()
    if data.bearer_token is not None:
        headers["Authorization"] = "Bearer " + data.bearer_token.get_secret_value()
    elif data.basic_username is not None:
        headers["Authorization"] = _basic(data.basic_username, data.basic_password)
    elif conn.bearer_token is not None:
        headers["Authorization"] = "Bearer " + conn.bearer_token.get_secret_value()
    elif conn.basic_username is not None:
        headers["Authorization"] = _basic(conn.basic_username, conn.basic_password)
    headers.update(data.headers)
    if (
        data.send_idempotency_key
        and data.method not in _SAFE_METHODS
        and "idempotency-key" not in headers
    ):
        # Stable across retries of this step, so an API that honours it applies a retried
        # POST once even when our first attempt's answer was lost.
        headers["Idempotency-Key"] = ctx.idempotency_key
    return headers


def _display_url(url: httpx.URL, *, keep_query: bool = False) -> httpx.URL:
    """The URL without user info (nor, for messages, the query: it may hold API keys)."""
    shown = url.copy_with(username=None, password=None) if url.userinfo else url
    return shown if keep_query else shown.copy_with(query=None)


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` decoded bytes; closing the response drops the rest unread."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _is_json(response: httpx.Response) -> bool:
    media_type = str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _parse_body(response: httpx.Response, raw: bytes, truncated: bool) -> Any:
    if not raw:
        return None
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    if _is_json(response) and not truncated:
        try:
            return json.loads(text)
        except ValueError:
            pass  # a server that lies about its content type: give the text
    return text


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, or as an HTTP date (common on 503)."""
    seconds = parse_retry_after(value)
    if seconds is not None or value is None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_error(
    method: str, shown: str, response: httpx.Response, body: Any, truncated: bool
) -> TransientError | PermanentError:
    status = response.status_code
    snippet = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    snippet = (snippet or "")[:_ERROR_SNIPPET_CHARS]
    message = f"{method} {shown} answered {status} {response.reason_phrase}"
    if snippet:
        message += f": {snippet}"
    details: dict[str, object] = {"status": status, "url": shown, "body": snippet}
    if truncated:
        details["truncated"] = True
    if status >= 500 or status in _TRANSIENT_STATUSES:
        retry_after = _retry_after(response.headers.get("retry-after"))
        details["retry_after"] = retry_after
        return TransientError(message, retry_after=retry_after, details=details)
    return PermanentError(message, details=details)
