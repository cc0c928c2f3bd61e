"""Action ``http.send_request``: call any HTTP API."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlencode

from multidict import CIMultiDict
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from yarl import URL

from maillon.connectors.http._client import client_for, proxy_for
from maillon.connectors.http.connection import HttpConnection
from maillon.connectors.outbound import check_each_hop
from maillon.connectors.sdk import (
    URL_INPUT,
    Action,
    ActionContext,
    PermanentError,
    TransientError,
    parse_retry_after,
)

if TYPE_CHECKING:
    import aiohttp

__all__ = ["MAX_BODY_BYTES", "SendRequest", "SendRequestInput", "SendRequestOutput"]

#: Largest response body read into memory; the rest is dropped and the output says so.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: How much of an error response goes into the error message and details.
_ERROR_SNIPPET_CHARS = 500
#: Redirects followed before giving up.
_MAX_REDIRECTS = 20
#: ASCII control characters, which no URL may hold.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
QueryValue = str | int | float | bool
StatusCode = Annotated[int, Field(ge=100, le=599)]

#: Methods that do not change anything: they get no Idempotency-Key header.
_SAFE_METHODS = frozenset({"GET", "HEAD"})
#: Statuses worth retrying besides 5xx: timeout, too early, too many requests.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
#: What HTTP/1.1 allows in header names (tokens) and values (visible ASCII, spaces and tabs).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


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
            "parameters may be written here or in Query. Values templated into the path are "
            "percent-encoded ('/' too); '| safe' writes one as it is."
        ),
        json_schema_extra=URL_INPUT,
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
        description=(
            "Follow 3xx redirects (Authorization and the connection's headers are not sent to "
            "other hosts)."
        ),
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
        # yarl (aiohttp's URLs) takes control characters into a host or path as they are.
        if _CONTROL.search(value):
            raise ValueError("not a valid URL: it holds a control character")
        try:
            url = URL(value)
        except ValueError as exc:  # a port that is not a number, an unclosed IPv6 bracket
            raise ValueError(f"not a valid URL: {exc}") from exc
        # Check the scheme, not whether the URL is absolute: "file:///x" has no host, and it
        # would slip through.
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
    advanced_inputs = (
        "query",
        "form",
        "content",
        "bearer_token",
        "basic_username",
        "basic_password",
        "timeout",
        "raise_for_status",
        "accept_statuses",
        "follow_redirects",
        "send_idempotency_key",
        "max_body_bytes",
    )
    description = "Call any HTTP API: method, URL, headers, query, and a JSON, form or raw body."

    async def run(
        self, ctx: ActionContext, conn: HttpConnection, data: SendRequestInput
    ) -> SendRequestOutput:
        """Send the request over the connection's pooled session; classify every failure."""
        # Imported on first use, like the session itself (see connectors.http._client).
        import aiohttp

        # Stop before the engine's own deadline so that the failure is ours, and classified.
        budget = min(data.timeout, ctx.timeout)
        try:
            url = _target_url(conn, data.url)
            if data.query:
                url = _merge_query(url, data.query)
            headers = _headers(ctx, conn, data)
            if url.user or url.password:
                # Credentials written in the URL win over every other auth, and go as a header:
                # aiohttp refuses an Authorization header next to them.
                headers["Authorization"] = _basic(url.user or "", SecretStr(url.password or ""))
                url = url.with_user(None)
            payload = _payload(data, headers)
            _check_headers(headers)
        except ValueError as exc:  # e.g. a non-ASCII header value, a port out of range
            raise PermanentError(
                f"the request cannot be built: {exc}", details={"error": type(exc).__name__}
            ) from exc
        shown = str(url.with_query(None))  # the query may hold API keys: keep it out of errors
        client = client_for(conn)
        started = time.perf_counter()
        try:
            # asyncio.timeout bounds the whole exchange, body included, so a server that
            # trickles bytes cannot hold the step forever.
            async with (
                asyncio.timeout(budget),
                client.request(
                    data.method,
                    url,
                    headers=headers,
                    data=payload,
                    allow_redirects=data.follow_redirects,
                    # aiohttp fails when the count of redirects reaches its limit, so that
                    # _MAX_REDIRECTS of them are followed only with a limit one higher.
                    max_redirects=_MAX_REDIRECTS + 1,
                    proxy=proxy_for(url),
                    middlewares=(check_each_hop, *_credentials_stay_home(conn, url)),
                ) as response,
            ):
                raw, truncated = await _read_capped(response, data.max_body_bytes)
        except (TimeoutError, ValueError, aiohttp.ClientError) as exc:
            raise _send_failure(data.method, shown, budget, exc) from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000)

        body = _parse_body(response, raw, truncated)
        if truncated:
            ctx.logger.warning(
                "%s %s: response body cut at %d bytes", data.method, shown, data.max_body_bytes
            )
        status = response.status
        accepted = (
            200 <= status < 300 or status in data.accept_statuses or not data.raise_for_status
        )
        if not accepted:
            raise _status_error(data.method, shown, response, body, truncated)
        return SendRequestOutput(
            status=status,
            headers=_joined_headers(response),
            body=body,
            url=str(response.url),
            elapsed_ms=elapsed_ms,
            truncated=truncated,
        )


