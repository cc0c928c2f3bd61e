"""``maillon serve`` as an operator runs it: JSON log lines, metrics on a port of their own, and
answers that name no server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, maillon_command
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: what is checked here is the process, not the database."""
    return f"sqlite:///{tmp_path / 'maillon.db'}"


def test_json_logs_metrics_port_and_no_server_header(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "MAILLON_DATA_DIR": str(tmp_path),
        "MAILLON_SECRET_KEY": "serve-test",
        "MAILLON_LOG_FORMAT": "json",
        "MAILLON_METRICS_PORT": str(metrics_port),
    }
    server = subprocess.Popen(
        maillon_command("serve", "--port", str(port), "--workers", "1"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def up() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz")
            except httpx.HTTPError:
                return None

        ready = wait_for(up, 30, what="maillon serve to answer")
        assert ready.status_code == 200
        assert "server" not in ready.headers
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200
        assert "maillon_queue_depth 0.0" in scraped.text
        assert "maillon_writer_commit_seconds_count" in scraped.text
        # On the app's own port, metrics need the token, which this install has not set.
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 404
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines, err
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    # Nothing but JSON: no line of the stack escapes the format.
    assert [line for line in err.splitlines() if line and not line.startswith("{")] == []
