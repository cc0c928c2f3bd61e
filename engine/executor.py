"""Executes one claimed run: render each step's input, validate it, call the action, record it.

The per-step ledger makes execution resumable: a step whose success is recorded is never run
again for the same run, whether the run is being retried, replayed or recovered from a dead
worker. Transient errors reschedule the run (the worker slot is released, nothing sleeps);
permanent errors fail it at once.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import anyio
import msgspec
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from maillon.connectors.base import (
    Action,
    ActionContext,
    Connection,
    Connector,
    secret_fields,
    url_inputs,
)
from maillon.connectors.errors import AccessTokenRejected, ConnectorError, TransientError
from maillon.connectors.registry import Registry
from maillon.engine.conditions import evaluate
from maillon.engine.connections import ConnectionResolver
from maillon.engine.control import DelayStep, FilterStep, FormatStep, PathsStep, delay_until
from maillon.engine.crypto import SecretBox
from maillon.engine.digests import DIGEST_SOURCE, CollectItem, DigestSpec
from maillon.engine.failures import Failure
from maillon.engine.flows import MAX_ITEMS, StepSpec, parse_flow
from maillon.engine.i18n import DEFAULT_LOCALE, DEFAULT_TIME_ZONE, ngettext, use_locale
from maillon.engine.i18n import gettext as _
from maillon.engine.links import run_url
from maillon.engine.logs import log_ids
from maillon.engine.metrics import Metrics
from maillon.engine.models import RunStatus, StepStatus
from maillon.engine.oauth import Refresh, refreshable
from maillon.engine.queue import ClaimedRun, LeaseLost, RecordStep, StepRecord, read_ledger
from maillon.engine.redaction import Redactor, mask_secret_inputs
from maillon.engine.secret_inputs import Dropped, unseal
from maillon.engine.templating import (
    DEFAULT_BUDGET,
    Budget,
    TemplateRenderError,
    render_unblocking,
    render_value,
)
from maillon.engine.validation import describe
from maillon.engine.writer import Writer

__all__ = ["Executor", "RetryPolicy", "StepTrial", "template_context"]

log = logging.getLogger(__name__)


#: The longest an app's ``Retry-After`` parks a run.
RETRY_AFTER_CEILING = 86_400.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` from the remote side wins."""

    base_delay: float = 2.0
    max_delay: float = 600.0
    default_max_attempts: int = 5

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            # What the app asks, up to a day: a wrong header (a date in 2099, eleven nines)
            # must not park the run for years.
            return min(max(float(retry_after), 0.0), RETRY_AFTER_CEILING)
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # "Equal jitter": never less than half the backoff, so retries still spread out.
        return float(backoff / 2 + random.uniform(0, backoff / 2))


class _StepFailed(Exception):
    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
        #: What the connector said besides the message (remote status, error code).
        self.details = details or None
        #: The step's rendered input, when rendering got that far (recorded with the failure).
        self.rendered: Any = None

    def redacted(self, redactor: Redactor) -> _StepFailed:
        """This failure with the secrets in play masked in its message and details."""
        failure = _StepFailed(
            redactor.text(str(self)),
            transient=self.transient,
            retry_after=self.retry_after,
            details=redactor.value(self.details),
        )
        failure.rendered = self.rendered
        return failure


@dataclass(frozen=True)
class StepTrial:
    """What one step did when tried on its own: its rendered input, and output or error."""

    rendered: Any
    output: Any = None
    error: str | None = None
    details: dict[str, object] | None = None
    #: Whether the error is worth another try later (network, timeout, 429, 5xx).
    transient: bool = False