def _credentials_stay_home(conn: HttpConnection, url: URL) -> tuple[Any, ...]:
    """A client middleware that keeps the connection's headers to the origin first called.

    aiohttp drops ``Authorization`` (and cookies) when a redirect leaves the origin, but not the
    connection's API-key header or its other headers, which may carry secrets as well. The
    middleware runs for every request of a redirect chain. None (an empty tuple) when the
    connection sends no headers of its own.
    """
    names = [*conn.headers, *([conn.api_key_header] if conn.api_key is not None else [])]
    if not names:
        return ()
    home = url.origin()

    async def keep_home(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if req.url.origin() != home:
            for name in names:
                req.headers.popall(name, None)
        return await handler(req)

    return (keep_home,)


def _target_url(conn: HttpConnection, raw: str) -> URL:
    """The URL to call, refusing those that cannot work or would leak the credentials."""
    url = URL(raw)
    # Absolute means a scheme and a host: "//host/x" and "http:x" are joined to the base URL.
    if not (url.scheme and url.host):
        if conn.base_url is None:
            raise PermanentError(
                f"URL {raw!r} has no scheme: write it in full (https://...), or use a connection "
                "with a base URL for relative paths",
                details={"error": "relative_url"},
            )
        return _join(URL(conn.base_url), url)
    if conn.base_url is not None:
        base = URL(conn.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            shown = url.with_user(None).with_query(None)
            raise PermanentError(
                f"URL {shown} is outside the connection's base URL {conn.base_url}: "
                "the connection's credentials are only sent there",
                details={"error": "url_outside_base_url"},
            )
    return url


def _join(base: URL, relative: URL) -> URL:
    """``relative``'s path appended to ``base``'s, even when it starts with a slash.

    A base URL names an API root: "/items" under "https://api.example.com/v1" is
    https://api.example.com/v1/items, not the host's /items as a browser would resolve it.
    """
    prefix = base.raw_path if base.raw_path.endswith("/") else base.raw_path + "/"
    return URL.build(
        scheme=base.scheme,
        authority=base.raw_authority,
        path=prefix + relative.raw_path.lstrip("/"),
        query_string=relative.raw_query_string,
        encoded=True,
    )


def _merge_query(url: URL, query: dict[str, QueryValue | list[QueryValue]]) -> URL:
    """``url`` with ``query`` added; a key given in both takes the values of ``query``."""
    return url.update_query(
        {
            name: [_query_text(v) for v in value] if isinstance(value, list) else _query_text(value)
            for name, value in query.items()
        }
    )


def _query_text(value: QueryValue) -> str:
    # JSON's spelling of booleans, which APIs expect more often than Python's.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _basic(username: str, password: SecretStr | None) -> str:
    secret = password.get_secret_value() if password is not None else ""
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")


def _headers(ctx: ActionContext, conn: HttpConnection, data: SendRequestInput) -> CIMultiDict[str]:
    """Connection headers, then auth (the step's replaces the connection's), then step headers."""
    headers = CIMultiDict(conn.headers)
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


def _payload(data: SendRequestInput, headers: CIMultiDict[str]) -> bytes | None:
    """The encoded body; its Content-Type is added unless the step set one."""
    if data.json_body is not None:
        headers.setdefault("Content-Type", "application/json")
        # Compact UTF-8; NaN and Infinity are not JSON, so they fail here, not at the API.
        return json.dumps(
            data.json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
    if data.form is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urlencode(data.form).encode()
    if data.content is not None:
        return data.content.encode()
    return None


def _check_headers(headers: CIMultiDict[str]) -> None:
    """Refuse what HTTP/1.1 cannot carry; aiohttp would send non-ASCII values as UTF-8."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if not _HEADER_VALUE.fullmatch(value):
            raise ValueError(f"header {name} may only hold printable ASCII characters")


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` decoded bytes; releasing the response drops the rest unread."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.readany():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _send_failure(
    method: str, shown: str, budget: float, exc: Exception
) -> TransientError | PermanentError:
    """Classify a request that got no complete answer."""
    import aiohttp
    from aiohttp.http_exceptions import ContentEncodingError

    if isinstance(exc, TimeoutError):
        return TransientError(
            f"{method} {shown} timed out after {budget:g}s",
            details={"error": "timeout", "url": shown, "timeout": budget},
        )
    if isinstance(exc, aiohttp.TooManyRedirects):
        return PermanentError(
            f"{method} {shown}: too many redirects",
            details={"error": "too_many_redirects", "url": shown},
        )
    if isinstance(exc, ValueError | aiohttp.NonHttpUrlClientError) and not isinstance(
        exc,
        aiohttp.ClientConnectorError,  # an untrusted certificate is a ValueError too
    ):
        # Our request is at fault (a redirect to a non-HTTP or malformed URL, a bad proxy
        # URL): retrying cannot help.
        return PermanentError(
            f"{method} {shown} cannot be sent: {exc}",
            details={"error": type(exc).__name__, "url": shown},
        )
    if isinstance(exc, aiohttp.ClientPayloadError) and isinstance(
        exc.__cause__, ContentEncodingError
    ):
        return PermanentError(
            f"{method} {shown}: the answer could not be decoded: {exc}",
            details={"error": "decoding_error", "url": shown},
        )
    # Names that do not depend on the HTTP library: run errors show them, and people search
    # and alert on them.
    if isinstance(exc, aiohttp.ClientConnectorError):
        # aiohttp's own words ("Cannot connect to host h:80 ssl:default [Connect call
        # failed ...]") name the TLS setting of a plain http URL too: said plainly instead.
        return TransientError(
            f"{method} {shown} failed: ConnectError: {_not_connected(exc)}",
            details={"error": "ConnectError", "url": shown},
        )
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError,
    ):
        kind = "RemoteProtocolError"  # hung up early, or answered something that is not HTTP
    else:
        kind = "NetworkError"
    return TransientError(
        f"{method} {shown} failed: {kind}: {exc}", details={"error": kind, "url": shown}
    )


def _not_connected(exc: aiohttp.ClientConnectorError) -> str:
    """Why no connection was made, in words."""
    import aiohttp  # loaded by the request that failed

    where = f"{exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"the TLS certificate of {where} is not trusted ({exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"the TLS handshake with {where} failed ({exc.os_error})"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"the host name {exc.host} could not be resolved"
    if isinstance(exc.os_error, ConnectionRefusedError):
        return f"{where} refused the connection (nothing listens there?)"
    return f"could not connect to {where}: {exc.os_error.strerror or exc.os_error}"


def _joined_headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    """Header names in lower case; the values of a repeated header joined by commas."""
    joined: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _is_json(response: aiohttp.ClientResponse) -> bool:
    media_type = response.content_type
    return media_type == "application/json" or media_type.endswith("+json")


def _parse_body(response: aiohttp.ClientResponse, raw: bytes, truncated: bool) -> Any:
    if not raw:
        return None
    try:
        text = raw.decode(response.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = raw.decode("utf-8", errors="replace")
    if _is_json(response) and not truncated:
        try:
            return json.loads(text)
        except ValueError:
            pass  # a server that lies about its content type: give the text
    return text


def _status_error(
    method: str, shown: str, response: aiohttp.ClientResponse, body: Any, truncated: bool
) -> TransientError | PermanentError:
    status = response.status
    snippet = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    snippet = (snippet or "")[:_ERROR_SNIPPET_CHARS]
    message = f"{method} {shown} answered {status} {response.reason or ''}"
    if snippet:
        message += f": {snippet}"
    details: dict[str, object] = {"status": status, "url": shown, "body": snippet}
    if truncated:
        details["truncated"] = True
    if status >= 500 or status in _TRANSIENT_STATUSES:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        details["retry_after"] = retry_after
        return TransientError(message, retry_after=retry_after, details=details)
    return PermanentError(message, details=details)
