"""A delayed run survives a restart: parked in the queue, it runs on when its time comes.

``maillon serve`` runs in a process of its own; a delivery starts a run that waits at a delay
step; the server is killed while it waits, and started again: the run goes on at its time, and
the request after the delay goes out once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from maillon.connectors.testing import FakeServer
from tests.support.server import free_port, maillon_command
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]

FLOW = """\
name: remind later
steps:
  - key: wait
    delay: {duration: 4s}
  - key: remind
    action: http.send_request
    input:
      method: POST
      url: URL/remind
      json_body: {id: "{{ event.id }}"}
"""


def _run_row(database_url: str) -> tuple[str, str | None, list[tuple[str, str]]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            run = conn.execute(text("SELECT id, status, lease_owner FROM runs")).one()
            steps = conn.execute(
                text("SELECT step_key, status FROM steps WHERE run_id = :id ORDER BY position"),
                {"id": run.id},
            ).all()
    finally:
        engine.dispose()
    return run.status, run.lease_owner, [(s.step_key, s.status) for s in steps]


def test_a_delayed_run_survives_a_restart_of_the_app(
    tmp_path: Path, database_url: str, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/remind", (200, {"ok": True}))
    env = {
        **os.environ,
        "MAILLON_DATA_DIR": str(tmp_path),
        "MAILLON_DATABASE_URL": database_url,
        "MAILLON_SECRET_KEY": "delay-test",
        "MAILLON_LOG_LEVEL": "WARNING",
    }
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("URL/", fake_server.url))
    subprocess.run(maillon_command("migrate"), cwd=ROOT, env=env, check=True, timeout=60)
    imported = subprocess.run(
        maillon_command("flows", "import", str(flow)),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    hook = imported.stdout.split("/hooks/", 1)[1].split()[0]
    port = free_port()

    def serve() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            maillon_command("serve", "--port", str(port)),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    server = serve()
    try:
        wait_for(up, 30, what="the server to start")
        answer = httpx.post(f"http://127.0.0.1:{port}/hooks/{hook}", json={"id": "tx-1"})
        assert answer.status_code == 200
        sent = time.time()
        # Parked: queued again, no worker holding it, the delay recorded as waiting.
        wait_for(
            lambda: _run_row(database_url)[2] == [("wait", "waiting")],
            10,
            what="the run to reach its delay",
        )
        status, owner, _ = _run_row(database_url)
        assert (status, owner) == ("queued", None)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()

    assert fake_server.received() == []
    server = serve()
    try:
        wait_for(lambda: len(fake_server.received()) == 1, 30, what="the reminder after restart")
        assert time.time() - sent >= 4
        wait_for(lambda: _run_row(database_url)[0] == "succeeded", 10, what="the run to finish")
        assert _run_row(database_url)[2] == [("wait", "succeeded"), ("remind", "succeeded")]
        [request] = fake_server.received("POST", "/remind")
        assert request.json() == {"id": "tx-1"}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
