"""Two ``maillon worker --scheduler`` processes on one database: every tick of a flow's
schedule runs once while both fire it, and the ticks go on, none lost nor doubled, when one of
them is killed."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from maillon.connectors.testing import FakeServer
from tests.support.server import maillon_command
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]

FLOW = """\
name: every second
trigger:
  type: schedule
  every: 1s
steps:
  - key: report
    action: http.send_request
    input:
      method: POST
      url: URL/ticks
      json_body:
        at: "{{ event.scheduled_at_utc }}"
"""


def _ticks(database_url: str) -> list[tuple[str, int]]:
    """Each tick stored, oldest first, with how many runs it has."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.dedup_key, (SELECT COUNT(*) FROM runs r WHERE r.event_id = e.id) "
                    "FROM events e WHERE e.source = 'schedule' ORDER BY e.dedup_key"
                )
            ).all()
    finally:
        engine.dispose()
    return [(key, count) for key, count in rows]


def test_two_scheduler_processes_run_each_tick_once_and_survive_a_kill(
    tmp_path: Path, database_url: str, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/ticks", (200, {"ok": True}))
    env = {
        **os.environ,
        "MAILLON_DATA_DIR": str(tmp_path),
        "MAILLON_DATABASE_URL": database_url,
        "MAILLON_SECRET_KEY": "scheduler-test",
        "MAILLON_LOG_LEVEL": "WARNING",
    }
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("URL/", fake_server.url))
    subprocess.run(maillon_command("migrate"), cwd=ROOT, env=env, check=True, timeout=60)
    subprocess.run(
        maillon_command("flows", "import", str(flow)),
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    workers = [
        subprocess.Popen(
            maillon_command("worker", "--scheduler"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: len(_ticks(database_url)) >= 3, 30, what="three ticks")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        killed_at = len(_ticks(database_url))
        wait_for(lambda: len(_ticks(database_url)) >= killed_at + 3, 30, what="more ticks")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()

    ticks = _ticks(database_url)
    times = [dt.datetime.fromisoformat(key.replace("Z", "+00:00")) for key, _ in ticks]
    # One run per tick, and no second missing between the first tick and the last.
    assert all(count == 1 for _, count in ticks)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert gaps == [1.0] * (len(times) - 1)
    # Each run ran its step once: the requests are the ticks, each once (the last tick's run
    # may have been stopped before its request).
    sent = [json.loads(r.body)["at"] for r in fake_server.received("POST", "/ticks")]
    assert len(sent) == len(set(sent))
    assert set(sent) <= {key for key, _ in ticks}
    assert len(sent) >= len(ticks) - 2
