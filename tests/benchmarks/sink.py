"""The HTTP sink that the benchmark flow's ``http.send_request`` step POSTs to.

It notes when each request arrived and, from the ``sent_at`` field that the flow copies out of
the event (``custom.bench_sent_at``, the load generator's wall-clock time at sending), the
end-to-end latency webhook → action. Built on asyncio + httptools (no framework) so that it
costs the Maillon process under test as little CPU as possible.

Routes: ``POST /sink`` (record, answer ``{"ok":true}``), ``GET /stats`` (count),
``GET /dump`` (arrival times and latencies since the last reset), ``POST /reset``.

    python -m tests.benchmarks.sink --port 8010
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httptools

__all__ = ["main"]


class _State:
    def __init__(self) -> None:
        self.total = 0
        self.arrivals: list[float] = []
        self.latencies_ms: list[float] = []
        self.bad = 0

    def record(self, body: bytes) -> None:
        now = time.time()
        self.total += 1
        try:
            sent_at = float(json.loads(body)["sent_at"])
        except (ValueError, KeyError, TypeError):
            self.bad += 1
            return
        self.arrivals.append(now)
        self.latencies_ms.append((now - sent_at) * 1000)


def _response(status: str, payload: Any, keep_alive: bool) -> bytes:
    data = json.dumps(payload, separators=(",", ":")).encode()
    conn = b"keep-alive" if keep_alive else b"close"
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(data)).encode() + b"\r\nconnection: " + conn + b"\r\n\r\n"
    ) + data


class _Proto(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.transport is not None
        keep = self.parser.should_keep_alive()
        path = self.url.split(b"?", 1)[0]
        st = self.state
        if path == b"/sink":
            st.record(b"".join(self.body))
            out = _response("200 OK", {"ok": True}, keep)
        elif path == b"/stats":
            out = _response("200 OK", {"total": st.total, "bad": st.bad}, keep)
        elif path == b"/dump":
            dump = {"arrivals": st.arrivals, "latencies_ms": st.latencies_ms, "total": st.total}
            out = _response("200 OK", dump, keep)
        elif path == b"/reset":
            st.arrivals, st.latencies_ms = [], []
            out = _response("200 OK", {"total": st.total}, keep)
        else:
            out = _response("404 Not Found", {"error": "no such route"}, keep)
        self.transport.write(out)
        if not keep:
            self.transport.close()


async def _serve(port: int) -> None:
    state = _State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Proto(state), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP sink for the benchmark flow")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvloop

    uvloop.run(_serve(args.port))


if __name__ == "__main__":
    main()
