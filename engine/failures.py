"""What a failed run sets off, in the very transaction that records its failure.

When the queue records a run as failed (:class:`~maillon.engine.queue.RecordStep`), in the
same transaction, :func:`record_failure`:

1. counts the failure among the flow's failures in a row; a flow whose ``on_failure.
   pause_after`` is reached is **paused**: switched off, its queued runs held, its later
   deliveries held too (its app registrations stay), until someone resumes it;
2. stores an event describing the failure (:func:`failure_event`) and queues a run of every
   error flow (trigger ``maillon.run_failed``) that takes it, as intake does for a delivery;
   unless the failed run was itself an error flow's: failures never loop;
3. adds the failure to the flow's alert batch (:mod:`maillon.engine.alerts`).

All of it commits with the run's failure, or none of it does: a process that dies right after
loses nothing, and a run's failure is never told twice. A success ends a flow's failures in a
row (:func:`reset_failures`), except a paused flow's: it keeps the count that paused it until it
is resumed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection

from maillon.engine.alerts import add_to_batch, flow_subject, read_settings
from maillon.engine.db import driver_execute, driver_query
from maillon.engine.flows import RUN_FAILED, RunFailedTrigger, parse_flow
from maillon.engine.intake import RunTarget, store_event

__all__ = ["SAMPLE_EVENT", "Failure", "failure_event", "record_failure", "reset_failures"]

#: ``events.source`` of the events that describe failed runs.
SOURCE = RUN_FAILED


@dataclass(frozen=True)
class Failure:
    """How a run failed, as its executor saw it."""

    #: The run's error, as recorded with it.
    error: str
    #: ``permanent``: refused at once; ``exhausted``: transient errors until no attempt was left.
    kind: Literal["permanent", "exhausted"]
    #: The page of the run (for people reading the alert or the error flow's message).
    run_url: str
    #: The event that started the run (the error flows receive it with the failure).
    event_id: str
    #: The step that failed (``None`` when the run failed before any, e.g. its flow was deleted).
    step: str | None = None
    action: str | None = None
    attempts: int = 0


def failure_event(
    *,
    flow_id: str,
    flow_name: str,
    run_id: str,
    failure: Failure,
    event: Any,
    paused: bool,
    failed_at: float,
) -> dict[str, Any]:
    """The event an error flow receives: what failed, where to see it, and what started it."""
    return {
        "flow": {"id": flow_id, "name": flow_name},
        "run": {"id": run_id, "url": failure.run_url},
        "step": None if failure.step is None else {"key": failure.step, "action": failure.action},
        "error": failure.error,
        "failure": failure.kind,
        "attempts": failure.attempts,
        "failed_at": dt.datetime.fromtimestamp(failed_at, tz=dt.UTC).isoformat(timespec="seconds"),
        "paused": paused,
        "event": event,
    }


#: What an error flow's templates are checked and previewed against.
SAMPLE_EVENT = failure_event(
    flow_id="01J0000000000000000000FLOW",
    flow_name="New Particeep transaction to Slack",
    run_id="01J00000000000000000000RUN",
    failure=Failure(
        error="step notify: channel_not_found (check the channel ID; a private channel is "
        "invisible until the bot is invited)",
        kind="permanent",
        run_url="http://127.0.0.1:8000/runs/01J00000000000000000000RUN",
        event_id="01J0000000000000000000EVNT",
        step="notify",
        action="slack.send_message",
        attempts=1,
    ),
    event={"id": "0f6c1c9e-5d1b-4f7e-9a55-2b8f5c0e1d11", "amount": 150000, "currency": "EUR"},
    paused=False,
    failed_at=1_777_713_300.0,
)

# A paused flow keeps the count that paused it (see :func:`reset_failures`).
_COUNT = (
    "UPDATE flows SET failures_in_row = failures_in_row "
    "+ CASE WHEN paused_at IS NULL THEN 1 ELSE 0 END WHERE id = ? "
    "RETURNING name, enabled, version, definition, failures_in_row, error_flow"
)
_PAUSE = "UPDATE flows SET enabled = ?, paused_at = ? WHERE id = ? AND enabled = ?"
_HOLD = "UPDATE runs SET status = 'held' WHERE status = 'queued' AND flow_id = ?"
_ERROR_FLOWS = "SELECT id, enabled, paused_at, version, definition FROM flows WHERE error_flow = ?"


def record_failure(
    conn: Connection, run_id: str, flow_id: str, failure: Failure, now: float
) -> int:
    """Everything a run's failure sets off (see the module's docstring), in ``conn``'s
    transaction; return how many error-flow runs it queued."""
    counted = driver_query(conn, _COUNT, [flow_id])
    if not counted:
        # The flow was deleted: nothing to pause or alert about; error flows still hear of it.
        return _start_error_flows(conn, run_id, flow_id, "", failure, False, now)
    name, enabled, version, definition, in_row, is_error_flow = counted[0]
    policy = parse_flow(flow_id, version, definition).failure_policy
    paused = False
    if enabled and policy.pause_after is not None and in_row >= policy.pause_after:
        driver_execute(conn, _PAUSE, [False, now, flow_id, True])
        driver_execute(conn, _HOLD, [flow_id])
        paused = True
    queued = 0
    if not is_error_flow:
        queued = _start_error_flows(conn, run_id, flow_id, name, failure, paused, now)
    settings = read_settings(conn) if policy.alert else None
    if settings is not None:
        add_to_batch(
            conn,
            settings,
            flow_subject(flow_id),
            label=name,
            error=failure.error,
            now=now,
            flow_id=flow_id,
            run_id=run_id,
            paused=paused,
        )
    return queued


def _start_error_flows(
    conn: Connection,
    run_id: str,
    flow_id: str,
    flow_name: str,
    failure: Failure,
    paused: bool,
    now: float,
) -> int:
    """Store the failure's event for the error flows that take it; return the runs queued."""
    runs: list[RunTarget] = []
    for error_flow_id, enabled, paused_at, version, definition in driver_query(
        conn, _ERROR_FLOWS, [True]
    ):
        if not enabled and paused_at is None:
            continue  # switched off: it does not listen
        trigger = parse_flow(error_flow_id, version, definition).trigger
        if isinstance(trigger, RunFailedTrigger) and trigger.matches(
            flow_id, flow_name, failure.kind
        ):
            # Its published version, the one whose trigger matched; a paused one holds it.
            runs.append((error_flow_id, version, not enabled))
    if not runs:
        return 0
    rows = driver_query(conn, "SELECT body FROM events WHERE id = ?", [failure.event_id])
    event = json.loads(rows[0][0]) if rows else None
    body = failure_event(
        flow_id=flow_id,
        flow_name=flow_name,
        run_id=run_id,
        failure=failure,
        event=event,
        paused=paused,
        failed_at=now,
    )
    store_event(conn, SOURCE, body, runs)
    return sum(1 for _, _, held in runs if not held)


def reset_failures(conn: Connection, flow_ids: list[str]) -> None:
    """End the failures in a row of flows whose run just succeeded.

    Not those of a paused flow: until it is resumed (which counts afresh), it keeps the number
    that paused it, for its pages to say, whatever its released or replayed runs do meanwhile.
    """
    ids = sorted(set(flow_ids))
    if ids:
        marks = ",".join("?" * len(ids))
        driver_execute(
            conn,
            f"UPDATE flows SET failures_in_row = 0 WHERE id IN ({marks}) AND failures_in_row > 0"
            " AND paused_at IS NULL",
            ids,
        )
