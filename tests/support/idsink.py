"""An HTTP sink for flows whose steps post ``{"id": ...}``: it counts each (path, id) it gets.

It answers after ``delay`` seconds, so that workers hold runs in flight when a test kills one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["IdSink", "id_sink"]


class IdSink:
    """What was posted to each path, by id; ``url`` is its address."""

    def __init__(self, delay: float) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(delay)
                with sink.lock:
                    sink.seen[(self.path, body["id"])] += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def ids(self, path: str) -> set[str]:
        """The ids posted to ``path``."""
        with self.lock:
            return {i for (p, i) in self.seen if p == path}

    def count(self, path: str) -> int:
        """How many ids were posted to ``path``."""
        return len(self.ids(path))

    def twice(self, path: str) -> set[str]:
        """The ids posted to ``path`` more than once."""
        with self.lock:
            return {i for (p, i), n in self.seen.items() if p == path and n > 1}


@contextmanager
def id_sink(delay: float) -> Iterator[IdSink]:
    """An :class:`IdSink` serving for the ``with`` block."""
    sink = IdSink(delay)
    thread = threading.Thread(target=sink.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.server.shutdown()
        sink.server.server_close()
