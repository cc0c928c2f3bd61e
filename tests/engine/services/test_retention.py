"""Retention: what is older than its flow keeps goes, in batches, with its steps, replays and
events; what is still work to do, or kept longer, stays."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner
from sqlalchemy import event
from sqlmodel import Session, select

from maillon.connectors.registry import Registry
from maillon.engine.db import advisory_lock, create_db_engine
from maillon.engine.ids import id_at
from maillon.engine.models import (
    EventRow,
    RejectedDeliveryRow,
    ReplayRow,
    RunRow,
    RunStatus,
    StepRow,
    StepStatus,
)
from maillon.engine.runtime import Runtime
from maillon.engine.services.retention import Retention
from maillon.engine.settings import Settings
from maillon.web.cli import main as cli_main
from tests.support.flows import ECHO, make_flow
from tests.support.probe import probe
from tests.support.services import Blocking

DAY = 86400.0
NOW = time.time()


def _run(s: Session, flow_id: str, status: RunStatus, days_ago: float, event: str = "") -> str:
    """A run created ``days_ago`` with one step (and its own event unless ``event`` is given)."""
    at = NOW - days_ago * DAY
    if not event:
        event = id_at(at)
        s.add(
            EventRow(id=event, flow_id=flow_id, source="hook", body="{}", meta="{}", received_at=at)
        )
    run_id = id_at(at)
    s.add(
        RunRow(
            id=run_id,
            flow_id=flow_id,
            event_id=event,
            status=status,
            available_at=at,
            created_at=at,
        )
    )
    s.add(StepRow(run_id=run_id, step_key="notify", position=0, status=StepStatus.SUCCEEDED))
    s.add(
        ReplayRow(
            id=id_at(at + 1),
            run_id=run_id,
            replayed_at=at + 1,
            status=RunStatus.FAILED,
            from_version=1,
            to_version=1,
            steps="[]",
        )
    )
    return run_id


def test_a_sweep_deletes_by_age_status_and_flow(runtime: Runtime, services: Blocking) -> None:
    default_flow, _ = make_flow(services, ECHO)
    short_flow, _ = make_flow(services, ECHO, retention={"days": 1, "failed_days": 2})
    with Session(runtime.db) as s:
        gone = [
            _run(s, default_flow, RunStatus.SUCCEEDED, 40),
            _run(s, default_flow, RunStatus.FAILED, 100),
            _run(s, short_flow, RunStatus.SUCCEEDED, 1.5),
            _run(s, short_flow, RunStatus.FAILED, 3),
            _run(s, "a-deleted-flow", RunStatus.SUCCEEDED, 31),
            _run(s, default_flow, RunStatus.CANCELLED, 100),
        ]
        kept = [
            _run(s, default_flow, RunStatus.SUCCEEDED, 10),
            _run(s, default_flow, RunStatus.FAILED, 40),
            _run(s, default_flow, RunStatus.HELD, 400),
            _run(s, default_flow, RunStatus.QUEUED, 400),
            _run(s, short_flow, RunStatus.FAILED, 1.5),
            # Cancelled after waiting, as long as failed runs: it may still be replayed.
            _run(s, default_flow, RunStatus.CANCELLED, 40),
        ]
        # One event, two runs (an app event fanned out to two flows): it stays with the one
        # that is kept.
        shared = s.get(RunRow, kept[1])
        assert shared is not None
        gone.append(_run(s, short_flow, RunStatus.SUCCEEDED, 40, event=shared.event_id))
        # An event no run was ever started for, older than any retention.
        orphan = id_at(NOW - 200 * DAY)
        s.add(EventRow(id=orphan, source="hook", body="{}", meta="{}", received_at=NOW - 200 * DAY))
        s.commit()

    # Batches of two, so that every loop turns more than once.
    retention = Retention(runtime.db, runtime.writer, runtime.settings, batch=2)
    pruned = asyncio.run(retention.sweep(now=NOW))

    assert pruned is not None
    assert pruned.runs == len(gone)
    with Session(runtime.db) as s:
        runs = set(s.exec(select(RunRow.id)).all())
        steps = set(s.exec(select(StepRow.run_id)).all())
        replays = set(s.exec(select(ReplayRow.run_id)).all())
        events = set(s.exec(select(EventRow.id)).all())
        kept_events = {r.event_id for r in s.exec(select(RunRow)).all()}
    assert runs == set(kept)
    assert steps == replays == set(kept)
    assert events == kept_events  # every event of a deleted run went, the orphan too
    # Each deleted run's own event, and the orphan; not the shared event.
    assert pruned.events == (len(gone) - 1) + 1


def test_zero_keeps_for_ever(make_settings: Callable[..., Settings]) -> None:
    runtime = Runtime(make_settings(retention_days=0, retention_failed_days=0), Registry([probe]))
    runtime.open()
    try:
        services = Blocking(runtime.services)
        flow, _ = make_flow(services, ECHO)
        with Session(runtime.db) as s:
            old = [_run(s, flow, RunStatus.SUCCEEDED, 4000), _run(s, flow, RunStatus.FAILED, 4000)]
            s.commit()
        pruned = services.retention.sweep()
        assert pruned is not None and (pruned.runs, pruned.events) == (0, 0)
        with Session(runtime.db) as s:
            assert set(s.exec(select(RunRow.id)).all()) == set(old)
    finally:
        runtime.close()


def test_one_process_sweeps_at_a_time(runtime: Runtime, services: Blocking) -> None:
    # Another process's engine (serve's worker processes share a SQLite file too).
    other = create_db_engine(runtime.settings.resolved_database_url)
    try:
        with advisory_lock(other, "retention"):
            assert services.retention.sweep() is None
        assert services.retention.sweep() is not None
    finally:
        other.dispose()


def test_the_cli_sweeps_on_demand(runtime: Runtime, services: Blocking) -> None:
    flow, _ = make_flow(services, ECHO)
    with Session(runtime.db) as s:
        _run(s, flow, RunStatus.SUCCEEDED, 45)
        s.commit()
    settings = runtime.settings
    env = {
        "MAILLON_DATA_DIR": str(settings.data_dir),
        "MAILLON_DATABASE_URL": settings.resolved_database_url,
        "MAILLON_SECRET_KEY": "test-secret",
    }
    result = CliRunner().invoke(cli_main, ["runs", "prune"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 runs and 1 events deleted" in result.output


def test_rejected_deliveries_go_after_the_failed_runs_retention(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, _ = make_flow(services, ECHO)
    with Session(runtime.db) as s:
        for days_ago in (100, 89, 1):
            at = NOW - days_ago * DAY
            s.add(
                RejectedDeliveryRow(
                    id=id_at(at), flow_id=flow_id, received_at=at, reason="r", meta="{}", body=""
                )
            )
        s.commit()
    retention = Retention(runtime.db, runtime.writer, runtime.settings, batch=2)
    pruned = asyncio.run(retention.sweep(now=NOW))
    assert pruned is not None and pruned.rejected == 1  # 90 days by default
    with Session(runtime.db) as s:
        assert len(s.exec(select(RejectedDeliveryRow)).all()) == 2


def test_a_run_replayed_while_a_sweep_reads_it_stays(runtime: Runtime, services: Blocking) -> None:
    # A sweep read the old failed run, then deleted it with its steps whatever it had become:
    # on PostgreSQL a replay committed in between (queued now) was lost with its record.
    flow, _ = make_flow(services, ECHO)
    with Session(runtime.db) as s:
        old = _run(s, flow, RunStatus.FAILED, 100)
        s.commit()
    replayed: list[str] = []

    def replay_in_between(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("DELETE FROM runs") and not replayed:
            replayed.append(statement)
            cursor.execute(f"UPDATE runs SET status = 'queued' WHERE id = '{old}'")

    event.listen(runtime.db, "before_cursor_execute", replay_in_between)
    try:
        retention = Retention(runtime.db, runtime.writer, runtime.settings)
        pruned = asyncio.run(retention.sweep(now=NOW))
    finally:
        event.remove(runtime.db, "before_cursor_execute", replay_in_between)
    assert replayed and pruned is not None and pruned.runs == 0
    with Session(runtime.db) as s:
        assert s.get(RunRow, old) is not None
        assert s.exec(select(StepRow.run_id)).all() == [old]
        assert s.exec(select(ReplayRow.run_id)).all() == [old]
