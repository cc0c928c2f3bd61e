"""The example commands a newcomer runs say what went wrong in one line, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import free_port

ROOT = Path(__file__).parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_posting_to_a_maillon_that_is_not_running(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/x"
    result = run("examples/post_sample_events.py", url, "--count", "3")
    assert result.returncode == 1
    assert result.stderr == f"cannot post to {url}: [Errno 111] Connection refused\n"


@pytest.mark.parametrize(
    "module",
    ["examples.stand_ins.slack", "examples.stand_ins.google", "examples.particeep.fake_api"],
)
def test_a_port_already_taken(module: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("-m", module, "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == f"cannot listen on 127.0.0.1:{port}: Address already in use\n"
