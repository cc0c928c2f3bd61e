"""Flat cost as data grows: the hot paths on a small database and on one of millions of runs.

    python -m tests.benchmarks.growth                      # SQLite, 10,000,000 runs
    python -m tests.benchmarks.growth --runs 1000000       # a shorter run
    python -m tests.benchmarks.growth --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python -m tests.benchmarks.growth --keep /var/tmp/growth   # again: measures, does not write

Two databases are written by tests/benchmarks/ui_data.py: the same 50 flows, one with
``--baseline-runs`` runs (100,000), one with ``--runs`` runs (each with its event and its steps'
ledger), both spread over 30 days. The baseline is small rather than empty so that every list
it is asked for returns a full page, as on the big one: an empty database answers a page 15
days back, or one flow's failed runs, with no rows at all, which times nothing. Then, side by
side, in alternating rounds so that a noisy machine slows both alike:

- **intake**: ``wrk`` (32 connections) against a ``maillon serve --workers 0`` on each;
- **claim**: a worker's claim of 64 due runs (the runs intake just queued), timed through the
  writer as a worker does it;
- **run list**: ``GET /api/runs?limit=50`` (newest), a keyset page 15 days back
  (``before=<id>``), and one flow's failed runs.

The report gives each figure on both databases and their ratio; the issue's bar is 15 %.
Writing 10,000,000 runs takes about 10 minutes and 17 GB of disk on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from maillon.engine.db import create_db_engine
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
    wrk_missing,
)
from tests.benchmarks.run import Settings as RunSettings

__all__ = ["main"]


class Install:
    """One database (small or full), its ``maillon serve --workers 0`` and an API token.

    With ``keep``, the database outlives the run (a file ``<name>.filled`` beside it says how
    many runs it was written with, and when): a later run with the same ``--keep`` folder
    measures it again without writing it, once what the earlier measurement added is deleted.
    """

    def __init__(
        self, procs: Processes, workdir: Path, name: str, postgres: str | None, keep: bool
    ) -> None:
        self.name = name
        self.dir = workdir / name
        self.marker = workdir / f"{name}.filled"
        self.keep = keep
        self.reuse = keep and self.marker.exists()
        self.dir.mkdir(exist_ok=True)
        self.database = Database(self.dir, name, postgres, fresh=not self.reuse)
        self.url = self.database.url
        self.procs = procs
        self.port = free_port()

    def fill(self, runs: int) -> None:
        if self.reuse:
            filled = json.loads(self.marker.read_text())
            if filled["runs"] == runs:
                log(f"{self.name}: reusing its {runs:,} runs; deleting what was added since")
                self._trim(filled["at"])
                return
        ui_data.make(self.dir, self.url, runs, flows=50, days=30, failed=0.03)
        if self.keep:
            self.marker.write_text(json.dumps({"runs": runs, "at": time.time()}))

    def _trim(self, filled_at: float) -> None:
        """Delete the events, runs and steps made after ``filled_at`` (ids are time-ordered)."""
        engine = create_db_engine(ui_data.settings_for(self.dir, self.url).resolved_database_url)
        floor = {"floor": id_floor(filled_at)}
        with engine.begin() as conn:
            for table, column in (("steps", "run_id"), ("runs", "id"), ("events", "id")):
                conn.execute(text(f"DELETE FROM {table} WHERE {column} >= :floor"), floor)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE runs, events, steps")
        engine.dispose()

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

    def api_client(self) -> httpx.Client:
        """A client of this install's API, signed in with its token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers)

    def claimer(self) -> Runtime:
        """A runtime on this database whose writer claims runs, as a worker's does."""
        runtime = Runtime(ui_data.settings_for(self.dir, self.url))
        runtime.writer.start()
        return runtime

    def claim_ms(self, runtime: Runtime) -> float:
        """Milliseconds to claim 64 due runs through ``runtime``'s writer."""
        began = time.perf_counter()
        claimed = runtime.writer.submit_sync(ClaimRuns("growth", 64, 600))
        spent = (time.perf_counter() - began) * 1000
        if len(claimed.runs) < 64:
            raise RuntimeError(f"{self.name}: the queue ran dry; make intake run longer")
        return spent

    def stop(self) -> None:
        self.procs.stop(self.name)
        if not self.keep:
            self.database.drop()


