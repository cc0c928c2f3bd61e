"""Abuse over real sockets: token guessing, hook-URL guessing, slow and idle connections,
oversized request heads, and more connections than the server takes at once."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from maillon.web.serving import uvicorn_options
from tests.support.server import LiveServer
from tests.support.services import Blocking
from tests.support.wait import wait_for


@contextmanager
def serving(
    make_settings: Callable[..., Settings], **overrides: Any
) -> Iterator[tuple[str, Runtime]]:
    """The app as ``maillon serve`` serves it (its uvicorn options), with ``overrides``."""
    settings = make_settings(**overrides)
    runtime = Runtime(settings)
    app = create_app(runtime=runtime, workers=False)
    with LiveServer(app, **uvicorn_options(settings)) as url:
        yield url, runtime


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """SQLite only: these limits live in the process, whatever the database."""
    return f"sqlite:///{tmp_path / 'maillon.db'}"


def test_a_client_sending_wrong_tokens_is_refused_for_a_while(
    make_settings: Callable[..., Settings],
) -> None:
    with serving(make_settings, token_failures_per_client=3) as (url, runtime):
        _, good = Blocking(runtime.services).tokens.create("good")
        for _ in range(3):
            wrong = httpx.get(url + "/api/flows", headers={"Authorization": "Bearer mlt_guess"})
            assert wrong.status_code == 401
        refused = httpx.get(url + "/api/flows", headers={"Authorization": "Bearer mlt_guess"})
        assert refused.status_code == 429
        assert 890 <= int(refused.headers["retry-after"]) <= 900
        # Even a valid token: the guesser may hold one, and must not reset its count with it.
        again = httpx.get(url + "/api/flows", headers={"Authorization": f"Bearer {good}"})
        assert again.status_code == 429


def test_a_client_guessing_hook_urls_is_refused_for_a_while(
    make_settings: Callable[..., Settings],
) -> None:
    with serving(make_settings, unknown_hooks_per_client=3) as (url, _):
        for n in range(3):
            assert httpx.post(f"{url}/hooks/guess{n}", json={}).status_code == 404
        refused = httpx.post(url + "/hooks/guess9", json={})
        assert refused.status_code == 429
        assert "too many requests to unknown hooks" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 0


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (reading what it may send)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and says nothing
        b"POST /hooks/x HTTP/1.1\r\nHost: a\r\n",  # headers never finished
        b"POST /hooks/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{",  # body trickles
    ],
    ids=["idle", "slow-headers", "slow-body"],
)
def test_a_slow_or_silent_connection_is_closed(
    make_settings: Callable[..., Settings], sent: bytes
) -> None:
    with serving(make_settings, request_timeout=0.5) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(sent)
            started = time.monotonic()
            assert _closed_within(sock, 5)
            assert time.monotonic() - started < 3
        # A prompt client is served on the same server.
        assert httpx.get(url + "/healthz").status_code == 200


def test_past_the_connection_limit_requests_get_503(
    make_settings: Callable[..., Settings],
) -> None:
    with serving(make_settings, max_connections=2) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            # Once the server has accepted both, a third client is turned away at once.
            wait_for(lambda: httpx.get(url + "/healthz").status_code == 503, what="a 503")
        finally:
            for sock in held:
                sock.close()
        wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, what="a 200")


def test_a_request_head_past_the_limit_gets_431(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with serving(make_settings, max_header_bytes=4096, unknown_hooks_per_client=1000) as (url, _):
        one_long = httpx.get(url + "/healthz", headers={"x-big": "v" * 10_000})
        assert one_long.status_code == 431
        assert "larger than 4096 bytes (MAILLON_MAX_HEADER_BYTES)" in one_long.text
        many = httpx.get(url + "/healthz", headers={f"x-h{i}": "v" * 40 for i in range(200)})
        assert many.status_code == 431
        # A head within the limit is served, whatever the size of the body that follows it.
        body = b'{"a": "' + b"x" * 200_000 + b'"}'
        fits = httpx.post(
            url + "/hooks/unknown",
            content=body,
            headers={"content-type": "application/json", "x-fits": "v" * 3000},
        )
        assert fits.status_code == 404
        # Megabytes of a header that never ends: the connection is closed, not read on.
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nx-big: " + b"v" * 100_000)
            with contextlib.suppress(OSError):
                for _ in range(200):
                    sock.sendall(b"v" * 65536)
            assert _closed_within(sock, 5)
        assert httpx.get(url + "/healthz").status_code == 200
    # Refused for its size, not logged as a request the server could not read.
    assert "Invalid HTTP request" not in caplog.text
