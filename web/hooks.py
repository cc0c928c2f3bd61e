"""The hook endpoints: ``/hooks/{token}`` accepts deliveries for a flow's webhook trigger.

The sender gets its 200 only after the event and its runs are committed. Bad input is refused
with a 4xx that says why, and nothing is stored for it.

These are Litestar ASGI handlers rather than ordinary route handlers: intake is the hot path,
and building the request and response objects, resolving the handler's parameters and encoding
the answer the generic way was a sixth of the event loop's time per delivery. What those
layers did for the hooks (body size limit, method check) is done here. Errors still go through
Litestar's exception handling, so refusals look like every other error of the API.
"""

from __future__ import annotations

from collections.abc import Awaitable
from math import ceil
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import asgi
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, MethodNotAllowedException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import HTTPScope, Receive, Scope, Send

from maillon.engine.errors import Invalid, RateLimited
from maillon.engine.intake import Accepted, SignatureRejected, UnknownHook
from maillon.engine.metrics import Refusal
from maillon.engine.runtime import Runtime
from maillon.engine.writer import WriterStopped
from maillon.web.auth import PUBLIC, client_address

__all__ = ["hooks"]


def _pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form/query pairs as a mapping; a repeated name becomes a list, as senders intend."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            existing = out[key]
            out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[key] = value
    return out


def _parse(content_type: str, raw: bytes, query: dict[str, Any]) -> tuple[Any, str]:
    """The event body and its JSON text; raise a 4xx for what cannot be read."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not raw.strip():
        return query, msgspec.json.encode(query).decode()
    if media in ("", "application/json", "text/json") or media.endswith("+json"):
        try:
            body = msgspec.json.decode(raw)
            text = raw.decode("utf-8")
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            # msgspec's own words start with what this one says.
            reason = str(exc).removeprefix("JSON is malformed: ")
            raise HTTPException(
                status_code=HTTP_400_BAD_REQUEST, detail=f"malformed JSON: {reason}"
            ) from exc
        except RecursionError as exc:
            raise HTTPException(
                status_code=HTTP_400_BAD_REQUEST, detail="JSON nested too deeply"
            ) from exc
        return body, text
    if media == "application/x-www-form-urlencoded":
        try:
            body = _pairs(
                parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            )
        except UnicodeDecodeError as exc:
            raise HTTPException(
                status_code=HTTP_400_BAD_REQUEST, detail=f"malformed form body: {exc}"
            ) from exc
        return body, msgspec.json.encode(body).decode()
    raise HTTPException(
        status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        detail=f"unsupported content type {media!r}: send JSON or a form",
    )


_METHODS = frozenset({"GET", "POST", "PUT"})
#: An app sends its events in a body: a GET (a link preview, a crawler opening the address)
#: must not start every flow listening to the event.
_APP_METHODS = frozenset({"POST", "PUT"})


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=f"body larger than {limit} bytes"
    )


async def _body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The request body; 413 past ``limit`` bytes (announced or streamed), nothing kept."""
    announced = headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail="client disconnected")
        # ``body`` is optional in an ASGI request message.
        chunk = message.get("body", b"") if message["type"] == "http.request" else b""
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


_REFUSALS = {
    HTTP_400_BAD_REQUEST: Refusal.MALFORMED,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: Refusal.TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE: Refusal.UNSUPPORTED_TYPE,
}


async def _read(
    runtime: Runtime, scope: HTTPScope, receive: Receive, methods: frozenset[str] = _METHODS
) -> tuple[Any, str, dict[str, Any], bytes]:
    """Body, its JSON text, the metadata kept with the event, and the raw bytes; 4xx for
    unreadable input (counted by reason) and 405 for a method not in ``methods`` (not counted:
    no delivery was attempted, a link preview or a crawler opened the address)."""
    try:
        return await _read_request(runtime, scope, receive, methods)
    except HTTPException as exc:
        if exc.status_code != HTTP_405_METHOD_NOT_ALLOWED:
            runtime.services.hooks.refused(_REFUSALS.get(exc.status_code, Refusal.INVALID))
        raise


async def _read_request(
    runtime: Runtime, scope: HTTPScope, receive: Receive, methods: frozenset[str]
) -> tuple[Any, str, dict[str, Any], bytes]:
    method = scope["method"]
    if method not in methods:
        raise MethodNotAllowedException(headers={"Allow": ", ".join(sorted(methods))})
    # Credentials among them are masked by the engine before anything is stored.
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    raw = await _body(receive, headers, runtime.settings.max_body_bytes)
    query = _pairs(parse_qsl(scope["query_string"].decode("latin-1")))
    body, text = _parse(headers.get("content-type", ""), raw, query)
    return body, text, {"method": method, "query": query, "headers": headers}, raw


_JSON_HEADERS = [(b"content-type", b"application/json")]


async def _answer(delivery: Awaitable[Accepted], send: Send) -> None:
    """Wait for the delivery to be committed, then tell the sender what became of it."""
    try:
        accepted = await delivery
    except UnknownHook:
        raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail="unknown hook") from None
    except SignatureRejected as exc:
        raise HTTPException(
            status_code=HTTP_401_UNAUTHORIZED,
            detail=f"signature refused: {exc} (recorded as a rejected delivery)",
        ) from None
    except Invalid as exc:
        raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    except RateLimited as exc:
        raise _too_many(exc) from None
    except WriterStopped:
        raise HTTPException(
            status_code=HTTP_503_SERVICE_UNAVAILABLE, detail="shutting down; send again later"
        ) from None
    answer = msgspec.json.encode(
        {
            "event_id": accepted.event_id,
            "run_ids": accepted.run_ids,
            "status": accepted.status,
            "duplicate": accepted.duplicate,
            "held": accepted.held,
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(answer)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": answer, "more_body": False})


def _too_many(exc: RateLimited) -> HTTPException:
    return HTTPException(
        status_code=HTTP_429_TOO_MANY_REQUESTS,
        detail=str(exc),
        headers={"Retry-After": str(ceil(exc.retry_after))},
    )


@asgi("/hooks", is_mount=True, opt=PUBLIC, copy_scope=False)
async def hooks(scope: Scope, receive: Receive, send: Send) -> None:
    """``/hooks/{token}`` (GET, POST or PUT) and ``/hooks/{app}/{token}/{event}`` (POST or PUT).

    A mount that splits the path itself: Litestar routes ASGI handlers with path parameters
    for websockets only.
    """
    # The mount gets the path after "/hooks"; Litestar matches mounts on the bare prefix, so
    # "/hooksX" arrives here as "X/": only a path that went on with a slash is a hook's.
    path = scope["path"]
    if scope["type"] != ScopeType.HTTP or not path.startswith("/"):
        raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail="unknown hook")
    runtime: Runtime = scope["litestar_app"].state.runtime
    receiver = runtime.services.hooks
    client = client_address(scope)
    try:
        receiver.admit(client)
    except RateLimited as exc:
        raise _too_many(exc) from None
    match path.strip("/").split("/"):
        case [token] if token:
            body, text, meta, raw = await _read(runtime, scope, receive)
            await _answer(receiver.webhook(token, body, text, meta, client, raw), send)
        case [app, token, event]:
            body, text, meta, _ = await _read(runtime, scope, receive, _APP_METHODS)
            await _answer(receiver.app_event(app, token, event, body, text, meta, client), send)
        case _:
            raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail="unknown hook")
