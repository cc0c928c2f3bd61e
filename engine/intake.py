"""Accepting deliveries: store the event and queue its runs in one transaction.

This is the hot path. A batch of deliveries costs a handful of statements whatever its size:
one look-up of the hook tokens, one of the dedup keys, one multi-row insert per table.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError

from engine.flows import FlowSpec
from engine.ids import new_id
from engine.models import EventRow, FlowRow, RunRow, RunStatus
from engine.templating import TemplateRenderError, render_value
from engine.writer import Op

__all__ = ["Accepted", "Delivery", "UnknownHook", "hook_dedup_scope"]

log = logging.getLogger(__name__)

_flows = FlowRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_runs = RunRow.__table__  # type: ignore[attr-defined]

_TOKEN_LOOKUP = select(
    _flows.c.id, _flows.c.hook_token, _flows.c.enabled, _flows.c.version, _flows.c.definition
).where(_flows.c.hook_token.in_(bindparam("tokens", expanding=True)))
_DEDUP_LOOKUP = select(_events.c.id, _events.c.dedup_scope, _events.c.dedup_key).where(
    _events.c.dedup_key.in_(bindparam("keys", expanding=True))
)
_RUNS_OF_EVENT = select(_runs.c.id).where(_runs.c.event_id == bindparam("event_id"))


class UnknownHook(LookupError):
    """No flow has this hook token."""


@dataclass(frozen=True)
class Accepted:
    """What the sender is told: the event and its runs are committed."""

    event_id: str
    run_ids: list[str]
    held: bool = False
    duplicate: bool = False


def hook_dedup_scope(flow_id: str) -> str:
    """Dedup keys of a webhook flow are unique per flow."""
    return f"flow:{flow_id}"


# Parsed dedup templates by (flow id, version): parsing the definition JSON per delivery would
# cost more than the insert itself.
_dedup_cache: dict[tuple[str, int], str | None] = {}


def _dedup_template(flow_id: str, version: int, definition: str) -> str | None:
    key = (flow_id, version)
    if key not in _dedup_cache:
        if len(_dedup_cache) > 10_000:
            _dedup_cache.clear()
        spec = FlowSpec.model_validate_json(definition)
        _dedup_cache[key] = spec.trigger.dedup
    return _dedup_cache[key]


@dataclass
class Delivery(Op[Accepted]):
    """One request to ``/hooks/{token}``: parsed body, raw body text, request metadata."""

    token: str
    body: Any
    body_text: str
    meta: dict[str, Any]
    idempotency_key: str | None = None

    def apply(self, conn: Connection) -> Accepted:
        return self.apply_many(conn, [self])[0]  # type: ignore[no-any-return]

    @classmethod
    def apply_many(cls, conn: Connection, ops: list[Op[Any]]) -> list[Any]:
        deliveries: list[Delivery] = ops  # type: ignore[assignment]
        try:
            with conn.begin_nested():
                return _accept(conn, deliveries)
        except IntegrityError:
            # Another process inserted the same dedup key between our look-up and our insert:
            # redo one by one, so that each delivery sees the other's committed row.
            if len(deliveries) == 1:
                with conn.begin_nested():
                    return _accept(conn, deliveries)
            results: list[Any] = []
            for d in deliveries:
                try:
                    with conn.begin_nested():
                        results.extend(_accept(conn, [d]))
                except Exception as exc:
                    results.append(exc)
            return results


def _accept(conn: Connection, deliveries: list[Delivery]) -> list[Any]:
    now = time.time()
    flows = {
        row.hook_token: row
        for row in conn.execute(_TOKEN_LOOKUP, {"tokens": sorted({d.token for d in deliveries})})
    }
    results: list[Any] = [None] * len(deliveries)
    dedup: list[tuple[str, str] | None] = [None] * len(deliveries)
    for i, d in enumerate(deliveries):
        flow = flows.get(d.token)
        if flow is None:
            results[i] = UnknownHook(d.token)
            continue
        key = d.idempotency_key
        if key is None:
            template = _dedup_template(flow.id, flow.version, flow.definition)
            if template:
                key = _render_dedup(template, d)
        if key:
            dedup[i] = (hook_dedup_scope(flow.id), key[:500])

    keys = sorted({k[1] for k in dedup if k})
    seen: dict[tuple[str, str], str] = {}
    if keys:
        for row in conn.execute(_DEDUP_LOOKUP, {"keys": keys}):
            seen[(row.dedup_scope, row.dedup_key)] = row.id

    event_rows: list[dict[str, Any]] = []
    run_rows: list[dict[str, Any]] = []
    for i, d in enumerate(deliveries):
        if results[i] is not None:
            continue
        flow = flows[d.token]
        scope_key = dedup[i]
        if scope_key and scope_key in seen:
            original = seen[scope_key]
            run_ids = [r.id for r in conn.execute(_RUNS_OF_EVENT, {"event_id": original})]
            results[i] = Accepted(original, run_ids, duplicate=True)
            continue
        event_id = new_id()
        if scope_key:
            seen[scope_key] = event_id  # a second copy in the same batch is a duplicate too
        event_rows.append(
            {
                "id": event_id,
                "flow_id": flow.id,
                "source": "webhook",
                "dedup_scope": scope_key[0] if scope_key else None,
                "dedup_key": scope_key[1] if scope_key else None,
                "body": d.body_text,
                "meta": json.dumps(d.meta, separators=(",", ":")),
                "received_at": now,
            }
        )
        run_id = new_id()
        held = not flow.enabled
        run_rows.append(
            {
                "id": run_id,
                "flow_id": flow.id,
                "event_id": event_id,
                "status": RunStatus.HELD if held else RunStatus.QUEUED,
                "claims": 0,
                "available_at": now,
                "created_at": now,
            }
        )
        results[i] = Accepted(event_id, [run_id], held=held)
    if event_rows:
        conn.execute(_events.insert(), event_rows)
        conn.execute(_runs.insert(), run_rows)
    return results


def _render_dedup(template: str, d: Delivery) -> str | None:
    try:
        value = render_value(template, {"event": d.body, "request": d.meta}, "trigger.dedup")
    except TemplateRenderError as exc:
        # Not a reason to refuse the delivery: it is stored and runs, just without dedup.
        log.warning("dedup key not computed (%s); delivery accepted without dedup", exc)
        return None
    return None if value is None or value == "" else str(value)
