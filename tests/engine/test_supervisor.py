"""The supervisor of worker processes, on its own: forked children first, new interpreters after.

A small script (its own process, so that it has one thread when it starts the supervisor, as
``maillon serve`` does) supervises two children that record what they were given, wait for a
wake-up and exit with status 3. The test reads what they recorded and what the supervisor
logged.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from maillon.engine import supervisor

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="children are forked on Linux")

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """\
import logging, os, socket, sys, time
from pathlib import Path
from maillon.engine.supervisor import WAKE_FD_VARIABLE, Supervisor

logging.basicConfig(level=logging.INFO, format="%(message)s")
out = Path(sys.argv[1])
# What a child started as a new interpreter runs: it records itself, then waits to be stopped.
SPAWNED = (
    "import os, pathlib, sys, time; "
    "pathlib.Path(sys.argv[1], f'spawned-{os.getpid()}').write_text(os.environ['PROBE']); "
    "time.sleep(60)"
)


def child() -> None:
    sock = socket.socket(fileno=int(os.environ[WAKE_FD_VARIABLE]))
    own_session = os.getsid(0) == os.getpid()
    (out / f"forked-{os.getpid()}").write_text(f"{os.environ['PROBE']} {own_session}")
    (out / f"woken-{os.getpid()}").write_bytes(sock.recv(8))
    raise SystemExit(3)


supervisor = Supervisor(
    [sys.executable, "-c", SPAWNED, str(out)],
    2,
    {**os.environ, "PROBE": "given"},
    fork=child,
    first_delay=0.1,
    check_interval=0.05,
)


def until_two(pattern: str) -> None:
    deadline = time.monotonic() + 20
    while len(list(out.glob(pattern))) < 2:
        if time.monotonic() > deadline:
            supervisor.stop(1)
            sys.exit(f"no two {pattern} files in 20 s")
        time.sleep(0.02)


supervisor.start()
until_two("forked-*")
supervisor.notify()
until_two("spawned-*")
supervisor.stop(10)
"""


def test_children_are_forked_first_and_started_as_new_interpreters_after_they_exit(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    forked = sorted(tmp_path.glob("forked-*"))
    # Each forked child had the environment it was given, a session of its own and its socket.
    assert [p.read_text() for p in forked] == ["given True", "given True"]
    assert sorted(p.read_bytes() for p in tmp_path.glob("woken-*")) == [b"w", b"w"]
    # Their exit status reached the supervisor, which started new interpreters in their place.
    assert done.stderr.count("exited with status 3") == 2, done.stderr
    spawned = sorted(tmp_path.glob("spawned-*"))
    assert [p.read_text() for p in spawned] == ["given", "given"]
    spawned_pids = {p.name.split("-")[1] for p in spawned}
    assert not spawned_pids & {p.name.split("-")[1] for p in forked}
    # Stopped: the new interpreters got SIGTERM and were waited for before stop() returned.
    assert not [pid for pid in spawned_pids if Path(f"/proc/{pid}").exists()]


def test_worker_processes_are_supported_where_the_wake_up_sockets_can_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert supervisor._seqpacket_pairs()

    # As on macOS, which defines SOCK_SEQPACKET but refuses it for Unix socket pairs.
    def refuse(*_: object) -> None:
        raise OSError(errno.EPROTONOSUPPORT, "Protocol not supported")

    monkeypatch.setattr(socket, "socketpair", refuse)
    assert not supervisor._seqpacket_pairs()
