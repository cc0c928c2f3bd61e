"""Flat cost as data grows: the hot paths on an empty database and on one of millions of runs.

    python -m tests.benchmarks.growth                      # SQLite, 10,000,000 runs
    python -m tests.benchmarks.growth --runs 1000000       # a shorter run
    python -m tests.benchmarks.growth --postgres postgresql://postgres@127.0.0.1:5432/postgres

Two databases are written by tests/benchmarks/ui_data.py: the same 50 flows, one with no
history, one with ``--runs`` runs (each with its event and its steps' ledger) spread over 30
days. Then, side by side, in alternating rounds so that a noisy machine slows both alike:

- **intake**: ``wrk`` (32 connections) against a ``maillon serve --workers 0`` on each;
- **claim**: a worker's claim of 64 due runs (the runs intake just queued), timed through the
  writer as a worker does it;
- **run list**: ``GET /api/runs?limit=50`` (newest), a keyset page 15 days back
  (``before=<id>``), and one flow's failed runs.

The report gives each figure on both databases and their ratio; the issue's bar is 15 %.
Writing 10,000,000 runs takes several minutes and about 10 GB of disk (SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from maillon.engine.ids import id_floor
from maillon.engine.queue import ClaimRuns
from maillon.engine.runtime import Runtime
from tests.benchmarks import ui_data
from tests.benchmarks.payload import BODY_TEMPLATE
from tests.benchmarks.run import (
    Database,
    Maillon,
    Processes,
    free_port,
    log,
    maillon_env,
    run_wrk,
    wait_http,
)
from tests.benchmarks.run import Settings as RunSettings

__all__ = ["main"]


class Install:
    """One database (empty or full), its ``maillon serve --workers 0`` and an API token."""

    def __init__(self, procs: Processes, workdir: Path, name: str, postgres: str | None) -> None:
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir()
        self.database = Database(self.dir, name, postgres)
        self.url = self.database.url
        self.procs = procs
        self.port = free_port()

    def fill(self, runs: int) -> None:
        ui_data.make(self.dir, self.url, runs, flows=50, days=30, failed=0.03)

    def start(self) -> None:
        runtime = Runtime(ui_data.settings_for(self.dir, self.url))
        try:
            _, self.token = asyncio.run(runtime.services.tokens.create("growth"))
            names = asyncio.run(runtime.services.flows.names())
            rows = [asyncio.run(runtime.services.flows.get(n)) for n in names]
        finally:
            runtime.db.dispose()
        on = [r for r in rows if r.row.enabled]
        self.hook = f"http://127.0.0.1:{self.port}/hooks/{on[0].row.hook_token}"
        self.flow_id = on[0].row.id
        env = maillon_env(self.dir, self.url)
        argv = [*Maillon.command(), "serve", "--port", str(self.port), "--workers", "0"]
        wait_http(self.port, "/healthz", self.procs.start(self.name, argv, env))

    def api_ms(self, path: str, times: int) -> float:
        """Median milliseconds of ``times`` GETs of ``path`` (after one warm-up)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers) as c:
            c.get(path).raise_for_status()
            spent = []
            for _ in range(times):
                began = time.perf_counter()
                c.get(path).raise_for_status()
                spent.append((time.perf_counter() - began) * 1000)
        return statistics.median(spent)

    def claim_ms(self, times: int) -> tuple[float, float]:
        """Median and p99 milliseconds of claiming 64 due runs, as a worker's writer does."""
        runtime = Runtime(ui_data.settings_for(self.dir, self.url))
        runtime.writer.start()
        try:
            spent = []
            for _ in range(times):
                began = time.perf_counter()
                claimed = runtime.writer.submit_sync(ClaimRuns("growth", 64, 600))
                spent.append((time.perf_counter() - began) * 1000)
                if len(claimed.runs) < 64:
                    raise RuntimeError(f"{self.name}: the queue ran dry; make intake run longer")
        finally:
            runtime.close()
        spent.sort()
        return statistics.median(spent), spent[int(len(spent) * 0.99) - 1]

    def stop(self) -> None:
        self.procs.stop(self.name)
        self.database.drop()


def measure(args: argparse.Namespace, workdir: Path, procs: Processes) -> list[tuple[str, ...]]:
    installs = {
        "empty": Install(procs, workdir, "growth_empty", args.postgres),
        "full": Install(procs, workdir, "growth_full", args.postgres),
    }
    log(f"writing the empty database and one of {args.runs:,} runs")
    installs["empty"].fill(0)
    installs["full"].fill(args.runs)
    body = workdir / "body.json"
    body.write_bytes(BODY_TEMPLATE)
    wrk = RunSettings.quick_run(args.postgres)
    for install in installs.values():
        install.start()
    rps: dict[str, list[float]] = {name: [] for name in installs}
    for i in range(args.rounds):
        for name, install in installs.items():
            log(f"intake, {name}: round {i + 1}/{args.rounds}")
            rps[name].append(run_wrk(install.hook, body, args.seconds, wrk)["rps"])
    fortnight = id_floor(time.time() - 15 * 86_400)
    paths = {
        "run list, newest 50": "/api/runs?limit=50",
        "run list, a page 15 days back": f"/api/runs?limit=50&before={fortnight}",
    }
    api: dict[str, dict[str, float]] = {what: {} for what in paths}
    api["run list, one flow's failed runs"] = {}
    for name, install in installs.items():
        for what, path in paths.items():
            api[what][name] = install.api_ms(path, args.requests)
        failed = f"/api/runs?limit=50&status=failed&flow={install.flow_id}"
        api["run list, one flow's failed runs"][name] = install.api_ms(failed, args.requests)
    for install in installs.values():
        procs.stop(install.name)
    claims = {name: install.claim_ms(args.claims) for name, install in installs.items()}

    def row(what: str, empty: float, full: float, unit: str, higher_is_better: bool) -> tuple:
        ratio = full / empty
        worse = (1 - ratio) if higher_is_better else (ratio - 1)
        shown = [f"{v:,.1f} {unit}".rstrip() for v in (empty, full)]
        return (what, *shown, f"{ratio:.2f}", worse <= 0.15)

    out = [
        row(
            "intake, requests/s (median of rounds)",
            statistics.median(rps["empty"]),
            statistics.median(rps["full"]),
            "",
            True,
        ),
        row("claim of 64 runs, median", claims["empty"][0], claims["full"][0], "ms", False),
        row("claim of 64 runs, p99", claims["empty"][1], claims["full"][1], "ms", False),
    ]
    out += [row(what, v["empty"], v["full"], "ms", False) for what, v in api.items()]
    for install in installs.values():
        install.stop()
    return [(a, b, c, d, "yes" if ok else "**no**") for a, b, c, d, ok in out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.growth")
    parser.add_argument("--runs", type=int, default=10_000_000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="per intake round")
    parser.add_argument("--requests", type=int, default=50, help="per API measure")
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--workdir", type=Path, help="where the databases go (default: /tmp)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="maillon-growth-", dir=args.workdir))
    procs = Processes(workdir)
    try:
        rows = measure(args, workdir, procs)
    except BaseException as exc:
        for name in list(procs.children):
            log(f"--- {name} log ---\n{procs.log_tail(name)}")
        log(f"benchmark aborted: {exc!r}")
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    database = f"PostgreSQL ({args.postgres})" if args.postgres else "SQLite"
    print(f"{database}, {os.cpu_count()} cores; empty database vs {args.runs:,} runs:\n")
    print("| Measure | Empty | Full | Full / empty | Within 15 % |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
