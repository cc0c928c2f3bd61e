"""Accepting deliveries: store the event and queue its runs in one transaction.

Three kinds of delivery come in: a webhook's (:class:`Delivery`), an app event's
(:class:`SourceDelivery`) and a schedule's tick (:class:`Tick`, from the scheduler). A tick is
stored under the key (flow, tick time) in the same unique dedup index as the others, so that
several schedulers firing the same tick store it, and run the flow, once.

This is the hot path. A batch of deliveries costs a handful of statements whatever its size:
one look-up of the hook tokens (and, for app events, of the flows listening), one of the dedup
keys, one multi-row insert per table. Both kinds of delivery share the storing half
(:func:`_store`); they differ in how a delivery resolves to an event and its runs
(:meth:`_Intake.resolve`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import msgspec
from sqlalchemy import Connection

from maillon.engine.crypto import SecretBox
from maillon.engine.db import driver_execute, driver_insert, driver_query, integrity_errors
from maillon.engine.flows import WebhookTrigger, parse_flow
from maillon.engine.hooks import SourceKey
from maillon.engine.ids import new_id
from maillon.engine.models import REJECTED_BODY_CHARS, RunStatus
from maillon.engine.schedules import Schedule, ScheduleTrigger, tick_body, tick_key
from maillon.engine.signatures import SIGNING_SECRET_APP, SignatureSpec, signature_problem
from maillon.engine.templating import DEFAULT_BUDGET, Budget, TemplateRenderError, render_value
from maillon.engine.ticks import record_ticks
from maillon.engine.writer import Op, in_savepoint, one_by_one

__all__ = [
    "Accepted",
    "DedupNeeded",
    "Delivery",
    "NotScheduled",
    "RunTarget",
    "SignatureRejected",
    "SourceDelivery",
    "Tick",
    "UnknownHook",
    "hook_dedup_scope",
    "render_dedup",
    "schedule_dedup_scope",
    "store_event",
]

log = logging.getLogger(__name__)

#: A run to queue: (flow id, the flow's published version it runs, held).
RunTarget = tuple[str, int, bool]

# The statements of the hot path run on the driver's cursor (engine.db.driver_insert/query).
_EVENT_COLUMNS = (
    "id",
    "flow_id",
    "source",
    "dedup_scope",
    "dedup_key",
    "body",
    "meta",
    "received_at",
)
_RUN_COLUMNS = (
    "id",
    "flow_id",
    "flow_version",
    "event_id",
    "status",
    "claims",
    "available_at",
    "created_at",
)
_REJECTED_COLUMNS = ("id", "flow_id", "received_at", "reason", "meta", "body")
_MAX_KEY = 500
_RUNS_OF_EVENT = "SELECT id, status FROM runs WHERE event_id = ? ORDER BY id"


def _tokens(ops: list[Any]) -> list[str]:
    """The distinct hook tokens of ``ops`` worth looking up.

    A token with a NUL byte belongs to no one (tokens are URL-safe base64) and PostgreSQL
    cannot even compare it: the look-up would fail, and with it the whole batch.
    """
    return sorted({op.token for op in ops if "\x00" not in op.token})


def _dedup_key(key: str) -> str:
    """``key`` as stored: at most :data:`_MAX_KEY` characters, no NUL (PostgreSQL refuses it).

    A longer key keeps its beginning and ends with the SHA-256 of the whole: cut short, two
    keys that differ only past the limit would make the second event a duplicate of the first.
    """
    stored = key.replace("\x00", "\\u0000")
    if len(stored) <= _MAX_KEY:
        return stored
    digest = hashlib.sha256(stored.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{stored[: _MAX_KEY - len(digest) - 1]}#{digest}"


def _in(column: str, count: int) -> str:
    return f"{column} IN ({','.join('?' * count)})"


class UnknownHook(LookupError):
    """No flow (or app connection) has this hook token."""


class DedupNeeded(Exception):
    """The flow's trigger has a ``dedup`` template and the delivery brought no key rendered
    with the flow's current version: render ``template`` and deliver again.

    Templates are never rendered in the writer thread: every delivery of every flow waits
    for it, and a template may take up to its time budget.
    """

    def __init__(self, version: int, template: str) -> None:
        super().__init__(f"render the dedup key of flow version {version}")
        self.version = version
        self.template = template


class SignatureRejected(Exception):
    """The delivery's signature does not hold; it was recorded as a rejected delivery."""


