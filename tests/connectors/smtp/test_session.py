"""An SMTP server that misbehaves, on a real socket: the session ends at its deadline, and a
reply past its size, instead of holding the thread or filling the memory."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from maillon.connectors.sdk import TransientError
from maillon.connectors.smtp.connection import SmtpConnection
from maillon.connectors.smtp.send_email import open_session

Greeter = Callable[[socket.socket, threading.Event], None]


@pytest.fixture
def misbehaving() -> Iterator[Callable[[Greeter], int]]:
    """``misbehaving(greet)``: a server on 127.0.0.1 whose one connection ``greet`` serves
    (until the event is set); its port."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    threads: list[threading.Thread] = []

    def start(greet: Greeter) -> int:
        def serve() -> None:
            conn, _ = listener.accept()
            # The client going away is what the tests want.
            with conn, contextlib.suppress(OSError):
                greet(conn, stop)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return int(listener.getsockname()[1])

    yield start
    stop.set()
    listener.close()
    for thread in threads:
        thread.join(5)


def endless_greeting(conn: socket.socket, stop: threading.Event) -> None:
    line = b"220-" + b"x" * 1000 + b"\r\n"
    while not stop.is_set():
        conn.sendall(line * 64)


def trickled_greeting(conn: socket.socket, stop: threading.Event) -> None:
    for byte in b"220 mail.example.com ready\r\n":
        if stop.wait(1):
            return
        conn.sendall(bytes([byte]))


def _relay(port: int) -> SmtpConnection:
    return SmtpConnection(host="127.0.0.1", port=port, security="none")


def test_a_greeting_without_end_is_cut_at_its_size(
    misbehaving: Callable[[Greeter], int],
) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError, match="passed 64 KiB"):
        open_session(_relay(misbehaving(endless_greeting)), timeout=10)
    assert time.monotonic() - started < 5


def test_a_trickling_server_is_given_up_at_the_deadline(
    misbehaving: Callable[[Greeter], int],
) -> None:
    """Each byte restarts the socket's own timeout: the session's deadline is what ends it."""
    started = time.monotonic()
    with pytest.raises(TransientError):
        open_session(_relay(misbehaving(trickled_greeting)), timeout=1.5)
    assert time.monotonic() - started < 4
