"""A recording HTTP server on 127.0.0.1 that answers what the test scripts.

Real sockets, so that the real client libraries (urllib, httplib2, httpx, aiohttp) are exercised
on the wire: their connection pooling, header encoding, redirects, timeouts and TLS are part of
what a connector test checks. Built on the standard library's ``http.server`` in a thread of its
own, so that it serves sync and async clients alike and needs no event loop.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["Answer", "FakeServer", "Recorded", "Responder"]

#: ``(status, body)`` or ``(status, body, headers)``. A ``bytes`` body is sent as is
#: (``application/octet-stream``), a ``str`` as UTF-8 text, anything else as JSON; a
#: ``Content-Type`` among the headers replaces the one chosen.
Answer = tuple[int, Any] | tuple[int, Any, Mapping[str, str]]
#: Computes the answer from the request, for answers that depend on what was sent.
Responder = Callable[["Recorded"], Answer]


@dataclass(frozen=True)
class Recorded:
    """One request as the fake server saw it."""

    method: str
    #: The request target as sent: a path with its query, or an absolute URL through a proxy.
    raw_path: str
    path: str
    query: dict[str, list[str]]
    #: Header names in lower case; a repeated header keeps its last value.
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return parse_qs(self.body.decode())


class FakeServer:
    """Scripted answers per ``(method, path)``, every request recorded.

    ::

        with FakeServer() as api:
            api.on("POST", "/v1/tickets", (429, {}, {"Retry-After": "3"}), (201, {"id": "T-1"}))
            ...  # call api.url + "v1/tickets" twice: a 429, then a 201
            [first, second] = api.received("POST", "/v1/tickets")

    Answers to one ``(method, path)`` are given in order, and the last one repeats; a request
    nobody scripted is answered 404 with a body that says so. Thread-safe: requests are served
    in threads of their own while the test scripts and reads.

    ``port``: where to listen (default: any free port, which :attr:`url` tells), for a server
    others must find at a known address, such as the stand-ins of ``examples/stand_ins``.
    """

    def __init__(
        self, *, tls: ssl.SSLContext | None = None, delay: float = 0.0, port: int = 0
    ) -> None:
        #: Every request so far, in the order they arrived.
        self.requests: list[Recorded] = []
        #: Seconds every answer waits (to test timeouts); may be changed at any time.
        self.delay = delay
        self._tls = tls
        self._port = port
        self._script: dict[tuple[str, str], list[Answer | Responder]] = {}
        self._arrived = threading.Condition()
        self._server: _Server | None = None
        self._in_flight = 0

    def on(self, method: str, path: str, *answers: Answer | Responder) -> Self:
        """Script the answers to ``method path`` (the path without the query string).

        A path ending with ``*`` answers every path that starts with what comes before it,
        unless a longer one, or the exact path, is scripted too (``/v4/spreadsheets/*``).
        """
        with self._arrived:
            self._script[(method.upper(), path)] = list(answers)
        return self

    def received(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """The requests recorded so far, optionally only those of one method and path."""
        with self._arrived:
            return self._matching(method, path)

    def wait_for(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[Recorded]:
        """Wait until ``count`` matching requests have arrived; return them all.

        For tests where the request is made in the background (a flow run by a server, a
        worker thread): no sleep, no polling interval. Raises ``TimeoutError`` saying what did
        arrive.
        """
        with self._arrived:
            if self._arrived.wait_for(
                lambda: len(self._matching(method, path)) >= count, timeout=timeout
            ):
                return self._matching(method, path)
            seen = [f"{r.method} {r.path}" for r in self.requests]
        wanted = f"{method or 'any method'} {path or 'any path'}"
        raise TimeoutError(f"{count} x {wanted} not received within {timeout:g}s; got {seen}")

    def _prefixed(self, method: str, path: str) -> list[Answer | Responder] | None:
        """The answers of the longest ``*`` path that ``path`` starts with (lock held)."""
        matches = [
            (len(scripted), answers)
            for (m, scripted), answers in self._script.items()
            if m == method and scripted.endswith("*") and path.startswith(scripted[:-1])
        ]
        return max(matches, key=lambda match: match[0])[1] if matches else None

    @property
    def in_flight(self) -> int:
        """Requests received whose answer is not written yet (a :attr:`delay` holds them)."""
        with self._arrived:
            return self._in_flight

    def _matching(self, method: str | None, path: str | None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and (path is None or r.path == path)
        ]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/`` (``https`` with ``tls``), ending with a slash."""
        if self._server is None:
            raise RuntimeError("the fake server is not started")
        host, port = self._server.server_address[:2]
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{host!s}:{port}/"

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and serve in a background thread."""
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        server.daemon_threads = True
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        # A short poll interval: shutdown() waits for the next poll, 0.5 s by default, which
        # would add half a second to the teardown of every test that uses a fake server.
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, request: Recorded) -> Answer:
        """Keep ``request`` and pick its answer (called from the server's threads)."""
        with self._arrived:
            self.requests.append(request)
            self._in_flight += 1
            self._arrived.notify_all()
            answers = self._script.get((request.method, request.path)) or self._prefixed(
                request.method, request.path
            )
            if not answers:
                answer: Answer | Responder = (
                    404,
                    {"error": f"no script for {request.method} {request.path}"},
                )
            else:
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
        # A responder runs outside the lock: it may take its time, or read the recordings.
        return answer(request) if callable(answer) else answer


class _Server(ThreadingHTTPServer):
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout, a download cut short) is what some tests are about:
        # no traceback on stderr for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms per call on Linux) on a kept-alive connection.
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        fake = self.server.fake
        answer = fake._record(
            Recorded(
                method=self.command,
                raw_path=self.path,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self._body(),
            )
        )
        try:
            self._reply(answer, fake.delay)
        finally:
            with fake._arrived:
                fake._in_flight -= 1

    def _reply(self, answer: Answer, delay: float) -> None:
        if delay:
            time.sleep(delay)  # this request's thread only: the test waits on its client
        status, payload = answer[0], answer[1]
        headers = dict(answer[2]) if len(answer) > 2 else {}
        if isinstance(payload, bytes):
            data, content_type = payload, "application/octet-stream"
        elif isinstance(payload, str):
            data, content_type = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        for name in [n for n in headers if n.lower() == "content-type"]:
            content_type = headers.pop(name)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # Clients streaming a body of unknown length (httpx with a generator) send chunks.
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers, which no test needs
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the recordings say what happened; stderr stays for failures
