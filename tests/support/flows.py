"""Engine tests' flows and deliveries: a flow of probe steps saved through the services, and an
event delivered to its hook as the hook endpoint hands it to the engine, without HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

from maillon.engine.flows import FlowDocument
from maillon.engine.intake import Accepted
from maillon.engine.queue import ClaimRuns
from maillon.engine.runtime import Runtime
from tests.support.db import run_until
from tests.support.services import Blocking

__all__ = ["ECHO", "TRANSACTION", "deliver", "make_flow", "wait_status", "webhook"]

#: A Particeep-like transaction: the default event body.
TRANSACTION = {
    "id": "0f6c1c9e-5d1b-4f7e-9a55-2b8f5c0e1d11",
    "amount": 150000,
    "currency": "EUR",
    "status": "PENDING",
}

#: A probe step whose input renders templates from the event.
ECHO = {
    "key": "notify",
    "action": "probe.send_echo",
    "connection": "p1",
    "input": {"text": "{{ event.amount | money(event.currency) }} {{ event.status }}"},
}


def make_flow(services: Blocking, *steps: dict[str, Any], **extra: Any) -> tuple[str, str]:
    """Save a flow (and the probe connection ``p1`` its steps use); return (flow id, hook token)."""
    if "p1" not in services.connections.names():
        services.connections.create("probe", "p1", {"label": "conn-label", "api_key": "k"})
    doc = FlowDocument.model_validate({"name": "test", "steps": list(steps), **extra})
    row = services.flows.save(doc).row
    return row.id, row.hook_token


def webhook(
    runtime: Runtime, token: str, body: Any = None, key: str | None = None
) -> Coroutine[Any, Any, Accepted]:
    """A delivery of ``body`` (default :data:`TRANSACTION`) to the hook ``token``, with an
    ``Idempotency-Key`` when ``key`` is given."""
    body = TRANSACTION if body is None else body
    headers = {"idempotency-key": key} if key is not None else {}
    meta = {"method": "POST", "headers": headers}
    return runtime.services.hooks.webhook(token, body, json.dumps(body), meta)


def deliver(runtime: Runtime, token: str, body: Any = None, key: str | None = None) -> Accepted:
    """:func:`webhook`, returning once the delivery is stored."""
    return asyncio.run(webhook(runtime, token, body, key))


def wait_status(runtime: Runtime, services: Blocking, run_id: str, *statuses: str) -> Any:
    """Run the workers until the run has one of ``statuses``; return (run, steps)."""
    run_until(runtime, lambda: services.runs.history(run_id)[0].status in statuses)
    run, steps, _ = services.runs.history(run_id)
    return run, steps


def claimed_by_a_dying_worker(runtime: Runtime, services: Blocking) -> str:
    """The id of a run of two steps (``first``, ``second``) that the worker ``dead-worker``
    claimed under a lease of 0.3 s, then stopped answering: it stays ``running`` until the
    lease runs out."""
    _, token = make_flow(services, {**ECHO, "key": "first"}, {**ECHO, "key": "second"})
    run_id: str = deliver(runtime, token).run_ids[0]
    claimed = runtime.writer.submit_sync(ClaimRuns("dead-worker", 10, lease_seconds=0.3))
    assert [r.id for r in claimed.runs] == [run_id]
    return run_id


def retrying_run(runtime: Runtime, services: Blocking) -> str:
    """The id of a run whose one step failed for a passing reason and is tried again in a
    minute: queued, not due, the step's first attempt in the ledger."""
    busy = {**ECHO, "input": {"text": "x", "fail": "transient:1", "retry_after": 60}}
    _, token = make_flow(services, busy)
    run_id = deliver(runtime, token).run_ids[0]
    run_until(runtime, lambda: services.runs.history(run_id)[1] != [])
    return run_id
