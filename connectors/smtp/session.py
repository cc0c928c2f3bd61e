"""An SMTP session bounded in time and in what the server may send: what smtplib lacks against
a server that misbehaves.

smtplib's timeout is the socket's, restarted by every byte: a server that trickles its replies
a byte at a time holds the session (and the thread it runs in, which the step's timeout does
not stop) for ever. And it reads a reply's continuation lines (``220-…``) for as long as they
come: a server that sends them without end grew the process by gigabytes in seconds. A session
here is given a deadline, after which its socket is shut (the blocked read returns at once),
and each reply a size it may not pass.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
from typing import Any

__all__ = ["MAX_REPLY", "Session", "SslSession"]

#: The most one reply of the server may hold (a greeting, an EHLO's list of extensions).
MAX_REPLY = 64 * 1024


class _CappedReader:
    """The session's reading end, refusing a reply past :data:`MAX_REPLY` (``left`` is
    reset at the start of each reply), and what was read once the deadline shut the session
    (a reply cut short would read as one)."""

    def __init__(self, raw: Any, expired: threading.Event) -> None:
        self._raw = raw
        self._expired = expired
        self.left = MAX_REPLY

    def readline(self, size: int = -1) -> bytes:
        line: bytes = self._raw.readline(size)
        # OSErrors, as a lost connection is: smtplib closes the session and says so.
        if self._expired.is_set():
            raise TimeoutError("the server did not answer within the step's time")
        self.left -= len(line)
        if self.left < 0:
            raise OSError(f"the server's reply passed {MAX_REPLY // 1024} KiB")
        return line

    def close(self) -> None:
        self._raw.close()


class Session(smtplib.SMTP):
    """A plain (or STARTTLS) session: connect it with :meth:`open_within`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._watch: threading.Timer | None = None
        self._opened: socket.socket | None = None
        #: Set once the deadline shut the session.
        self._expired = threading.Event()
        super().__init__(*args, **kwargs)

    def open_within(self, host: str, port: int, seconds: float) -> None:
        """Connect, and shut the session ``seconds`` from now if it is still open then."""
        self._watch = threading.Timer(seconds, self._abort)
        self._watch.daemon = True
        self._watch.start()
        self._host = host  # what TLS checks the certificate against, as a host given at once
        code, message = self.connect(host, port)
        if code != 220:  # what smtplib checks when given the host at once
            self.close()
            raise smtplib.SMTPConnectError(code, message)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self._opened = sock
        return sock

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = _CappedReader(self.sock.makefile("rb"), self._expired)
        if isinstance(self.file, _CappedReader):
            self.file.left = MAX_REPLY
        return super().getreply()

    def _abort(self) -> None:
        """Wake a read blocked on the server (from the timer's thread): the session fails as
        a lost connection does."""
        self._expired.set()
        for sock in (self.sock, self._opened):
            if sock is not None:
                with contextlib.suppress(OSError):  # closed already
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        super().close()


class SslSession(Session, smtplib.SMTP_SSL):
    """A session in TLS from the first byte."""
