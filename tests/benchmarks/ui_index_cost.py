"""What an index on runs costs the queue's writes: the shipped schema against two others.

    python -m tests.benchmarks.ui_data DIR            # once (SQLite)
    python -m tests.benchmarks.ui_index_cost DIR      # copies DIR's database three times

Lists of one flow's failed runs need an index that knows both the flow and the status. Every
run changes status two or three times (queued, running, then succeeded or failed), so such an
index is paid for on the queue's hot path. On copies of the benchmark database, this script
writes what the queue writes, in batches of its size, through the engine's own connection
settings (WAL, ``synchronous=FULL``): runs inserted 200 to a transaction as intake does, then
claimed and finished 64 to a transaction. Wall times on a shared machine are mostly the fsync
of each commit and vary from one turn to the next by more than the schemas differ; what the
script prints are the two figures that do not: the pages written to the WAL (automatic
checkpoints are off for the run, so the WAL holds every page written) and the CPU time of the
process, both per run. Three schemas:

- shipped: with ``ix_runs_flow_rare_status`` (see ``maillon.engine.models.RARE_STATUS_KEY``);
- without it: as before that index;
- ``(flow_id, status, id)``: a plain index instead of the expression.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from maillon.engine.db import create_db_engine
from maillon.engine.ids import new_id

RUNS = 60_000
INSERTS, UPDATES = 200, 64
SCHEMAS = {
    "shipped": [],
    "without it": ["DROP INDEX ix_runs_flow_rare_status"],
    "(flow_id, status, id) instead": [
        "DROP INDEX ix_runs_flow_rare_status",
        "CREATE INDEX ix_runs_flow_status_id ON runs (flow_id, status, id)",
    ],
}


def _wal_pages(path: Path, page_size: int) -> int:
    wal = path.with_name(path.name + "-wal")
    return (wal.stat().st_size - 32) // (page_size + 24) if wal.exists() else 0


def write(path: Path) -> list[tuple[float, float]]:
    """(WAL pages, CPU seconds) to insert :data:`RUNS` runs, then to claim and finish them."""
    engine = create_db_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        flows = [row[0] for row in conn.exec_driver_sql("SELECT id FROM flows")]
    ids = [new_id() for _ in range(RUNS)]
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
        figures = []
        cpu = time.process_time()
        for start in range(0, RUNS, INSERTS):
            now = time.time()
            rows = [
                (run_id, random.choice(flows), run_id, "queued", 0, now, now)
                for run_id in ids[start : start + INSERTS]
            ]
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(
                "INSERT INTO runs (id, flow_id, event_id, status, claims, available_at, "
                "created_at) VALUES " + ",".join(["(?,?,?,?,?,?,?)"] * len(rows)),
                [value for row in rows for value in row],
            )
            cursor.execute("COMMIT")
        figures.append((_wal_pages(path, page_size), time.process_time() - cpu))
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cpu = time.process_time()
        for status in ("running", "succeeded"):
            for start in range(0, RUNS, UPDATES):
                chunk = ids[start : start + UPDATES]
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(
                    f"UPDATE runs SET status = ? WHERE id IN ({','.join('?' * len(chunk))})",
                    [status, *chunk],
                )
                cursor.execute("COMMIT")
        figures.append((_wal_pages(path, page_size), time.process_time() - cpu))
    finally:
        raw.close()
        engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="the data directory ui_data.py made")
    parser.add_argument("--rounds", type=int, default=1, help="each schema's turns, interleaved")
    args = parser.parse_args()
    source = args.directory / "maillon.db"
    print("| Schema | insert: pages, CPU µs per run | claim + finish: pages, CPU µs per run |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory(dir=args.directory) as scratch:
        for name, statements in list(SCHEMAS.items()) * args.rounds:
            copy = Path(scratch) / "copy.db"
            shutil.copyfile(source, copy)
            engine = create_db_engine(f"sqlite:///{copy}")
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)
            engine.dispose()
            cells = [f"{pages / RUNS:.2f}, {cpu / RUNS * 1e6:.0f}" for pages, cpu in write(copy)]
            print(f"| {name} | {' | '.join(cells)} |")
            for leftover in Path(scratch).iterdir():
                leftover.unlink()


if __name__ == "__main__":
    main()
