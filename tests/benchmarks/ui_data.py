"""A database with a month of history, to time the UI's pages against: ~1,000,000 runs.

    python -m tests.benchmarks.ui_data DIR                      # SQLite in DIR/maillon.db
    python -m tests.benchmarks.ui_data DIR --database-url URL   # PostgreSQL (its schema is reset)

What it writes, as the engine would have: ``--flows`` flows (50) of one or two HTTP steps, one
of them off and holding its events; for each run an event, the run, and its steps' ledger with
inputs, outputs, errors and the connector's details; runs spread evenly over ``--days`` days
(30) up to now, ``--failed`` of those that finished failed (3%; some flows fail far more often
than others, as in life), the last seconds' runs still queued or running; and the hourly
counts of ``run_stats`` that the queue keeps as runs finish. The owner account of
tests/support/accounts.py is set up, so that tests/benchmarks/ui_speed.py can sign in.

Rows go in on the driver's cursor, a transaction per 20,000 runs: on SQLite with multi-row
``INSERT`` statements (:func:`maillon.engine.db.driver_insert`) on a connection that skips the
fsync (``synchronous=OFF``: this is a benchmark's database, not one that acknowledged anything
to anyone); on PostgreSQL with ``COPY``, as binding the parameters of multi-row statements
cost psycopg several times the CPU they cost sqlite3
(figures in tests/benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from maillon.engine.db import create_db_engine, driver_insert, migrate
from maillon.engine.ids import id_at
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.accounts import OWNER

HOUR = 3600
BATCH = 20_000
EVENT_COLUMNS = ("id", "flow_id", "source", "body", "meta", "received_at")
RUN_COLUMNS = (
    "id",
    "flow_id",
    "flow_version",
    "event_id",
    "status",
    "claims",
    "available_at",
    "created_at",
    "started_at",
    "finished_at",
    "error",
)
_FLOW, _STATUS, _FINISHED = (RUN_COLUMNS.index(c) for c in ("flow_id", "status", "finished_at"))
STEP_COLUMNS = (
    "run_id",
    "step_key",
    "position",
    "status",
    "input",
    "output",
    "error",
    "details",
    "attempts",
    "started_at",
    "finished_at",
)
FLOW_COLUMNS = (
    "id",
    "name",
    "enabled",
    "hook_token",
    "definition",
    "version",
    "created_at",
    "updated_at",
)
NAMES = [
    "New subscription",
    "Transaction to the register",
    "KYC documents received",
    "Payment failed",
    "Investor signed up",
    "Fundraise closed",
    "Repayment scheduled",
    "Wallet credited",
]


def settings_for(directory: Path, database_url: str | None) -> Settings:
    """The settings the data and the speed scripts share (the key lives in ``directory``)."""
    return Settings(data_dir=directory, database_url=database_url, workers=0)


def _flows(count: int, now: float, failed: float) -> list[dict[str, Any]]:
    """``count`` flows: their rows' values, steps, share of the traffic and failure rate."""
    rng = random.Random(7)
    flows = []
    for n in range(count):
        two_steps = n % 3 == 0
        steps = [
            {
                "key": "notify",
                "action": "http.send_request",
                "input": {
                    "method": "POST",
                    "url": f"https://crm.example.com/api/v1/hooks/{n}",
                    "json_body": {"id": "{{ event.id }}", "amount": "{{ event.amount }}"},
                },
            }
        ]
        if two_steps:
            steps.append(
                {
                    "key": "register",
                    "action": "http.send_request",
                    "input": {"method": "PUT", "url": "https://sheets.example.com/rows"},
                }
            )
        name = f"{NAMES[n % len(NAMES)]} #{n + 1}"
        definition = {"name": name, "trigger": {"type": "webhook"}, "steps": steps}
        flows.append(
            {
                "id": id_at(now - 40 * 86_400 + n),
                "name": name,
                # The last flow is off: its events are held.
                "enabled": n != count - 1,
                "steps": [s["key"] for s in steps],
                "definition": json.dumps(definition),
                # A few busy flows, many quiet ones; a few fail far more often than the rest.
                "weight": rng.choice([1, 1, 1, 2, 3, 8]),
                "failure": rng.choice([0.002, 0.005, 0.01, 0.01, 0.02, 0.03, 0.15]),
            }
        )
    # Scaled so that the runs that finish fail at ``failed`` overall.
    running = [f for f in flows if f["enabled"]]
    mean = sum(f["weight"] * f["failure"] for f in running) / sum(f["weight"] for f in running)
    for f in flows:
        f["failure"] = min(0.9, f["failure"] * failed / mean)
    return flows