def template_context(
    event: Any,
    request: Any,
    *,
    flow: dict[str, Any],
    run: dict[str, Any],
    steps: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a step's templates see: ``event``, ``request``, earlier ``steps``, ``flow``, ``run``."""
    return {"event": event, "request": request, "steps": steps or {}, "flow": flow, "run": run}


class _Stopped(Exception):
    """The run stopped here (failed, filtered, or queued again), and that is recorded."""

    def __init__(self, *, rescheduled: bool) -> None:
        super().__init__()
        self.rescheduled = rescheduled


#: How early a parked run may be claimed and still count its delay as over (clocks of
#: machines sharing a database differ by that much).
_EARLY = 0.5


@dataclass
class _Walk:
    """One pass over a run's steps: its ledger, its template context, and the successes not
    written yet.

    Successes are written with the next write the run needs anyway (the next action's
    record, or the run's end) rather than one by one: a filter in front of an action costs no
    transaction of its own. A success is ``durable`` when what follows relies on it being
    written before the next action runs: an action's own (never done twice), or the branches
    a paths step chose.
    """

    run: ClaimedRun
    owner: str
    ledger: dict[str, Any]
    context: dict[str, Any]
    positions: dict[str, int]
    max_attempts: int
    #: Set when the process is stopping: no action starts after it.
    stop: asyncio.Event | None = None
    pending: list[StepRecord] = field(default_factory=list)
    durable: bool = False

    def record(self, record: StepRecord, *, durable: bool = False) -> None:
        """Keep ``record`` for the next write."""
        self.pending.append(record)
        self.durable = self.durable or durable

    def take(self) -> tuple[StepRecord, ...]:
        """The records kept, handed to a write."""
        taken = tuple(self.pending)
        self.pending.clear()
        self.durable = False
        return taken

    def succeeded(self, key: str, rendered: Any, output: Any, started: float) -> StepRecord:
        """The record of a step (not an action) that did its part."""
        return StepRecord(
            key=key,
            position=self.positions.get(key, 0),
            status=StepStatus.SUCCEEDED,
            attempts=1,
            started_at=started,
            finished_at=time.time(),
            input=rendered,
            output=output,
        )


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return _("a mapping")
    if isinstance(value, str):
        return _("a text")
    if value is None:
        return _("nothing")
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, int | float):
        return _("a number")
    return _("a %(type)s", type=type(value).__name__)


