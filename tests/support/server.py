"""Serve a Litestar app for real with uvicorn on 127.0.0.1, in a thread; or run the CLI."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.wait import wait_for


class LiveServer:
    """``with LiveServer(app) as url: ...`` — the app's lifespan runs for real.

    ``options``: uvicorn's, e.g. :func:`maillon.web.serving.uvicorn_options` to serve as
    ``maillon serve`` does.
    """

    def __init__(self, app: Any, port: int = 0, **options: Any) -> None:
        self.app = app
        self.port = port
        self.options = {"log_config": None, "access_log": False, **options}
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan="on", **self.options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        server, thread = self._server, self._thread
        wait_for(lambda: server.started or not thread.is_alive(), 15, what="the app to start")
        if not server.started:
            raise RuntimeError("the app did not start (its server thread ended)")
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


@contextmanager
def serve_at_public_url(
    make_settings: Callable[..., Settings],
) -> Iterator[tuple[str, Settings, Any]]:
    """Serve the app with a public URL equal to where it really listens, so that the URLs it
    registers at an app (Particeep) reach it; yield (URL, settings, app)."""
    port = free_port()
    settings = make_settings(public_url=f"http://127.0.0.1:{port}")
    app = create_app(settings)
    with LiveServer(app, port=port) as url:
        yield url, settings, app


def maillon_command(*args: str) -> list[str]:
    """The argv of ``maillon ARGS...`` with this interpreter, for a subprocess.

    Through ``-c`` rather than the console script, which is not on PATH when the virtualenv is
    not activated.
    """
    return [sys.executable, "-c", "from maillon.web.cli import main; main()", *args]
