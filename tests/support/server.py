"""Serve a Litestar app for real with uvicorn on 127.0.0.1, in a thread; or run the CLI."""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

import uvicorn


class LiveServer:
    """``with LiveServer(app) as url: ...`` — the app's lifespan runs for real."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.port = port
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=15)


def free_port() -> int:
    """A port that was free a moment ago (for a server whose URL must be known in advance)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def maillon_command(*args: str) -> list[str]:
    """The argv of ``maillon ARGS...`` with this interpreter, for a subprocess.

    Through ``-c`` rather than the console script, which is not on PATH when the virtualenv is
    not activated.
    """
    return [sys.executable, "-c", "from maillon.web.cli import main; main()", *args]
