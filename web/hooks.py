"""The hook endpoints: ``/hooks/{token}`` accepts deliveries for a flow's webhook trigger.

The sender gets its 200 only after the event and its runs are committed. Bad input is refused
with a 4xx that says why, and nothing is stored for it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response, route
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from engine.intake import Delivery, SourceDelivery, UnknownHook
from engine.runtime import Runtime
from engine.sources import app_trigger
from engine.writer import WriterStopped
from web.auth import PUBLIC

__all__ = ["receive_app_hook", "receive_hook"]

# Credentials a sender may include are not worth keeping in the event's request metadata.
_DROPPED_HEADERS = frozenset({b"authorization", b"cookie", b"proxy-authorization"})
_MAX_IDEMPOTENCY_KEY = 500


def _query(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return _pairs(parse_qsl(request.scope.get("query_string", b"").decode("latin-1")))


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
            raise HTTPException(
                status_code=HTTP_400_BAD_REQUEST, detail=f"malformed JSON: {exc}"
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


async def _read(request: Request[Any, Any, Any]) -> tuple[Any, str, dict[str, Any]]:
    """Body, its JSON text, and the metadata kept with the event; 4xx for unreadable input."""
    # One pass over the raw ASGI headers: cheaper than Litestar's Headers on this hot path.
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in request.scope["headers"]
        if name not in _DROPPED_HEADERS
    }
    raw = await request.body()
    query = _query(request)
    body, text = _parse(headers.get("content-type", ""), raw, query)
    return body, text, {"method": request.method, "query": query, "headers": headers}


async def _deliver(runtime: Runtime, op: Delivery | SourceDelivery) -> Response[dict[str, Any]]:
    try:
        accepted = await runtime.deliver(op)
    except UnknownHook:
        raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail="unknown hook") from None
    except WriterStopped:
        raise HTTPException(
            status_code=HTTP_503_SERVICE_UNAVAILABLE, detail="shutting down; send again later"
        ) from None
    status = "duplicate" if accepted.duplicate else "held" if accepted.held else "queued"
    return Response(
        {
            "event_id": accepted.event_id,
            "run_ids": accepted.run_ids,
            "status": status,
            "duplicate": accepted.duplicate,
            "held": accepted.held,
        },
        status_code=200,
    )


@route(
    "/hooks/{token:str}",
    http_method=["GET", "POST", "PUT"],
    opt=PUBLIC,
    include_in_schema=True,
    summary="Deliver an event to a flow's webhook trigger",
)
async def receive_hook(
    request: Request[Any, Any, Any], token: FromPath[str]
) -> Response[dict[str, Any]]:
    """Store the delivery and queue the flow's run; answer once committed."""
    runtime: Runtime = request.app.state.runtime
    body, text, meta = await _read(request)
    key = meta["headers"].get("idempotency-key")
    if key is not None and not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY:
        raise HTTPException(
            status_code=HTTP_400_BAD_REQUEST,
            detail=f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters",
        )
    return await _deliver(runtime, Delivery(token, body, text, meta, key))


_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


@route(
    "/hooks/{app:str}/{token:str}/{event:str}",
    http_method=["GET", "POST", "PUT"],
    opt=PUBLIC,
    summary="Deliver an app's event (e.g. Particeep) to every flow that listens to it",
)
async def receive_app_hook(
    request: Request[Any, Any, Any], app: FromPath[str], token: FromPath[str], event: FromPath[str]
) -> Response[dict[str, Any]]:
    """Store the delivery, queue a run per enabled flow on this event; answer once committed."""
    runtime: Runtime = request.app.state.runtime
    connector = runtime.registry.get(app)
    trigger_cls = app_trigger(connector) if connector else None
    if trigger_cls is None or not _EVENT_NAME.match(event):
        raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail="unknown hook")
    body, text, meta = await _read(request)
    op = SourceDelivery(
        app=app,
        token=token,
        event=event,
        body=body,
        body_text=text,
        meta=meta,
        dedup_key=trigger_cls().dedup_key(event, body),
        dedup_window=runtime.settings.source_dedup_window,
    )
    return await _deliver(runtime, op)