@dataclass(frozen=True)
class Accepted:
    """What the sender is told: the event and its runs are committed."""

    event_id: str
    run_ids: list[str]
    held: bool = False
    duplicate: bool = False

    @property
    def status(self) -> str:
        """``duplicate``, ``held``, ``queued``, or ``stored``: kept, but no flow takes the
        event (an app event that no enabled flow listens to, a misspelt event name)."""
        if self.duplicate:
            return "duplicate"
        if self.held:
            return "held"
        return "queued" if self.run_ids else "stored"


def hook_dedup_scope(flow_id: str) -> str:
    """Dedup keys of a webhook flow are unique per flow."""
    return f"flow:{flow_id}"


def schedule_dedup_scope(flow_id: str) -> str:
    """A scheduled flow's ticks are unique per (flow, tick time)."""
    return f"schedule:{flow_id}"


@dataclass
class _Target:
    """What one delivery resolved to, before anything is written."""

    #: ``events.source``: ``webhook``, or ``<app>:<event>`` for app events.
    source: str
    #: ``events.flow_id``: the flow of a webhook delivery; app events belong to no one flow.
    flow_id: str | None
    #: The runs to queue: (flow id, the published version they run, held).
    runs: list[RunTarget] = field(default_factory=list)
    #: (scope, key) when the delivery can be a duplicate.
    dedup: tuple[str, str] | None = None
    #: Seconds a key keeps counting (``None``: for ever); an older event gives its key up.
    window: float | None = None


@dataclass
class _Rejection:
    """A delivery refused for its signature: recorded, not stored as an event."""

    flow_id: str
    reason: str


@dataclass
class _Intake(Op[Accepted]):
    """A delivery to store: the fields both hook kinds have, and the batch logic they share."""

    token: str
    body: Any
    body_text: str
    meta: dict[str, Any]

    @classmethod
    def resolve(cls, conn: Connection, ops: list[Any]) -> list[_Target | _Rejection | Exception]:
        """What each of ``ops`` stores (or why it is refused); reads only."""
        raise NotImplementedError

    def apply(self, conn: Connection) -> Accepted:
        return self.apply_many(conn, [self])[0]  # type: ignore[no-any-return]

    @classmethod
    def apply_many(cls, conn: Connection, ops: list[Op[Any]]) -> list[Any]:
        intakes = cast("list[_Intake]", ops)  # the writer groups ops by class
        targets = cls.resolve(conn, intakes)
        if not any(isinstance(t, _Target) and t.dedup for t in targets):
            # Fresh ids cannot collide: with no dedup key in the batch, nothing in it can
            # violate a constraint, and it needs no savepoint of its own.
            return _store(conn, intakes, targets)
        conflict = integrity_errors(conn)
        try:
            return in_savepoint(conn, lambda: _store(conn, intakes, targets))
        except conflict:
            # Another process stored the same dedup key between our look-up and our insert:
            # redo one by one, so that each delivery sees the other's committed row.
            return one_by_one(
                conn, intakes, lambda op: _store(conn, [op], cls.resolve(conn, [op]))[0]
            )


class _HookFlow(NamedTuple):
    id: str
    hook_token: str
    enabled: bool
    version: int
    definition: str


@dataclass
class Delivery(_Intake):
    """One request to ``/hooks/{token}``: parsed body, raw body text, request metadata.

    A delivery with the ``Idempotency-Key`` of an earlier one, or whose trigger's ``dedup``
    template renders the key of an earlier one, is a duplicate of it (for ever).
    ``dedup_key`` is that rendered key with the flow version it was rendered for (``None``
    for a template that rendered nothing); see :class:`DedupNeeded`. A flow whose trigger
    checks signatures needs ``raw`` (the bytes posted) and ``box`` (to open the signing
    secret's connection).
    """

    idempotency_key: str | None = None
    dedup_key: tuple[int, str | None] | None = None
    raw: bytes = b""
    box: SecretBox | None = None

    @classmethod
    def resolve(cls, conn: Connection, ops: list[Any]) -> list[_Target | _Rejection | Exception]:
        deliveries: list[Delivery] = ops
        tokens = _tokens(deliveries)
        sql = "SELECT id, hook_token, enabled, version, definition FROM flows WHERE " + _in(
            "hook_token", len(tokens)
        )
        rows = driver_query(conn, sql, tokens) if tokens else []
        flows = {flow.hook_token: flow for flow in map(_HookFlow._make, rows)}
        triggers = {
            token: parse_flow(flow.id, flow.version, flow.definition).trigger
            for token, flow in flows.items()
        }
        secrets = _signing_secrets(conn, triggers.values())
        targets: list[_Target | _Rejection | Exception] = []
        for d in deliveries:
            flow = flows.get(d.token)
            trigger = triggers.get(d.token)
            if flow is None or not isinstance(trigger, WebhookTrigger):
                targets.append(UnknownHook(d.token))
                continue
            if trigger.signature is not None:
                problem = _signature_problem(trigger.signature, secrets, d)
                if problem is not None:
                    targets.append(_Rejection(flow.id, problem))
                    continue
            key = d.idempotency_key
            if key is None and trigger.dedup:
                if d.dedup_key is None or d.dedup_key[0] != flow.version:
                    targets.append(DedupNeeded(flow.version, trigger.dedup))
                    continue
                key = d.dedup_key[1]
            targets.append(
                _Target(
                    source="webhook",
                    flow_id=flow.id,
                    runs=[(flow.id, flow.version, not flow.enabled)],
                    dedup=(hook_dedup_scope(flow.id), _dedup_key(key)) if key else None,
                )
            )
        return targets


