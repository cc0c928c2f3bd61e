"""A server killed mid-load: every delivery it answered 2xx is stored with its run.

``maillon serve`` runs in a process of its own and gets SIGKILL (no shutdown, no flush) while
senders keep posting; afterwards the database must hold every event the senders were told
about. The durability promise of the hook endpoints: the 200 comes only after the commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.support.server import free_port, maillon_command
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]

FLOW = """\
name: crash test
steps:
  - key: notify
    action: http.send_request
    input:
      method: POST
      url: http://127.0.0.1:9/unreachable
      json_body:
        id: "{{ event.id }}"
"""


def test_every_answered_delivery_survives_a_kill(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MAILLON_DATA_DIR": str(tmp_path),
        "MAILLON_DATABASE_URL": database_url,
        "MAILLON_SECRET_KEY": "crash-test",
        "MAILLON_LOG_LEVEL": "WARNING",
    }
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    # The install's database, as `maillon serve` would create it on its first start.
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
    server = subprocess.Popen(
        maillon_command("serve", "--port", str(port), "--workers", "0"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answered: list[tuple[str, list[str]]] = []
    stop = threading.Event()

    def send(sender: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    r = client.post(f"/hooks/{hook}", json={"id": f"{sender}-{n}"})
                except httpx.HTTPError:
                    time.sleep(0.01)  # not up yet, or killed: nothing was promised
                    continue
                if r.status_code == 200:
                    answered.append((r.json()["event_id"], r.json()["run_ids"]))

    senders = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    try:
        for t in senders:
            t.start()
        wait_for(lambda: len(answered) >= 300, 30, what="the server to answer 300 deliveries")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    finally:
        stop.set()
        for t in senders:
            t.join(10)
        if server.poll() is None:
            server.kill()

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            events = {row[0] for row in conn.execute(text("SELECT id FROM events"))}
            runs = {row[0] for row in conn.execute(text("SELECT id FROM runs"))}
    finally:
        engine.dispose()
    lost = [event_id for event_id, _ in answered if event_id not in events]
    assert lost == []
    assert all(run_id in runs for _, run_ids in answered for run_id in run_ids)
