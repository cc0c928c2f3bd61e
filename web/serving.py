"""How ``maillon serve`` runs uvicorn: fast parsers, no access log, and limits on connections.

uvicorn closes a keep-alive connection that stays idle between requests
(``MAILLON_KEEP_ALIVE_TIMEOUT``), but not one that never finishes a request: a client that
connects and sends nothing, or trickles a header or a body a byte at a time, holds its
connection (and a request's memory) for as long as it likes, and a few thousand of them
exhaust the server. :func:`guarded_protocol` closes such a connection once
``MAILLON_REQUEST_TIMEOUT`` seconds pass between its opening (or the start of a request) and
the request's last byte. Nor does uvicorn bound a request's head (httptools reads a header of
any length, which a hook would store with its event): past ``MAILLON_MAX_HEADER_BYTES`` of
request line and headers, the guarded protocol answers 431 and closes the connection.
``MAILLON_MAX_CONNECTIONS`` caps the connections and requests served at once: past it uvicorn
answers 503 at once rather than queueing without end.

A reverse proxy in front (``docs/deploy.md``) should enforce the same, closer to the client.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from maillon.engine.settings import Settings

__all__ = ["UVICORN_OPTIONS", "event_loop_factory", "guarded_protocol", "uvicorn_options"]

#: The options that do not depend on settings. uvloop and httptools are named rather than left
#: to "auto", so that a missing extra fails at start instead of silently serving far fewer
#: requests (uvloop wherever the package requires it: not on Windows); no route is a
#: websocket, so none is accepted (and the websockets package, 1 MB, is never loaded); the
#: access log is off because one log line per hook costs more than parsing the request; no
#: ``server`` header tells a scanner what answers.
UVICORN_OPTIONS: dict[str, object] = {
    "loop": "asyncio" if sys.platform == "win32" else "uvloop",
    "http": "httptools",
    "ws": "none",
    "access_log": False,
    "log_config": None,
    "server_header": False,
}


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop of a worker process: uvloop's, as ``serve``'s uvicorn runs (``None``:
    asyncio's own, where uvloop is not installed).

    A worker's loop turns for every HTTP call, every thread hop and every answer of the writer
    thread; on uvloop a run drained from a backlog cost less CPU (tests/benchmarks/README.md).
    """
    try:
        import uvloop
    except ImportError:  # Windows: uvloop is not installed there
        return None
    return uvloop.new_event_loop


def guarded_protocol(request_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol, closing a connection that is too slow to send a request,
    or whose request's head is larger than ``max_header_bytes`` (with a 431)."""
    # Imported here: every other command imports this module for UVICORN_OPTIONS.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    refusal = (
        f"request line and headers larger than {max_header_bytes} bytes "
        "(MAILLON_MAX_HEADER_BYTES)\n"
    ).encode()
    too_large = (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(refusal)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + refusal
    )

    class Guarded(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        #: Bytes received since the current request began while its head is incomplete
        #: (``None`` once its headers are complete): httptools keeps a header in memory whole,
        #: however long, until its end arrives, so an endless one is caught by this count.
        _head: int | None = 0
        _head_refused = False

        def data_received(self, data: bytes) -> None:
            if self._head is not None:
                self._head += len(data)
            super().data_received(data)
            # After parsing: a read that also holds the end of the head and part of the body
            # must not count the body.
            if self._head is not None and self._head > max_header_bytes:
                self._refuse_head()

        def _refuse_head(self) -> None:
            self._head = None
            if not self.transport.is_closing():
                self.transport.write(too_large)
                self.transport.close()

        def on_headers_complete(self) -> None:
            if self._head_refused:
                return  # a request sent after the refused one, in the same read
            received, self._head = self._head, None
            # What was received may hold the start of the body too: measured exactly only
            # then, so that a request costs one comparison.
            if received is not None and received > max_header_bytes:
                size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
                if size > max_header_bytes:
                    # Answered here, and the request never reaches the app; the parser goes on
                    # with what this read holds, which the next two methods then ignore.
                    self._head_refused = True
                    self._refuse_head()
                    return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._head_refused:
                super().on_body(body)

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(request_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_message_complete(self) -> None:
            if self._head_refused:
                return
            super().on_message_complete()
            self._disarm()
            self._head = 0

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Guarded


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Everything ``uvicorn.run`` is given besides the app, host and port."""
    return {
        **UVICORN_OPTIONS,
        "http": guarded_protocol(settings.request_timeout, settings.max_header_bytes),
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections,
    }