@dataclass
class SourceDelivery(_Intake):
    """One request to ``/hooks/{app}/{token}/{event}``: fanned out to every enabled flow.

    ``dedup_key`` is computed by the app's trigger (entity id + content digest); a delivery with
    a key seen less than ``dedup_window`` seconds ago is a duplicate. An event no enabled flow
    listens to is still stored (with no run): nothing a sender delivered is thrown away.
    """

    app: str
    event: str
    dedup_key: str | None
    dedup_window: float

    @classmethod
    def resolve(cls, conn: Connection, ops: list[Any]) -> list[_Target | _Rejection | Exception]:
        deliveries: list[SourceDelivery] = ops
        tokens = _tokens(deliveries)
        sql = "SELECT hook_token, id, app FROM connections WHERE " + _in("hook_token", len(tokens))
        sources = {
            token: (source_id, app)
            for token, source_id, app in (driver_query(conn, sql, tokens) if tokens else [])
        }
        listened = sorted(
            {str(SourceKey(sources[d.token][0], d.event)) for d in deliveries if d.token in sources}
        )
        # (flow id, version, held) of the flows that take the event: enabled ones run it,
        # paused ones hold it until they are resumed; disabled ones do not listen. The version
        # is read with the key, in this transaction: a run takes the version that routed it.
        flows: dict[str, list[RunTarget]] = defaultdict(list)
        if listened:
            sql = "SELECT source_key, id, version, enabled, paused_at FROM flows WHERE " + _in(
                "source_key", len(listened)
            )
            for key, flow_id, version, enabled, paused_at in driver_query(conn, sql, listened):
                if enabled or paused_at is not None:
                    flows[key].append((flow_id, version, not enabled))
        targets: list[_Target | _Rejection | Exception] = []
        for d in deliveries:
            source = sources.get(d.token)
            if source is None or source[1] != d.app:
                targets.append(UnknownHook(d.token))
                continue
            source_id = source[0]
            listening = flows.get(str(SourceKey(source_id, d.event)), [])
            key = _dedup_key(d.dedup_key) if d.dedup_key else None
            targets.append(
                _Target(
                    source=f"{d.app}:{d.event}",
                    flow_id=None,
                    runs=listening,
                    dedup=(f"source:{source_id}:{d.event}", key) if key else None,
                    window=d.dedup_window,
                )
            )
        return targets


class NotScheduled(LookupError):
    """The flow is gone, off, or no longer on a schedule: its tick starts nothing."""