class Executor:
    """Runs the steps of claimed runs. One per worker process; safe for concurrent runs."""

    def __init__(
        self,
        *,
        engine: Engine,
        writer: Writer,
        registry: Registry,
        connections: ConnectionResolver,
        fresh: Refresh,
        policy: RetryPolicy,
        step_timeout: float,
        lease_seconds: float,
        budget: Budget = DEFAULT_BUDGET,
        box: SecretBox | None = None,
        metrics: Metrics | None = None,
        base_url: str,
        language: tuple[str, str] = (DEFAULT_LOCALE, DEFAULT_TIME_ZONE),
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._registry = registry
        self._connections = connections
        self._fresh = fresh
        self._policy = policy
        self._step_timeout = step_timeout
        self._lease = lease_seconds
        self._budget = budget
        self._box = box
        self._metrics = metrics or Metrics()
        self._base_url = base_url
        #: The install's language and time zone, in which runs' records are written.
        self.language = language

    def _read_ledger(self, run_id: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            return read_ledger(conn, run_id)

    async def execute(self, run: ClaimedRun, owner: str, stop: asyncio.Event | None = None) -> bool:
        """Execute ``run`` from its first unfinished step; never raises except on cancellation.

        Once ``stop`` is set (the process is stopping), the run goes back to the queue before
        its next action rather than starting it: stopping waits for one step at most.

        Returns whether runs were queued meanwhile: this one again for a later attempt (a
        transient error), error flows' runs for its failure, or a digest's release (its count
        reached); the worker then looks at the queue again.
        """
        # What a run's record says (why it failed, was filtered, waits) is written once and
        # read by everyone: in the install's language, not in one reader's.
        with use_locale(*self.language):
            try:
                with log_ids(run_id=run.id, event_id=run.event_id, flow_id=run.flow_id):
                    return await self._execute(run, owner, stop)
            except LeaseLost:
                log.warning("run %s: lease lost to another worker; stopped here", run.id)
            except Exception as exc:
                # A bug in the engine, or a step that cannot be recorded, must not kill the
                # worker.
                log.exception("run %s: unexpected engine error", run.id)
                await self._give_up(run, owner, exc)
            return False

    async def _give_up(self, run: ClaimedRun, owner: str, exc: Exception) -> None:
        """Fail ``run`` with the reason, rather than leave it to be taken over and run again
        after its lease expires (what it did would then be done again, for ever, if what
        failed was recording it). If even that cannot be written (the database is down), the
        lease expires and the run is retried; past ``max_takeovers`` it fails as a poison run.
        """
        reason = _(
            "the engine could not go on with this run (%(error)s)",
            error=f"{type(exc).__name__}: {exc}",
        )
        try:
            await self._fail_run(run, owner, None, reason[:2000], "permanent")
        except Exception:
            log.exception("run %s: could not be marked failed; its lease will expire", run.id)

    async def _execute(self, run: ClaimedRun, owner: str, stop: asyncio.Event | None) -> bool:
        if not run.flow_definition:
            return await self._fail_run(run, owner, None, _("the flow was deleted"), "permanent")
        flow = parse_flow(run.flow_id, run.flow_version, run.flow_definition)
        if flow.digest is not None and run.event_source != DIGEST_SOURCE:
            return await self._collect(run, owner, flow.digest)
        if not flow.steps:
            # A flow being built has no step yet: its (released) runs have nothing to do.
            await self._writer.submit(
                RecordStep(run.id, owner, self._lease, None, RunStatus.SUCCEEDED)
            )
            return False
        # A first claim has no ledger yet: skip the read on the common path.
        ledger = await anyio.to_thread.run_sync(self._read_ledger, run.id) if run.claims > 1 else {}
        context = _run_context(run)
        walk = _Walk(
            run,
            owner,
            ledger,
            context,
            flow.positions,
            flow.max_attempts or self._policy.default_max_attempts,
            stop,
        )
        try:
            await self._steps(walk, flow.steps)
        except _Stopped as stop:
            return stop.rescheduled
        # What is left to record finishes the run, in the same transaction.
        pending = walk.pending
        await self._writer.submit(
            RecordStep(
                run.id,
                owner,
                self._lease,
                pending[-1] if pending else None,
                RunStatus.SUCCEEDED,
                also=tuple(pending[:-1]),
            )
        )
        self._metrics.run_finished(RunStatus.SUCCEEDED)
        return False

    async def _steps(self, walk: _Walk, steps: list[Any]) -> None:
        """Run ``steps`` in order; raise :class:`_Stopped` once the run is recorded as stopped
        (failed, filtered, or queued again)."""
        for step in steps:
            done = walk.ledger.get(step.key)
            if done is not None and done.status == StepStatus.SUCCEEDED:
                output = _decode(done.output) if done.output else {}
                walk.context["steps"][step.key] = output
                if isinstance(step, PathsStep):
                    # The branches chosen then, not chosen again: their steps resume.
                    await self._branches(walk, step, list(output.get("branches", [])))
                continue
            if isinstance(step, StepSpec):
                if step.for_each is None:
                    output = await self._action(walk, step, step.key, done, walk.context)
                    walk.context["steps"][step.key] = output
                else:
                    await self._loop(walk, step)
            elif isinstance(step, FilterStep):
                await self._filter(walk, step)
            elif isinstance(step, PathsStep):
                await self._paths(walk, step)
            elif isinstance(step, DelayStep):
                await self._delay(walk, step, done)
            elif isinstance(step, FormatStep):
                await self._format(walk, step)

    async def _action(
        self,
        walk: _Walk,
        step: StepSpec,
        key: str,
        done: Any,
        context: dict[str, Any],
    ) -> Any:
        """Call one action (``key``: its entry in the ledger) and return its output."""
        if walk.stop is not None and walk.stop.is_set():
            # Whoever stops this process kills it if it takes too long, and a step cut short is
            # sent again by the worker that takes the run over: not started, it is not.
            await self._writer.submit(
                RecordStep(
                    walk.run.id,
                    walk.owner,
                    self._lease,
                    None,
                    RunStatus.QUEUED,
                    _(
                        "step %(key)s not started: its worker was stopping (the run goes on in "
                        "the next one)",
                        key=key,
                    ),
                    also=walk.take(),
                )
            )
            raise _Stopped(rescheduled=True)
        attempt = (done.attempts if done is not None else 0) + 1
        if walk.durable:
            # What the action may rely on (an earlier action's success, the branches chosen)
            # is recorded before it runs.
            await self._writer.submit(
                RecordStep(walk.run.id, walk.owner, self._lease, None, also=walk.take())
            )
        started = time.time()
        try:
            rendered, output = await self._run_step(step, context, attempt, walk.run.id, key)
        except _StepFailed as exc:
            max_attempts = step.max_attempts or walk.max_attempts
            record = StepRecord(
                key=key,
                position=walk.positions.get(step.key, 0),
                status=StepStatus.RETRYING
                if exc.transient and attempt < max_attempts
                else StepStatus.FAILED,
                attempts=attempt,
                started_at=started,
                finished_at=time.time(),
                input=exc.rendered,
                error=str(exc),
                details=exc.details,
            )
            self._metrics.step(step.action, record.finished_at - started, record.status)
            if record.status == StepStatus.RETRYING:
                due = time.time() + self._policy.delay(attempt, exc.retry_after)
                # The run says why it waits, so a list of runs shows it without the steps.
                note = _(
                    "step %(key)s: %(error)s (attempt %(attempt)s of %(max)s; retrying)",
                    key=key,
                    error=exc,
                    attempt=attempt,
                    max=max_attempts,
                )
                await self._stop(walk, record, RunStatus.QUEUED, note, due)
            reason = _step_said(key, str(exc))
            if exc.transient:
                gave_up = ngettext(
                    "gave up after %(num)s attempt", "gave up after %(num)s attempts", attempt
                )
                reason += f" ({gave_up})"
            kind: Literal["permanent", "exhausted"] = "exhausted" if exc.transient else "permanent"
            failure = self._failure(walk.run, record, reason, kind, step)
            await self._stop(walk, record, RunStatus.FAILED, reason, failure=failure)
        record = StepRecord(
            key=key,
            position=walk.positions.get(step.key, 0),
            status=StepStatus.SUCCEEDED,
            attempts=attempt,
            started_at=started,
            finished_at=time.time(),
            input=rendered,
            output=output,
        )
        self._metrics.step(step.action, record.finished_at - started, record.status)
        walk.record(record, durable=True)
        return output

    async def _loop(self, walk: _Walk, step: StepSpec) -> None:
        """The action once per item of ``for_each``; each item has its own ledger entry
        (``key[0]``, ``key[1]``, …), so that a retry runs only the items that did not succeed."""
        started = time.time()
        try:
            items = await self._render_value(step.for_each, walk.context, "for_each")
        except TemplateRenderError as exc:
            await self._fail(walk, step, exc.said, started)
        if not isinstance(items, list):
            said = _("for_each gave %(kind)s, not a list of items", kind=_kind_of(items))
            await self._fail(walk, step, said, started)
        if len(items) > MAX_ITEMS:
            await self._fail(
                walk,
                step,
                _(
                    "for_each gave %(num)s items; a loop runs at most %(max)s",
                    num=len(items),
                    max=MAX_ITEMS,
                ),
                started,
            )
        outputs = []
        for i, item in enumerate(items):
            key = f"{step.key}[{i}]"
            done = walk.ledger.get(key)
            if done is not None and done.status == StepStatus.SUCCEEDED:
                outputs.append(_decode(done.output) if done.output else {})
                continue
            context = {
                **walk.context,
                "item": item,
                "loop": {
                    "index": i + 1,
                    "index0": i,
                    "length": len(items),
                    "first": i == 0,
                    "last": i == len(items) - 1,
                },
            }
            outputs.append(await self._action(walk, step, key, done, context))
        walk.context["steps"][step.key] = outputs
        walk.record(walk.succeeded(step.key, {"items": len(items)}, outputs, started))

    async def _filter(self, walk: _Walk, step: FilterStep) -> None:
        started = time.time()
        verdict = evaluate(step.filter, walk.context)
        output = {"passed": verdict.held, "reason": verdict.reason}
        walk.context["steps"][step.key] = output
        if verdict.held:
            walk.record(walk.succeeded(step.key, None, output, started))
            return
        record = StepRecord(
            key=step.key,
            position=walk.positions.get(step.key, 0),
            status=StepStatus.FILTERED,
            attempts=1,
            started_at=started,
            finished_at=time.time(),
            output=output,
        )
        await self._stop(walk, record, RunStatus.FILTERED, _step_said(step.key, verdict.reason))

    async def _paths(self, walk: _Walk, step: PathsStep) -> None:
        started = time.time()
        output = step.choose(walk.context)
        walk.context["steps"][step.key] = output
        # Durable: a resumed run follows the branches chosen now, whatever the time says then.
        walk.record(walk.succeeded(step.key, None, output, started), durable=True)
        await self._branches(walk, step, output["branches"])

    async def _branches(self, walk: _Walk, step: PathsStep, names: list[str]) -> None:
        for branch in step.paths.branches:
            if branch.name in names:
                await self._steps(walk, branch.steps)

    async def _delay(self, walk: _Walk, step: DelayStep, done: Any) -> None:
        started = time.time()
        if done is not None and done.status == StepStatus.WAITING:
            until = float(_decode(done.output)["until"])
            # The step took the whole wait: it started when the run was parked.
            started = done.started_at or started
        else:
            try:
                until = delay_until(step.delay, walk.context, started)
            except TemplateRenderError as exc:
                await self._fail(walk, step, exc.said, started)
            except ValueError as exc:
                await self._fail(walk, step, str(exc), started)
        output = {"until": until}
        if until > time.time() + _EARLY:
            record = StepRecord(
                key=step.key,
                position=walk.positions.get(step.key, 0),
                status=StepStatus.WAITING,
                attempts=1,
                started_at=started,
                finished_at=started,
                output=output,
            )
            # The run waits in the queue like a retry does: no worker holds it, and a restart
            # finds it there, due at its time. Waiting is no error: the run has none, and its
            # page says until when, in the reader's time zone.
            await self._stop(walk, record, RunStatus.QUEUED, None, until)
        walk.context["steps"][step.key] = output
        walk.record(walk.succeeded(step.key, None, output, started))

    async def _format(self, walk: _Walk, step: FormatStep) -> None:
        started = time.time()
        try:
            output = await self._render_value(step.format, walk.context, "format")
        except TemplateRenderError as exc:
            await self._fail(walk, step, exc.said, started)
        walk.context["steps"][step.key] = output
        walk.record(walk.succeeded(step.key, None, output, started))

    async def _fail(self, walk: _Walk, step: Any, error: str, started: float) -> NoReturn:
        """Fail the run at ``step`` with ``error`` (a permanent problem of its own)."""
        record = StepRecord(
            key=step.key,
            position=walk.positions.get(step.key, 0),
            status=StepStatus.FAILED,
            attempts=1,
            started_at=started,
            finished_at=time.time(),
            error=error,
        )
        reason = _step_said(step.key, error)
        failure = self._failure(walk.run, record, reason, "permanent", step)
        await self._stop(walk, record, RunStatus.FAILED, reason, failure=failure)

    async def _stop(
        self,
        walk: _Walk,
        record: StepRecord,
        status: RunStatus,
        note: str | None,
        due: float | None = None,
        *,
        failure: Failure | None = None,
    ) -> NoReturn:
        """Record ``record`` with what is pending and what it means for the run, then stop.

        A failure comes with what it sets off (error flows, alerts, auto-pause), written in
        the same transaction.
        """
        queued = await self._writer.submit(
            RecordStep(
                walk.run.id,
                walk.owner,
                self._lease,
                record,
                status,
                note,
                due,
                failure,
                also=walk.take(),
            )
        )
        if status != RunStatus.QUEUED:
            self._metrics.run_finished(status)
        # Queued again, or error flows' runs queued: the worker looks at the queue again.
        raise _Stopped(rescheduled=status == RunStatus.QUEUED or queued > 0)

    async def _render_value(self, value: Any, context: dict[str, Any], name: str) -> Any:
        """``value`` rendered within the budget, without stalling the event loop."""
        return await render_unblocking(value, render_value, value, context, name, self._budget)

    def _failure(
        self,
        run: ClaimedRun,
        record: StepRecord | None,
        reason: str,
        kind: Literal["permanent", "exhausted"],
        step: Any = None,
    ) -> Failure:
        """What a failed run tells error flows and alerts."""
        return Failure(
            error=reason,
            kind=kind,
            run_url=run_url(self._base_url, run.id),
            event_id=run.event_id,
            step=step.key if step is not None else None,
            action=step.action if isinstance(step, StepSpec) else None,
            attempts=record.attempts if record else 0,
        )

    async def _collect(self, run: ClaimedRun, owner: str, digest: DigestSpec) -> bool:
        """Add the run's event to the flow's digest instead of running the steps; return
        whether that released the digest (its count was reached)."""
        started = time.time()
        try:
            item = digest.render_item(_run_context(run))
        except ValueError as exc:  # a template error, or an item too large
            record = StepRecord(
                key=digest.step_key,
                position=0,
                status=StepStatus.FAILED,
                attempts=1,
                started_at=started,
                finished_at=time.time(),
                error=str(exc),
            )
            reason = _("digest %(name)s: %(error)s", name=digest.name, error=exc)
            return await self._fail_run(run, owner, record, reason, "permanent")
        op = CollectItem(run.id, owner, self._lease, run.flow_id, digest, item, started)
        released = await self._writer.submit(op)
        return released is not None and released.run_id is not None and not released.held

    async def _fail_run(
        self,
        run: ClaimedRun,
        owner: str,
        record: StepRecord | None,
        reason: str,
        kind: Literal["permanent", "exhausted"],
    ) -> bool:
        """Record the failure of a run that has no walk (its flow was deleted, or the engine
        could not go on); return whether runs were queued."""
        failure = self._failure(run, record, reason, kind)
        queued = await self._writer.submit(
            RecordStep(run.id, owner, self._lease, record, RunStatus.FAILED, reason, None, failure)
        )
        self._metrics.run_finished(RunStatus.FAILED)
        return queued > 0

    async def call_once(self, step: StepSpec, trial_id: str) -> StepTrial:
        """Run one action once with ``step.input`` as it is (not a template): a message Maillon
        writes itself, such as an alert, whose words must not be read as template syntax.

        Nothing is recorded and nothing is retried: the outcome is returned.
        """
        try:
            connector, action_cls = self._registry.resolve(step.action)
        except LookupError as exc:
            return StepTrial(step.input, None, str(exc))
        # The connection's secrets are masked in what comes back, as for any step.
        redactor = Redactor()
        try:
            with redactor.active():
                output = await self._call(
                    trial_id, step.key, step, connector, action_cls, step.input, 1, redactor
                )
        except _StepFailed as exc:
            failure = exc.redacted(redactor)
            return StepTrial(step.input, None, str(failure), failure.details, failure.transient)
        return StepTrial(step.input, redactor.value(output))

    async def try_step(self, step: StepSpec, context: dict[str, Any], trial_id: str) -> StepTrial:
        """Run one step once, for real, outside any run (the editor's "test this step").

        Nothing is recorded and nothing is retried: the outcome is returned.
        """
        try:
            rendered, output = await self._run_step(step, context, 1, trial_id, step.key)
        except _StepFailed as exc:
            return StepTrial(exc.rendered, None, str(exc), exc.details)
        return StepTrial(rendered, output)

    def rehearse(self, step: StepSpec, context: dict[str, Any]) -> StepTrial:
        """Render and validate one step's input as a run would, without calling the action
        (``maillon flows test`` without ``--send``)."""
        try:
            _, action_cls, rendered = self._render(step, context)
            _validated(action_cls, rendered)
        except _StepFailed as exc:
            return StepTrial(exc.rendered, None, str(exc))
        return StepTrial(rendered)

    def _render(
        self, step: StepSpec, context: dict[str, Any]
    ) -> tuple[Connector, type[Action[Any, Any, Any]], Any]:
        """The step's connector, action and rendered input; raise :class:`_StepFailed`."""
        try:
            connector, action_cls = self._registry.resolve(step.action)
        except LookupError as exc:
            raise _StepFailed(str(exc), transient=False) from exc
        try:
            # Secret inputs written in the flow are stored sealed (engine.secret_inputs).
            inputs = unseal(step.input, self._box) if self._box else step.input
            rendered = render_value(
                inputs, context, budget=self._budget, url_inputs=url_inputs(action_cls.Input)
            )
        except TemplateRenderError as exc:
            raise _StepFailed(exc.said, transient=False) from exc
        except Dropped as exc:
            raise _StepFailed(str(exc), transient=False) from exc
        return connector, action_cls, rendered

    async def _run_step(
        self, step: StepSpec, context: dict[str, Any], attempt: int, run_id: str, key: str
    ) -> tuple[Any, Any]:
        """Return (rendered input, output), the secrets in play masked in both; raise
        :class:`_StepFailed`, its message and details masked the same way. ``key``: the step's
        entry in the ledger (``notify``, or ``notify[2]`` for an item of a loop)."""
        connector, action_cls, rendered = await render_unblocking(
            step.input, self._render, step, context
        )
        # The step's secret inputs, then (once resolved) its connection's secrets.
        redactor = Redactor()
        if isinstance(rendered, dict):
            redactor.add(_secret_inputs(action_cls, rendered))
        try:
            with redactor.active():
                output = await self._call(
                    run_id, key, step, connector, action_cls, rendered, attempt, redactor
                )
        except _StepFailed as exc:
            failure = exc.redacted(redactor)
            failure.rendered = redactor.value(mask_secret_inputs(action_cls.Input, rendered))
            raise failure from exc
        return redactor.value(mask_secret_inputs(action_cls.Input, rendered)), redactor.value(
            output
        )

    async def _call(
        self,
        run_id: str,
        key: str,
        step: StepSpec,
        connector: Connector,
        action_cls: type[Action[Any, Any, Any]],
        rendered: Any,
        attempt: int,
        redactor: Redactor,
    ) -> Any:
        data = _validated(action_cls, rendered)
        try:
            if step.connection is None:
                # No database read, so no thread hop (it cost more than the step's own work).
                conn = self._connections.resolve(None, connector)
            else:
                conn = await anyio.to_thread.run_sync(
                    self._connections.resolve, step.connection, connector
                )
                conn = await self._refreshed(step.connection, connector, conn)
            redactor.add_model(conn)
        except (LookupError, ValueError) as exc:
            raise _StepFailed(str(exc), transient=False) from exc
        except ConnectorError as exc:
            raise _failure(exc) from exc
        ctx = ActionContext(
            idempotency_key=f"{run_id}:{key}", attempt=attempt, timeout=self._step_timeout
        )
        action = action_cls()
        try:
            try:
                result = await self._run_action(action, ctx, conn, data)
            except AccessTokenRejected as exc:
                if step.connection is None or not refreshable(connector, conn):
                    raise
                # The app ended the session before the token's known expiry: refresh it and
                # try once more. The refused call did nothing; calls the action made before it
                # are made again, as on any retry of the step.
                conn = await self._refreshed(step.connection, connector, conn, force=True)
                redactor.add_model(conn)
                try:
                    result = await self._run_action(action, ctx, conn, data)
                except AccessTokenRejected as again:
                    raise AccessTokenRejected(
                        _(
                            "%(error)s (also with a freshly refreshed token): reconnect this "
                            "account (connection %(name)r)",
                            error=again.message,
                            name=step.connection,
                        ),
                        details=again.details,
                    ) from exc
        except ConnectorError as exc:
            raise _failure(exc) from exc
        except TimeoutError as exc:
            said = _("timed out after %(seconds)ss", seconds=f"{self._step_timeout:g}")
            raise _StepFailed(said, transient=True) from exc
        except Exception as exc:
            log.exception("run %s step %s: action raised", run_id, step.key)
            raise _StepFailed(f"{type(exc).__name__}: {exc}", transient=False) from exc
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json")
        return result

    async def _refreshed(
        self, name: str, connector: Connector, conn: Connection, *, force: bool = False
    ) -> Connection:
        """``conn`` with a fresh access token, within the step's time: a token endpoint that
        answers slowly fails the step, to be tried again, rather than holding it."""
        try:
            async with asyncio.timeout(self._step_timeout):
                return await self._fresh(name, connector, conn, force=force)
        except TimeoutError as exc:
            raise TransientError(
                _(
                    "the access token could not be renewed within %(seconds)ss",
                    seconds=f"{self._step_timeout:g}",
                )
            ) from exc

    async def _run_action(
        self, action: Action[Any, Any, Any], ctx: ActionContext, conn: Connection, data: Any
    ) -> Any:
        # asyncio.timeout rather than wait_for: no extra task (and loop turn) per step.
        async with asyncio.timeout(self._step_timeout):
            if inspect.iscoroutinefunction(action.run):
                return await action.run(ctx, conn, data)
            return await anyio.to_thread.run_sync(action.run, ctx, conn, data)


def _run_context(run: ClaimedRun) -> dict[str, Any]:
    """What the templates of a claimed run see, before any step ran."""
    return template_context(
        _decode(run.event_body),
        _decode(run.event_meta),
        flow={"id": run.flow_id, "name": run.flow_name},
        run={"id": run.id, "event_id": run.event_id},
    )


def _step_said(key: str, error: str) -> str:
    """Why a run stopped at step ``key``, as its run says it."""
    return _("step %(key)s: %(error)s", key=key, error=error)


def _secret_inputs(action_cls: type[Action[Any, Any, Any]], rendered: dict[str, Any]) -> list[str]:
    """The values of the step's inputs declared secret, as given."""
    return [
        str(rendered[name])
        for name in secret_fields(action_cls.Input)
        if rendered.get(name) not in (None, "")
    ]


def _validated(action_cls: type[Action[Any, Any, Any]], rendered: Any) -> BaseModel:
    """The rendered input as the action's ``Input``; raise :class:`_StepFailed`."""
    try:
        data: BaseModel = action_cls.Input.model_validate(rendered)
    except ValidationError as exc:
        failure = _StepFailed(
            _("invalid input: %(reasons)s", reasons=describe(exc)), transient=False
        )
        failure.rendered = rendered
        raise failure from exc
    return data


def _failure(exc: ConnectorError) -> _StepFailed:
    """A connector's error as a step failure: transient ones are retried."""
    transient = isinstance(exc, TransientError)
    return _StepFailed(
        exc.message,
        transient=transient,
        retry_after=exc.retry_after if isinstance(exc, TransientError) else None,
        details=exc.details,
    )


def _decode(text: str) -> Any:
    return msgspec.json.decode(text)