def median(values: list[float]) -> float:
    return statistics.median(values)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def measure(args: argparse.Namespace, workdir: Path, procs: Processes) -> list[tuple[str, ...]]:
    installs = {
        name: Install(procs, workdir, f"growth_{name}", args.postgres, args.keep is not None)
        for name in ("small", "full")
    }
    log(f"writing a database of {args.baseline_runs:,} runs and one of {args.runs:,}")
    installs["small"].fill(args.baseline_runs)
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
        name: {
            "run list, newest 50": "/api/runs?limit=50",
            "run list, a page 15 days back": f"/api/runs?limit=50&before={fortnight}",
            "run list, one flow's failed runs": (
                f"/api/runs?limit=50&status=failed&flow={install.flow_id}"
            ),
        }
        for name, install in installs.items()
    }
    api: dict[str, dict[str, list[float]]] = {
        what: {n: [] for n in installs} for what in paths["full"]
    }
    clients = {name: install.api_client() for name, install in installs.items()}
    try:
        for name, client in clients.items():
            for path in paths[name].values():
                client.get(path).raise_for_status()  # warm-up
        for _ in range(args.rounds):
            for name, client in clients.items():
                for what, path in paths[name].items():
                    for _ in range(args.requests // args.rounds):
                        began = time.perf_counter()
                        client.get(path).raise_for_status()
                        api[what][name].append((time.perf_counter() - began) * 1000)
    finally:
        for client in clients.values():
            client.close()
    for install in installs.values():
        procs.stop(install.name)
    claims: dict[str, list[float]] = {name: [] for name in installs}
    claimers = {name: install.claimer() for name, install in installs.items()}
    try:
        for _ in range(args.rounds):
            for name, install in installs.items():
                for _ in range(args.claims // args.rounds):
                    claims[name].append(install.claim_ms(claimers[name]))
    finally:
        for runtime in claimers.values():
            runtime.close()

    def row(what: str, small: float, full: float, unit: str, higher_is_better: bool) -> tuple:
        ratio = full / small
        worse = (1 - ratio) if higher_is_better else (ratio - 1)
        shown = [f"{v:,.1f} {unit}".rstrip() for v in (small, full)]
        return (what, *shown, f"{ratio:.2f}", worse <= 0.15)

    out = [
        row(
            "intake, requests/s (median of rounds)",
            statistics.median(rps["small"]),
            statistics.median(rps["full"]),
            "",
            True,
        ),
        row("claim of 64 runs, median", *(median(claims[n]) for n in installs), "ms", False),
        row("claim of 64 runs, p99", *(p99(claims[n]) for n in installs), "ms", False),
    ]
    out += [
        row(f"{what}, median", *(median(v[n]) for n in installs), "ms", False)
        for what, v in api.items()
    ]
    for install in installs.values():
        install.stop()
    return [(a, b, c, d, "yes" if ok else "**no**") for a, b, c, d, ok in out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.growth")
    parser.add_argument("--runs", type=int, default=10_000_000)
    parser.add_argument("--baseline-runs", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="per intake round")
    parser.add_argument("--requests", type=int, default=50, help="per API measure")
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--workdir", type=Path, help="where the databases go (default: /tmp)")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the databases in DIR; a later run with the same DIR and --runs reuses them",
    )
    args = parser.parse_args(argv)
    if wrk_missing():
        return 2
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        workdir = args.keep
    else:
        workdir = Path(tempfile.mkdtemp(prefix="maillon-growth-", dir=args.workdir))
    procs = Processes(workdir)
    try:
        rows = measure(args, workdir, procs)
    except BaseException as exc:
        procs.log_abort(exc)
        return 1
    finally:
        procs.stop_all()
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    database = f"PostgreSQL ({args.postgres})" if args.postgres else "SQLite"
    print(
        f"{database}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{args.baseline_runs:,} runs vs {args.runs:,} runs:\n"
    )
    print(f"| Measure | {args.baseline_runs:,} runs | {args.runs:,} runs | Ratio | Within 15 % |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
