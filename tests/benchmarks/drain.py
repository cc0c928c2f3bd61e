"""What a run costs a worker process: one ``maillon worker`` drains a backlog stored beforehand.

    python -m tests.benchmarks.drain                      # 20,000 runs, 2 rounds
    python -m tests.benchmarks.drain --runs 30000 --rounds 4
    python -m tests.benchmarks.drain --rounds 4 --compare-asyncio

Each round stores a backlog with intake alone (``serve --workers 0`` under wrk, the suite's flow:
one ``http.send_request`` to the local sink), stops the server, then starts one ``maillon worker``
on that database and times it until no run is queued or running: runs per second, and the CPU
the worker took per run, in all and per thread (its event loop, its writer, the threads that
render templates; start-up included). Nothing else writes meanwhile, so the figures are the
worker's own. With ``--compare-asyncio`` every other round runs the worker on asyncio's own event
loop instead of uvloop's, for a side-by-side in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.payload import BODY_TEMPLATE
from tests.benchmarks.run import (
    FLOW_YAML,
    Maillon,
    Processes,
    Settings,
    log,
    run_wrk,
    start_sink,
    wrk_missing,
)

#: A worker on asyncio's loop: the CLI with the loop factory replaced before it runs.
_ASYNCIO_WORKER = "import maillon.web.cli as cli; cli.event_loop_factory = lambda: None; cli.main()"


def _thread_cpu(pid: int) -> list[tuple[str, float]]:
    """CPU seconds of each thread of ``pid``, largest first."""
    tick = os.sysconf("SC_CLK_TCK")
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out.append((task.name, (int(fields[11]) + int(fields[12])) / tick))
    return sorted(out, key=lambda t: -t[1])


def _fill(m: Maillon, runs: int, body: Path, s: Settings) -> int:
    """Store at least ``runs`` queued runs through intake alone; return how many."""
    m.start(workers=0)
    while m.counts()["events"] < runs:
        run_wrk(m.url, body, 1, s)
    m.procs.stop(m.name)
    return m.counts().get("queued", 0)


def _drain(m: Maillon, queued: int, loop: str, timeout: float) -> str:
    """Start a worker on ``m``'s database, wait until it has run every run; describe it."""
    if loop == "asyncio":
        argv = [sys.executable, "-c", _ASYNCIO_WORKER, "worker"]
    else:
        argv = [*Maillon.command(), "worker"]
    worker = m.procs.start(f"{m.name}-worker", argv, m.env)
    db = sqlite3.connect(m.data_dir / "maillon.db")
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            time.sleep(0.2)
            left = db.execute(
                "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"
            ).fetchone()[0]
            if left == 0:
                break
        else:
            raise RuntimeError(f"{left} runs still queued after {timeout:.0f} s")
        wall = time.monotonic() - started
        threads = _thread_cpu(worker.pid)
        failed = db.execute("SELECT count(*) FROM runs WHERE status != 'succeeded'").fetchone()[0]
    finally:
        db.close()
        m.procs.stop(f"{m.name}-worker")
    total = sum(cpu for _, cpu in threads)
    main, writer, *rest = threads
    per_run = 1000 / queued
    return (
        f"{loop}: {queued:,} runs drained in {wall:.2f} s ({queued / wall:,.0f}/s), "
        f"{failed} not succeeded; worker CPU {total:.2f} s = {total * per_run:.3f} ms/run "
        f"(busiest thread {main[1] * per_run:.3f}, next {writer[1] * per_run:.3f}, "
        f"{len(rest)} others {sum(c for _, c in rest) * per_run:.3f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.drain", description=__doc__)
    parser.add_argument("--runs", type=int, default=20_000, help="backlog per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--compare-asyncio",
        action="store_true",
        help="every other round on asyncio's event loop instead of uvloop's",
    )
    args = parser.parse_args(argv)
    if wrk_missing():
        return 2
    s = Settings.quick_run()
    workdir = Path(tempfile.mkdtemp(prefix="maillon-drain-"))
    procs = Processes(workdir)
    body = workdir / "body.json"
    body.write_bytes(BODY_TEMPLATE)
    try:
        sink_port = start_sink(procs)
        flow = FLOW_YAML.format(sink_url=f"http://127.0.0.1:{sink_port}/sink")
        for r in range(args.rounds):
            loop = "asyncio" if args.compare_asyncio and r % 2 else "uvloop"
            m = Maillon(procs, f"round{r}", workdir, flow, None)
            log(f"round {r}: storing a backlog of {args.runs:,} runs")
            queued = _fill(m, args.runs, body, s)
            print(f"round {r}, {_drain(m, queued, loop, timeout=600)}", flush=True)
            m.database.drop()
    except BaseException as exc:
        procs.log_abort(exc)
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
