"""Running a stand-in until Ctrl-C, and printing what it receives as it comes."""

from __future__ import annotations

import sys
import threading

from maillon.connectors.testing import FakeServer

__all__ = ["say", "serve"]

_print_lock = threading.Lock()


def say(line: str) -> None:
    """Print a line at once (requests are answered in threads of their own)."""
    with _print_lock:
        print(line, flush=True)


def serve(server: FakeServer, port: int, banner: str) -> int:
    """Start ``server`` on ``port``, print ``banner``, serve until interrupted; 1 if the port
    cannot be had."""
    try:
        server.start()
    except OSError as exc:
        print(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    say(banner)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
