"""Every statement the hot paths send about runs, events and steps is served by an index.

A scenario runs what a busy install does all day (deliveries, claims, step records, retries,
failures, the run lists and pages, the dashboard, a replay, a retention sweep), recording every
statement that reaches the database, whether through SQLAlchemy or on the driver's cursor.
Each one that reads, changes or deletes those tables is then explained: on SQLite no plan may
``SCAN`` one of them without an index; on PostgreSQL, with sequential scans discouraged, no
plan may fall back to one (which it does only when no index can serve). A query that scans
costs in proportion to the history: flat cost at ten million runs depends on this test.

A claim must also read the queue in the order of an index and stop at its limit: a plan that
sorts the due runs costs in proportion to the backlog, just when workers must drain one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

import maillon.engine.db
import maillon.engine.intake
import maillon.engine.queue
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from tests.support.flows import ECHO, deliver, make_flow, wait_status
from tests.support.services import Blocking

BIG = re.compile(r"\b(runs|events|steps)\b", re.I)
READS_OR_CHANGES = re.compile(r"^\s*(SELECT|UPDATE|DELETE|WITH)\b", re.I)
CLAIM = re.compile(r"^\s*UPDATE runs SET status\b.*\bLIMIT\b", re.I | re.S)


def _recording(statements: list[tuple[str, Any]]) -> Callable[..., Any]:
    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def record(conn: Any, sql: str, params: Any = ()) -> Any:
            style = conn.dialect.paramstyle
            statements.append((maillon.engine.db._in_driver_style(sql, style), params))
            return real(conn, sql, params)

        return record

    return wrap


def test_hot_statements_use_indexes(
    runtime: Runtime, services: Blocking, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[tuple[str, Any]] = []
    wrap = _recording(statements)
    for module in (maillon.engine.intake, maillon.engine.queue):
        for name in ("driver_query", "driver_execute"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, wrap(getattr(module, name)))

    def on_execute(conn: Any, cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    event.listen(runtime.db, "before_cursor_execute", on_execute)
    try:
        flow_id, token = make_flow(services, ECHO)
        failing, failing_token = make_flow(
            services, ECHO | {"input": {"text": "x", "fail": "permanent"}}
        )
        retried, retried_token = make_flow(
            services, ECHO | {"input": {"text": "x", "fail": "transient:1"}}
        )
        ok = [deliver(runtime, token, key=f"k{i}").run_ids[0] for i in range(3)]
        deliver(runtime, token, key="k0")  # a duplicate
        (bad,) = deliver(runtime, failing_token).run_ids
        (again,) = deliver(runtime, retried_token).run_ids
        for run_id in ok:
            wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
        wait_status(runtime, services, bad, RunStatus.FAILED)
        wait_status(runtime, services, again, RunStatus.SUCCEEDED)
        services.runs.list_runs()
        services.runs.list_runs(flow_id)
        services.runs.list_runs(status=RunStatus.FAILED)
        services.runs.list_runs(failing, RunStatus.FAILED)
        services.runs.list_runs(flow_id, before=ok[-1])
        services.runs.list_runs(since=time.time() - 3600)
        services.runs.browse(flow="test", status=RunStatus.FAILED)
        services.runs.list_events()
        services.runs.get_event(services.runs.history(ok[0])[0].event_id)
        services.runs.detail(bad)
        services.stats.dashboard()
        services.stats.activity([flow_id, failing, retried])
        services.runs.replay(bad)
        wait_status(runtime, services, bad, RunStatus.FAILED)
        services.retention.sweep(now=time.time() + 400 * 86400)
    finally:
        event.remove(runtime.db, "before_cursor_execute", on_execute)

    hot = [(sql, p) for sql, p in statements if BIG.search(sql) and READS_OR_CHANGES.match(sql)]
    assert len(hot) > 20, "the scenario sent too few statements to prove anything"
    assert any(CLAIM.match(sql) for sql, _ in hot), "no claim was recorded"
    postgres = runtime.db.dialect.name == "postgresql"
    scans = []
    with runtime.db.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if postgres:
            cursor.execute("SET enable_seqscan = off")
            # Discouraged too: a sort then stays in a plan only where no index gives the order.
            cursor.execute("SET enable_sort = off")
        first: dict[str, Any] = {}
        for sql, params in hot:
            first.setdefault(sql, params)
        for sql, params in first.items():
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            cursor.execute(explain + sql, params)
            lines = [str(row[-1] if not postgres else row[0]) for row in cursor.fetchall()]
            bad_lines = [
                line
                for line in lines
                if _scans_a_big_table(line, postgres) or (CLAIM.match(sql) and _sorts(line))
            ]
            if bad_lines:
                scans.append((sql, bad_lines))
        cursor.close()
        conn.rollback()
    assert not scans, "\n\n".join(f"{sql}\n  -> {lines}" for sql, lines in scans)


def _scans_a_big_table(line: str, postgres: bool) -> bool:
    if postgres:
        return bool(re.search(r"Seq Scan on (runs|events|steps)\b", line))
    match = re.match(r"SCAN (\w+)", line)
    return bool(match and BIG.fullmatch(match[1]) and "USING" not in line)


def _sorts(line: str) -> bool:
    return "USE TEMP B-TREE FOR ORDER BY" in line or bool(re.search(r"\bSort\b", line))
