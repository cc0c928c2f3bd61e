"""A fleet of worker processes on PostgreSQL, one killed with SIGKILL in the middle of the work.

Four ``maillon worker`` processes share a queue of 2,000 runs; each run posts twice to a local
sink (step ``a`` then step ``b``). One worker is stopped while it holds runs, the runs it holds
are read, and it is killed. Afterwards every run has succeeded; a step that had recorded success
before the kill was never sent again; the only requests the sink saw twice belong to runs the
killed worker held; and those runs were taken over within the lease. The test prints how long
the takeover took and how many steps were sent twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from maillon.engine.flows import FlowDocument
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.idsink import IdSink, id_sink
from tests.support.server import maillon_command
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
RUNS = 2000
WORKERS = 4
META = {"method": "POST", "headers": {}}
#: The default lease: the takeover time printed is the one a default install gets.
LEASE = 10.0
#: Each run's id and its event's body.
BODIES = "SELECT runs.id, events.body FROM runs JOIN events ON events.id = runs.event_id"

pytestmark = pytest.mark.postgres


@pytest.fixture
def sink() -> Iterator[IdSink]:
    """The sink the flow posts to; 20 ms an answer, so that each worker holds runs when killed."""
    with id_sink(0.02) as s:
        yield s


def _stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped by a signal (its state in /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def _flow(sink_url: str) -> FlowDocument:
    def step(key: str) -> dict[str, object]:
        url = f"{sink_url}/{key}"
        return {
            "key": key,
            "action": "http.send_request",
            "input": {"method": "POST", "url": url, "json_body": {"id": "{{ event.id }}"}},
        }

    return FlowDocument.model_validate({"name": "fleet crash", "steps": [step("a"), step("b")]})


def test_a_killed_worker_loses_nothing_and_repeats_only_what_was_in_flight(
    tmp_path: Path, database_url: str, sink: IdSink
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a fleet of worker processes shares a queue on PostgreSQL only")
    settings = Settings(data_dir=tmp_path, database_url=database_url, secret_key="fleet", workers=0)
    runtime = Runtime(settings)
    runtime.open()
    try:
        token = asyncio.run(runtime.services.flows.save(_flow(sink.url))).row.hook_token

        async def queue_all() -> None:
            for start in range(0, RUNS, 200):
                await asyncio.gather(
                    *(
                        runtime.services.hooks.webhook(
                            token, {"id": f"e{i}"}, json.dumps({"id": f"e{i}"}), META
                        )
                        for i in range(start, start + 200)
                    )
                )

        asyncio.run(queue_all())
    finally:
        runtime.close()

    env = {
        **os.environ,
        "MAILLON_DATA_DIR": str(tmp_path),
        "MAILLON_DATABASE_URL": database_url,
        "MAILLON_SECRET_KEY": "fleet",
        "MAILLON_LOG_LEVEL": "WARNING",
        "MAILLON_WORKER_CONCURRENCY": "16",
        "MAILLON_LEASE_SECONDS": str(LEASE),
    }
    workers = [
        subprocess.Popen(
            maillon_command("worker"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(WORKERS)
    ]
    engine = create_engine(database_url)
    try:
        wait_for(lambda: sink.count("/a") >= RUNS // 4, 120, what="a quarter of the runs")
        victim = workers[0]
        # Frozen first: a worker still running between the read of its runs and the kill could
        # claim more, which would then be sent again without being among those read.
        victim.send_signal(signal.SIGSTOP)
        wait_for(lambda: _stopped(victim.pid), 10, what="the worker to stop")
        with engine.connect() as conn:
            held = {
                r[0]: r[1]
                for r in conn.execute(
                    text(f"{BODIES} WHERE runs.status = 'running' AND lease_owner LIKE :owner"),
                    {"owner": f"%:{victim.pid}:%"},
                )
            }
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait(10)
        assert held, "the killed worker held no run: nothing was tested"
        with engine.connect() as conn:
            # What the ledger says had succeeded when the worker died (it can only be less now:
            # a dead process records nothing).
            done_before = {
                (r[0], r[1])
                for r in conn.execute(
                    text("SELECT run_id, step_key FROM steps WHERE status = 'succeeded'")
                )
            }

        def finished(ids: set[str] | None = None) -> bool:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, status FROM runs")).all()
            statuses = {i: s for i, s in rows if ids is None or i in ids}
            return all(s == "succeeded" for s in statuses.values())

        wait_for(lambda: finished(set(held)), 60, what="the held runs")
        takeover = time.monotonic() - killed_at
        wait_for(finished, 120, what="every run")
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()

    with engine.connect() as conn:
        runs: dict[str, str] = dict(conn.execute(text("SELECT id, status FROM runs")).all())
        event_of: dict[str, str] = dict(conn.execute(text(BODIES)).all())
    engine.dispose()
    assert len(runs) == RUNS
    assert set(runs.values()) == {"succeeded"}
    ids_of_held = {json.loads(body)["id"] for body in held.values()}
    twice = {path: sink.twice(path) for path in ("/a", "/b")}
    # Only the killed worker's runs may have a step sent twice...
    assert twice["/a"] <= ids_of_held and twice["/b"] <= ids_of_held, twice
    # ... and never a step the ledger had recorded as succeeded.
    for run_id, step in done_before:
        event_id = json.loads(event_of[run_id])["id"]
        assert event_id not in twice[f"/{step}"], (run_id, step)
    assert sink.count("/a") == sink.count("/b") == RUNS
    print(
        f"\nfleet crash: {WORKERS} workers, {RUNS} runs; the killed worker held {len(held)} runs; "
        f"taken over and finished {takeover:.1f} s after the kill (lease {LEASE:.0f} s); "
        f"steps sent twice: {len(twice['/a']) + len(twice['/b'])}"
    )
    assert takeover < LEASE + 10
