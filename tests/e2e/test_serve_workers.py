"""``maillon serve`` with its worker processes: one killed under load, ``serve`` stopped, metrics.

``serve`` runs for real with two worker processes, senders keep posting webhooks whose flow
posts to a local sink, and one worker process gets SIGKILL while it holds runs. Afterwards every
event that was answered 2xx has a run that succeeded (the killed worker's runs taken over when
their leases expired), and the supervisor has started a new worker process in its place. A
``serve`` that stops, by SIGTERM or killed, leaves no worker process behind. The worker
processes share the memory of what ``serve`` imported. What the worker processes count shows in
the ``/metrics`` of ``serve``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.idsink import IdSink, id_sink
from tests.support.server import free_port, maillon_command
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 2
#: Short, so that the killed worker's runs are taken over within the test's time.
LEASE = 2.0

FLOW = """\
name: serve workers test
steps:
  - key: notify
    action: http.send_request
    input:
      method: POST
      url: {sink}/sink
      json_body:
        id: "{{{{ event.id }}}}"
"""


@pytest.fixture
def sink() -> Iterator[IdSink]:
    """The sink the flow posts to; 5 ms an answer, so that workers hold runs in flight."""
    with id_sink(0.005) as s:
        yield s


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (its worker processes), running or not yet reaped."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return []
    return [c for c in found if alive(c)]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped yet, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Serve:
    """``maillon serve`` in a process of its own, on a fresh install with the test's flow."""

    def __init__(self, tmp_path: Path, database_url: str, sink_url: str, **settings: str) -> None:
        """``settings``: more ``MAILLON_*`` variables."""
        self.port = free_port()
        #: The worker processes' pids, once started as a context manager.
        self.workers: list[int] = []
        self.env = {
            **os.environ,
            "MAILLON_DATA_DIR": str(tmp_path),
            "MAILLON_DATABASE_URL": database_url,
            "MAILLON_SECRET_KEY": "serve-workers-test",
            "MAILLON_LOG_LEVEL": "WARNING",
            "MAILLON_WORKER_PROCESSES": str(PROCESSES),
            "MAILLON_WORKER_CONCURRENCY": "8",
            "MAILLON_LEASE_SECONDS": str(LEASE),
            **settings,
        }
        flow = tmp_path / "flow.yaml"
        flow.write_text(FLOW.format(sink=sink_url))
        subprocess.run(maillon_command("migrate"), cwd=ROOT, env=self.env, check=True, timeout=60)
        imported = subprocess.run(
            maillon_command("flows", "import", str(flow)),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        self.hook = imported.stdout.split("/hooks/", 1)[1].split()[0]
        self.proc = subprocess.Popen(
            maillon_command("serve", "--port", str(self.port)),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_started(self) -> list[int]:
        """Wait until it answers and its worker processes run; return their pids."""

        def up() -> list[int] | None:
            assert self.proc.poll() is None, "serve exited"
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
            except httpx.HTTPError:
                return None
            found = children(self.proc.pid)
            return found if len(found) == PROCESSES else None

        return wait_for(up, 60, what="serve and its worker processes to start")

    def __enter__(self) -> Serve:
        """Started (:meth:`wait_started`; its worker processes in ``workers``), stopped on exit."""
        try:
            self.workers = self.wait_started()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def test_a_worker_killed_under_load_loses_nothing_and_is_started_again(
    tmp_path: Path, database_url: str, sink: IdSink
) -> None:
    serve = Serve(tmp_path, database_url, sink.url)
    answered: list[str] = []
    stop = threading.Event()

    def send(sender: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{serve.port}", timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                body = {"id": f"{sender}-{n}"}
                try:
                    r = client.post(f"/hooks/{serve.hook}", json=body)
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    answered.append(body["id"])
                time.sleep(0.002)

    senders = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    engine = create_engine(database_url)
    try:
        workers = serve.wait_started()
        for t in senders:
            t.start()
        wait_for(lambda: sink.count("/sink") >= 200, 60, what="200 runs to reach the sink")

        def holding() -> int | None:
            with engine.connect() as conn:
                owners = conn.execute(
                    text("SELECT lease_owner FROM runs WHERE status = 'running'")
                ).scalars()
                pids = {int(o.split(":")[1]) for o in owners if o}
            return next((p for p in workers if p in pids), None)

        victim = wait_for(holding, 30, what="a worker process holding runs")
        os.kill(victim, signal.SIGKILL)
        # The load goes on meanwhile, on the other worker process.
        time.sleep(1.0)
        stop.set()
        for t in senders:
            t.join(15)

        def replaced() -> list[int] | None:
            now = children(serve.proc.pid)
            return now if len(now) == PROCESSES and victim not in now else None

        restarted = wait_for(replaced, 30, what="the supervisor to start a new worker process")
        assert set(restarted) - set(workers), "no new worker process"
        # Forked or (this one) started as a new interpreter, a worker process has one name
        # (the new interpreter takes it once it has imported the command line).
        wait_for(
            lambda: (
                {Path(f"/proc/{p}/comm").read_text().strip() for p in restarted}
                == {"maillon-worker"}
            ),
            30,
            what="the new worker process to take its name",
        )

        def all_succeeded() -> bool:
            with engine.connect() as conn:
                statuses = conn.execute(text("SELECT status, count(*) FROM runs GROUP BY status"))
                counts: dict[str, int] = {status: n for status, n in statuses}
            return set(counts) == {"succeeded"} and counts["succeeded"] >= len(answered)

        wait_for(all_succeeded, 60, what="every acknowledged event's run to succeed")
    finally:
        stop.set()
        serve.stop()
    with engine.connect() as conn:
        bodies = conn.execute(
            text(
                "SELECT events.body FROM events JOIN runs ON runs.event_id = events.id "
                "WHERE runs.status = 'succeeded'"
            )
        ).scalars()
        succeeded = {json.loads(b)["id"] for b in bodies}
    engine.dispose()
    assert answered
    assert set(answered) <= succeeded
    assert set(answered) <= sink.ids("/sink")


def test_worker_processes_are_woken_by_serve_not_by_their_poll(
    tmp_path: Path, database_url: str, sink: IdSink
) -> None:
    # Idle worker processes look at the queue every 60 s only: a run that reaches the sink
    # sooner was announced to them by the web process.
    with Serve(tmp_path, database_url, sink.url, MAILLON_POLL_INTERVAL="60") as serve:
        time.sleep(1.0)  # the workers' first look at the queue is over: they wait now
        with httpx.Client(base_url=f"http://127.0.0.1:{serve.port}", timeout=10) as client:

            def deliver(ids: list[str]) -> float:
                """Post ``ids`` at once; seconds until the last one reached the sink."""
                started = time.monotonic()
                with ThreadPoolExecutor(len(ids)) as pool:
                    posted = pool.map(
                        lambda i: client.post(f"/hooks/{serve.hook}", json={"id": i}), ids
                    )
                    assert {r.status_code for r in posted} == {200}
                wait_for(lambda: set(ids) <= sink.ids("/sink"), 10, what="the runs")
                return time.monotonic() - started

            # One at a time, then bursts, whose deliveries are committed together and
            # resume in the same turn of the web process's event loop.
            waits = [deliver([f"single-{n}"]) for n in range(3)]
            waits += [deliver([f"burst-{b}-{n}" for n in range(20)]) for b in range(3)]
    assert max(waits) < 5, waits


def shared_dirty_mb(pid: int) -> float:
    """Memory that ``pid`` has written (or inherited written) and still shares with others."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Shared_Dirty:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no Shared_Dirty line for {pid}")


def test_worker_processes_share_the_memory_of_serve(
    tmp_path: Path, database_url: str, sink: IdSink
) -> None:
    # A worker started as a new interpreter shares no written memory (~0 MB here); forked
    # without freezing what it inherits, its first collection copies half of it (~22 MB left);
    # forked as serve does, ~45 MB.
    with Serve(tmp_path, database_url, sink.url) as serve:
        time.sleep(2.0)  # each worker has started its loops and collected once
        shared = {pid: shared_dirty_mb(pid) for pid in serve.workers}
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in serve.workers}
    assert min(shared.values()) > 32, shared
    assert names == {"maillon-worker"}


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_serve_stops_its_worker_processes(
    tmp_path: Path, database_url: str, sink: IdSink, how: signal.Signals
) -> None:
    serve = Serve(tmp_path, database_url, sink.url)
    workers: list[int] = []
    try:
        workers += serve.wait_started()
        serve.proc.send_signal(how)
        serve.proc.wait(30)
        # Killed, serve cannot stop them: they see their wake-up socket close, and stop.
        wait_for(
            lambda: not any(alive(p) for p in workers),
            30,
            what=lambda: f"the worker processes to stop ({[p for p in workers if alive(p)]})",
        )
    finally:
        serve.stop()
        for p in workers:
            if alive(p):
                os.kill(p, signal.SIGKILL)


def test_what_worker_processes_count_shows_in_the_metrics_of_serve(
    tmp_path: Path, database_url: str, sink: IdSink
) -> None:
    with Serve(tmp_path, database_url, sink.url, MAILLON_METRICS_TOKEN="scrape-me") as serve:
        base = f"http://127.0.0.1:{serve.port}"
        for i in range(3):
            assert httpx.post(f"{base}/hooks/{serve.hook}", json={"id": f"m{i}"}).is_success
        wait_for(lambda: sink.count("/sink") == 3, 30, what="the three runs to reach the sink")

        def scrape() -> dict[str, float]:
            answer = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape-me"})
            samples = {}
            for line in answer.text.splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    samples[name] = float(value)
            return samples

        # The run is recorded (and counted) just after its request reached the sink.
        finished = 'maillon_runs_finished_total{status="succeeded"}'

        def counted() -> dict[str, float] | None:
            samples = scrape()
            return samples if samples.get(finished) == 3 else None

        samples = wait_for(counted, 10, what="the 3 runs to be counted")
        assert samples['maillon_deliveries_total{status="queued"}'] == 3
        assert samples['maillon_step_duration_seconds_count{action="http.send_request"}'] == 3
        assert samples["maillon_queue_depth"] == 0