def _body(n: int, ts: float) -> str:
    return json.dumps(
        {
            "id": f"tx-{n:09d}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
            "issuer_id": "7d0e5a2c-3b4f-4c8e-9a1d-6f2b8c0e4a13",
            "recipient_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "fundraise_id": "c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f",
            "amount": 1000 + n % 500_000,
            "fees": 15,
            "currency": "EUR",
            "status": "PENDING",
            "payment_method": "WALLET",
            "comment": "Souscription au prêt participatif — tranche 2",
            "investor": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        }
    )


_META = json.dumps({"method": "POST", "headers": {"content-type": "application/json"}})
_ERROR = "POST https://crm.example.com/api/v1/hooks/{n} answered 503 Service Unavailable"
_DETAILS = json.dumps(
    {"status": 503, "url": "https://crm.example.com/api/v1/hooks", "body": "upstream down"}
)


def _rows(
    flows: list[dict[str, Any]], total: int, start: float, now: float
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (events, runs, steps) rows, oldest first; fills ``stats`` as runs finish."""
    rng = random.Random(11)
    weights = [f["weight"] for f in flows]
    span = now - start
    events: list[tuple[Any, ...]] = []
    runs: list[tuple[Any, ...]] = []
    steps: list[tuple[Any, ...]] = []
    for n in range(total):
        ts = start + span * n / total
        flow = rng.choices(flows, weights)[0]
        event_id, run_id = id_at(ts), id_at(ts + 0.001)
        events.append((event_id, flow["id"], "webhook", _body(n, ts), _META, ts))
        age = now - ts
        if not flow["enabled"]:
            status = "held"
        elif age < 20:
            status = "queued"
        elif age < 30:
            status = "running"
        else:
            status = "failed" if rng.random() < flow["failure"] else "succeeded"
        started = ts + 0.005 if status != "held" and status != "queued" else None
        finished = ts + 0.05 + rng.random() * 0.4 if status in ("succeeded", "failed") else None
        error = None
        if status in ("succeeded", "failed"):
            assert started is not None and finished is not None
            failing = rng.randrange(len(flow["steps"])) if status == "failed" else -1
            for position, key in enumerate(flow["steps"]):
                ok = position != failing
                steps.append(
                    (
                        run_id,
                        key,
                        position,
                        "succeeded" if ok else "failed",
                        f'{{"method": "POST", "url": "https://crm.example.com/api/v1/hooks/{n}",'
                        f' "json_body": {{"id": "tx-{n:09d}", "amount": {1000 + n % 500_000}}}}}',
                        '{"status": 200, "headers": {}, "body": {"ok": true}}' if ok else None,
                        None if ok else _ERROR.format(n=n),
                        None if ok else _DETAILS,
                        1 if ok else 5,
                        started,
                        finished,
                    )
                )
                if not ok:
                    error = f"step {key}: {_ERROR.format(n=n)} (gave up after 5 attempts)"
                    break
        claims = 1 if started else 0
        runs.append(
            (run_id, flow["id"], 1, event_id, status, claims, ts, ts, started, finished, error)
        )
        if len(runs) == BATCH:
            yield events, runs, steps
            events, runs, steps = [], [], []
    if runs:
        yield events, runs, steps


def _counts(runs: list[tuple[Any, ...]], into: dict[tuple[str, int], list[int]]) -> None:
    """Add finished runs to the hourly counts, as the queue does when it finishes them."""
    for run in runs:
        status, finished = run[_STATUS], run[_FINISHED]
        if status in ("succeeded", "failed"):
            row = into[(run[_FLOW], int(finished // HOUR) * HOUR)]
            row[status == "failed"] += 1


def _insert(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """``rows`` into ``table``, the fastest way the driver offers."""
    if conn.dialect.name != "postgresql":
        driver_insert(conn, table, columns, rows)
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _reset(url: str) -> None:
    """Empty the PostgreSQL database at ``url`` (its public schema)."""
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make(
    directory: Path, database_url: str | None, total: int, flows: int, days: int, failed: float
) -> None:
    """Write the database; print what it holds and how long it took."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = settings_for(directory, database_url)
    url = settings.resolved_database_url
    if database_url:
        _reset(url)
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    migrate(url)
    began = time.perf_counter()
    now = time.time()
    made = _flows(flows, now, failed)
    engine = create_db_engine(url)
    stats: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # On the driver's connection: outside the transaction SQLAlchemy would begin.
            conn.connection.driver_connection.execute("PRAGMA synchronous=OFF")
        with conn.begin():
            driver_insert(
                conn,
                "flows",
                FLOW_COLUMNS,
                [
                    (
                        f["id"],
                        f["name"],
                        f["enabled"],
                        secrets.token_urlsafe(24),
                        f["definition"],
                        1,
                    )
                    + (now - 40 * 86_400,) * 2
                    for f in made
                ],
            )
            # Each flow's version 1, which its runs ran.
            driver_insert(
                conn,
                "flow_versions",
                ("flow_id", "version", "definition", "published_at"),
                [(f["id"], 1, f["definition"], now - 40 * 86_400) for f in made],
            )
        done = 0
        for events, runs, steps in _rows(made, total, now - days * 86_400, now):
            with conn.begin():
                _insert(conn, "events", EVENT_COLUMNS, events)
                _insert(conn, "runs", RUN_COLUMNS, runs)
                _insert(conn, "steps", STEP_COLUMNS, steps)
            _counts(runs, stats)
            done += len(runs)
            print(f"\r{done:,} runs", end="", file=sys.stderr, flush=True)
        with conn.begin():
            driver_insert(
                conn,
                "run_stats",
                ("flow_id", "hour", "succeeded", "failed"),
                [(f, h, ok, ko) for (f, h), (ok, ko) in stats.items()],
            )
            counts = dict(
                conn.exec_driver_sql("SELECT status, count(*) FROM runs GROUP BY status").all()
            )
        # PostgreSQL's autovacuum vacuums and analyses tables this size soon after they are
        # written (the visibility map lets index-only scans skip the table); SQLite never
        # analyses by itself, so its planner gets no statistics here either.
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    print(file=sys.stderr)
    _set_up_owner(settings)
    elapsed = time.perf_counter() - began
    print(f"{total:,} runs of {flows} flows over {days} days written in {elapsed:.0f} s: {counts}")
    if not database_url:
        size = Path(url.removeprefix("sqlite:///")).stat().st_size
        print(f"database: {url} ({size / 1024**3:.2f} GiB)")


def _set_up_owner(settings: Settings) -> None:
    import asyncio

    runtime = Runtime(settings)
    try:
        asyncio.run(runtime.services.accounts.set_up(*OWNER))
    finally:
        runtime.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="data directory (SQLite database, key)")
    parser.add_argument("--database-url", help="a PostgreSQL URL instead of SQLite (reset!)")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--flows", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--failed", type=float, default=0.03, help="share of runs that fail")
    args = parser.parse_args()
    make(args.directory, args.database_url, args.runs, args.flows, args.days, args.failed)


if __name__ == "__main__":
    main()
