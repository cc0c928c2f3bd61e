"""What every answer of the app carries, and what happens to an error nobody expected.

:class:`App` is the Litestar application with one layer added in front of everything, the hook
mount, the static files and Litestar's own 404s and 405s included (a route's middleware would
miss those):

- a **request id**: the caller's ``X-Request-ID`` when it is a sane one (a proxy that sets it
  can then follow a request through both logs), otherwise a new one; it is answered back in
  ``X-Request-ID`` and tagged on every log line written while the request is served
  (:mod:`maillon.engine.logs`);
- **security headers**: ``X-Content-Type-Options: nosniff``, no framing by any site
  (``X-Frame-Options`` and CSP's ``frame-ancestors``), ``Referrer-Policy: same-origin`` (a
  one-time link's token is in its page's URL), a strict Content Security Policy on HTML (scripts
  and styles from this site only, no inline script) and a deny-all one on everything else, and
  ``Cache-Control: no-store`` unless the answer says how it may be cached (the static files do).

:func:`unexpected_error` answers a 500 for an exception no handler knows, after logging it
with its traceback (the request id is on that line), and gives the caller the request id to
quote: Litestar, configured without logging, would answer the 500 and log nothing.

This sits on the hook endpoints' hot path: it adds a handful of constant headers and one
context variable, no allocation per header.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Litestar, Request, Response
from litestar.types import Message, Scope

from maillon.engine.ids import new_id
from maillon.engine.logs import request_id

__all__ = ["HTML_CSP", "REQUEST_ID_HEADER", "App", "unexpected_error"]

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = REQUEST_ID_HEADER.encode()
#: A caller's request id is kept when it is this simple: it goes into logs and headers as is.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,100}")

#: Scripts and styles from this site only, no inline script (htmx's inline indicator style is
#: switched off in base.html; the API page reads its document from a data block), and no
#: framing by other sites.
HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: JSON and the rest are never a document: nothing may load from them, nobody may frame them.
_OTHER_CSP = b"default-src 'none'; frame-ancestors 'none'"

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
_NO_STORE = (b"cache-control", b"no-store")
_HTML_CSP = (b"content-security-policy", HTML_CSP.encode())


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == _REQUEST_ID:
            if _SANE_ID.fullmatch(value):
                return value.decode()
            break
    return new_id()


def _with_edge_headers(headers: list[tuple[bytes, bytes]], rid: bytes) -> list[tuple[bytes, bytes]]:
    html = cached = has_csp = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-type":
            html = value.startswith(b"text/html")
        elif lowered == b"cache-control":
            cached = True
        elif lowered == b"content-security-policy":
            has_csp = True
    out = [*headers, *_ALWAYS, (_REQUEST_ID, rid)]
    if not cached:
        out.append(_NO_STORE)
    if not has_csp:
        out.append(_HTML_CSP if html else (b"content-security-policy", _OTHER_CSP))
    return out


class App(Litestar):
    """Litestar, with the request id and security headers of every answer (see the module)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        rid = _request_id(scope)
        scope["request_id"] = rid
        encoded = rid.encode()

        async def send_with_headers(message: Message) -> None:
            # Only the start of an answer carries headers; its body goes through untouched.
            if message["type"] == "http.response.start":
                message["headers"] = _with_edge_headers(list(message.get("headers", ())), encoded)
            await send(message)

        token = request_id.set(rid)
        try:
            await super().__call__(scope, receive, send_with_headers)
        finally:
            request_id.reset(token)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A 500 for an exception no handler expected: logged with its traceback, answered with
    the request id to quote (never the exception's text, which may hold anything)."""
    rid = request.scope.get("request_id", "")
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Response(
        {
            "status_code": 500,
            "detail": f"internal error: the server's log has its cause under request id {rid}",
            "request_id": rid,
        },
        status_code=500,
    )