@dataclass
class Tick(_Intake):
    """One tick of a flow's ``schedule`` trigger; ``token`` is the flow's id.

    Stored under (flow, :func:`~maillon.engine.schedules.tick_key`), for ever: the same tick
    fired again, by this scheduler or another, is a duplicate and runs nothing. The tick's
    time is also kept as its schedule's latest (:mod:`maillon.engine.ticks`).

    A tick asked for by hand (``by_hand``) is none of the schedule's: it is never a duplicate,
    leaves the schedule's latest tick alone (a scheduler looking back after downtime still
    finds the ticks it missed), and on a flow that is off it is held, as a delivery would be.
    """

    tick: float = 0.0
    by_hand: bool = False

    @classmethod
    def of(
        cls,
        flow_id: str,
        schedule: Schedule,
        tick: float,
        *,
        missed: bool = False,
        by_hand: bool = False,
        run_by: str | None = None,
    ) -> Tick:
        """The tick of ``schedule`` at ``tick`` for ``flow_id``: its event's body
        (:func:`~maillon.engine.schedules.tick_body`) and request; one asked for by hand says
        who asked (``run_by``)."""
        body = tick_body(schedule, tick, missed=missed, manual=by_hand)
        meta: dict[str, Any] = {"schedule": schedule.describe()}
        if by_hand:
            meta["run_by"] = run_by
        return cls(
            token=flow_id,
            body=body,
            body_text=msgspec.json.encode(body).decode(),
            meta=meta,
            tick=tick,
            by_hand=by_hand,
        )

    @classmethod
    def apply_many(cls, conn: Connection, ops: list[Op[Any]]) -> list[Any]:
        results = super().apply_many(conn, ops)
        latest: dict[str, float] = {}
        for op, result in zip(cast("list[Tick]", ops), results, strict=True):
            if isinstance(result, Accepted) and not op.by_hand:
                scope = schedule_dedup_scope(op.token)
                latest[scope] = max(latest.get(scope, op.tick), op.tick)
        record_ticks(conn, latest)
        return results

    @classmethod
    def resolve(cls, conn: Connection, ops: list[Any]) -> list[_Target | _Rejection | Exception]:
        ticks: list[Tick] = ops
        ids = sorted({t.token for t in ticks})
        sql = "SELECT id, hook_token, enabled, version, definition FROM flows WHERE " + _in(
            "id", len(ids)
        )
        flows = {flow.id: flow for flow in map(_HookFlow._make, driver_query(conn, sql, ids))}
        targets: list[_Target | _Rejection | Exception] = []
        for t in ticks:
            flow = flows.get(t.token)
            trigger = flow and parse_flow(flow.id, flow.version, flow.definition).trigger
            if (
                flow is None
                or not isinstance(trigger, ScheduleTrigger)
                or not (flow.enabled or t.by_hand)
            ):
                targets.append(NotScheduled(t.token))
                continue
            targets.append(
                _Target(
                    source="schedule",
                    flow_id=flow.id,
                    runs=[(flow.id, flow.version, not flow.enabled)],
                    dedup=None if t.by_hand else (schedule_dedup_scope(flow.id), tick_key(t.tick)),
                )
            )
        return targets


def _signing_secrets(conn: Connection, triggers: Iterable[Any]) -> dict[str, str]:
    """The sealed secrets of the connections the signed ``triggers`` name, by name."""
    names = sorted(
        {t.signature.connection for t in triggers if isinstance(t, WebhookTrigger) and t.signature}
    )
    if not names:
        return {}
    sql = "SELECT name, secrets FROM connections WHERE app = ? AND " + _in("name", len(names))
    return dict(driver_query(conn, sql, [SIGNING_SECRET_APP, *names]))


def _signature_problem(spec: SignatureSpec, sealed: dict[str, str], d: Delivery) -> str | None:
    """Why ``d``'s signature does not hold, or ``None``."""
    token = sealed.get(spec.connection)
    if token is None or d.box is None:
        return f"the signing secret's connection {spec.connection!r} is missing"
    try:
        secret = d.box.open(token).get("secret")
    except ValueError as exc:
        return str(exc)
    if not isinstance(secret, str) or not secret:
        return f"the connection {spec.connection!r} has no signing secret"
    try:
        return signature_problem(spec, secret, d.raw, d.meta["headers"])
    except Exception as exc:
        # Whatever a sender put in its headers, the check fails closed for this delivery
        # alone: raised here, it would fail every delivery written in the same batch.
        return f"the signature could not be checked ({type(exc).__name__})"


def store_event(conn: Connection, source: str, body: Any, runs: list[RunTarget]) -> Accepted:
    """Store an event the engine itself raised (a run's failure) and queue its runs — ``(flow
    id, version, held)`` — in the caller's transaction: the path of a delivery, without a
    sender."""
    op = _Intake(token="", body=body, body_text=_encode(body), meta={})
    [accepted] = _store(conn, [op], [_Target(source=source, flow_id=None, runs=runs)])
    return cast("Accepted", accepted)


def _seen(
    conn: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, float]]:
    """Events already holding these (scope, key) pairs: their id and when they arrived."""
    by_scope: dict[str, list[str]] = defaultdict(list)
    for scope, key in sorted(set(keys)):
        by_scope[scope].append(key)
    seen: dict[tuple[str, str], tuple[str, float]] = {}
    for scope, scope_keys in by_scope.items():
        # Scope and keys together, so that the look-up uses the (scope, key) unique index.
        sql = "SELECT dedup_key, id, received_at FROM events WHERE dedup_scope = ? AND " + _in(
            "dedup_key", len(scope_keys)
        )
        for key, event_id, received_at in driver_query(conn, sql, [scope, *scope_keys]):
            seen[(scope, key)] = (event_id, received_at)
    return seen


