"""A recording HTTP server on 127.0.0.1 that answers what the test scripts.

Real sockets, so that the real client libraries (urllib, httplib2, httpx, aiohttp) are exercised
on the wire. Scripted answers for a (method, path) are replayed in order; the last one repeats.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class Recorded:
    """One request as the fake server saw it."""

    method: str
    raw_path: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout, a download cut short) is what some tests are about:
        # no traceback on stderr for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class FakeServer:
    """Start with :meth:`start`; ``url`` ends with ``/``."""

    requests: list[Recorded] = field(default_factory=list)
    _script: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    #: Set to make every answer wait (to test timeouts).
    delay: float = 0.0
    #: Set to serve HTTPS with this context instead of plain HTTP.
    tls: ssl.SSLContext | None = None
    _in_flight: int = 0

    def on(self, method: str, path: str, *answers: Answer) -> FakeServer:
        """Script the answers to ``method path`` (path without the query string)."""
        with self._lock:
            self._script[(method.upper(), path)] = list(answers)
        return self

    def received(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """The recorded requests, optionally filtered."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    @property
    def in_flight(self) -> int:
        """Requests received whose answer is not written yet (a :attr:`delay` holds them)."""
        with self._lock:
            return self._in_flight

    def _answer(self, method: str, path: str) -> Answer:
        with self._lock:
            answers = self._script.get((method, path))
            if not answers:
                return (404, {"error": f"no script for {method} {path}"})
            return answers.pop(0) if len(answers) > 1 else answers[0]

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host!s}:{port}/"

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (~40 ms per call on Linux) on a kept-alive connection.
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rec = Recorded(
                    method=self.command,
                    raw_path=self.path,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(rec)
                    fake._in_flight += 1
                try:
                    self._reply(parts.path)
                finally:
                    with fake._lock:
                        fake._in_flight -= 1

            def _reply(self, path: str) -> None:
                if fake.delay:
                    threading.Event().wait(fake.delay)
                answer = fake._answer(self.command, path)
                status, payload = answer[0], answer[1]
                headers = answer[2] if len(answer) > 2 else {}
                if isinstance(payload, bytes):
                    data, ctype = payload, "application/octet-stream"
                elif isinstance(payload, str):
                    data, ctype = payload.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", ctype))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        # A short poll interval: shutdown() waits for the next poll, 0.5 s by default, which
        # would add half a second to the teardown of every test that uses a fake server.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