def _store(
    conn: Connection, ops: list[_Intake], targets: list[_Target | _Rejection | Exception]
) -> list[Any]:
    """Insert the events and runs of ``ops``, and the rejected deliveries; the answer (or
    error) for each."""
    now = time.time()
    rejected_rows: list[tuple[Any, ...]] = []
    seen = _seen(conn, [t.dedup for t in targets if isinstance(t, _Target) and t.dedup])
    # The run ids of the events this batch creates, and whether they are all held.
    runs_of: dict[str, tuple[list[str], bool]] = {}
    released: list[str] = []  # earlier events whose key is out of its window
    event_rows: list[tuple[Any, ...]] = []
    run_rows: list[tuple[Any, ...]] = []
    results: list[Any] = []
    for op, target in zip(ops, targets, strict=True):
        if isinstance(target, _Rejection):
            rejected_rows.append(_rejected_row(target, op, now))
            results.append(SignatureRejected(target.reason))
            continue
        if not isinstance(target, _Target):
            results.append(target)
            continue
        if target.dedup and (earlier := seen.get(target.dedup)):
            event_id, received_at = earlier
            if target.window is None or received_at >= now - target.window:
                known = runs_of.get(event_id)
                if known is None:
                    rows = driver_query(conn, _RUNS_OF_EVENT, [event_id])
                    # Held as the first copy's runs are now (released since, they are not).
                    known = (
                        [r[0] for r in rows],
                        bool(rows) and all(r[1] == RunStatus.HELD for r in rows),
                    )
                run_ids, held = known
                results.append(Accepted(event_id, run_ids, duplicate=True, held=held))
                continue
            released.append(event_id)
        event_id = new_id()
        if target.dedup:
            seen[target.dedup] = (event_id, now)  # a second copy in this batch is a duplicate
        event_rows.append(
            _event_row(event_id, target.flow_id, target.source, target.dedup, op, now)
        )
        runs = [_run_row(*run, event_id, now) for run in target.runs]
        run_rows.extend(runs)
        held = bool(target.runs) and all(h for _, _, h in target.runs)
        runs_of[event_id] = [run[0] for run in runs], held
        results.append(Accepted(event_id, runs_of[event_id][0], held=held))
    if released:
        # The earlier events give their keys up, so that the new ones can hold them.
        sql = "UPDATE events SET dedup_key = NULL WHERE " + _in("id", len(released))
        driver_execute(conn, sql, released)
    driver_insert(conn, "events", _EVENT_COLUMNS, event_rows)
    driver_insert(conn, "runs", _RUN_COLUMNS, run_rows)
    driver_insert(conn, "rejected_deliveries", _REJECTED_COLUMNS, rejected_rows)
    return results


def _rejected_row(target: _Rejection, op: _Intake, now: float) -> tuple[Any, ...]:
    """A row of ``rejected_deliveries`` in :data:`_REJECTED_COLUMNS` order."""
    body = op.body_text[:REJECTED_BODY_CHARS]
    return (new_id(), target.flow_id, now, target.reason, _encode(op.meta), body)


def _event_row(
    event_id: str,
    flow_id: str | None,
    source: str,
    dedup: tuple[str, str] | None,
    op: _Intake,
    now: float,
) -> tuple[Any, ...]:
    """A row of ``events`` in :data:`_EVENT_COLUMNS` order."""
    scope, key = dedup or (None, None)
    return (event_id, flow_id, source, scope, key, op.body_text, _encode(op.meta), now)


def _run_row(flow_id: str, version: int, held: bool, event_id: str, now: float) -> tuple[Any, ...]:
    """A queued (or held) row of ``runs`` in :data:`_RUN_COLUMNS` order."""
    status = RunStatus.HELD if held else RunStatus.QUEUED
    return (new_id(), flow_id, version, event_id, status, 0, now, now)


def _encode(value: Any) -> str:
    """Compact JSON text; msgspec is ten times faster than ``json.dumps`` on request headers."""
    return msgspec.json.encode(value).decode()


def render_dedup(
    template: str, body: Any, meta: dict[str, Any], budget: Budget = DEFAULT_BUDGET
) -> str | None:
    """A webhook trigger's dedup key for a delivery (``None``: no key). Blocks up to the
    budget's time: call it through :func:`~maillon.engine.templating.render_unblocking`."""
    try:
        value = render_value(template, {"event": body, "request": meta}, "trigger.dedup", budget)
    except TemplateRenderError as exc:
        # Not a reason to refuse the delivery: it is stored and runs, just without dedup.
        log.warning("dedup key not computed (%s); delivery accepted without dedup", exc)
        return None
    return None if value is None or value == "" else str(value)
