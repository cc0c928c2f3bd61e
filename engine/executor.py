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
from dataclasses import dataclass
from typing import Any

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
from maillon.engine.connections import ConnectionResolver
from maillon.engine.crypto import SecretBox
from maillon.engine.digests import DIGEST_SOURCE, CollectItem, DigestSpec
from maillon.engine.flows import StepSpec, parse_flow
from maillon.engine.logs import log_ids
from maillon.engine.metrics import Metrics
from maillon.engine.models import RunStatus, StepStatus
from maillon.engine.oauth import Refresh, refreshable
from maillon.engine.queue import ClaimedRun, LeaseLost, RecordStep, StepRecord, read_ledger
from maillon.engine.redaction import Redactor, mask_secret_inputs
from maillon.engine.secret_inputs import unseal
from maillon.engine.templating import DEFAULT_BUDGET, Budget, TemplateRenderError, render_value
from maillon.engine.validation import describe
from maillon.engine.writer import Writer

__all__ = ["Executor", "RetryPolicy", "StepTrial", "template_context"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` from the remote side wins."""

    base_delay: float = 2.0
    max_delay: float = 600.0
    default_max_attempts: int = 5

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return float(retry_after)
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

    def _read_ledger(self, run_id: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            return read_ledger(conn, run_id)

    async def execute(self, run: ClaimedRun, owner: str) -> bool:
        """Execute ``run`` from its first unfinished step; never raises except on cancellation.

        Returns whether the run was queued again for a later attempt (a transient error), or
        queued new work (a digest released by its count), so that the worker knows to look at
        the queue again.
        """
        try:
            with log_ids(run_id=run.id, event_id=run.event_id, flow_id=run.flow_id):
                return await self._execute(run, owner)
        except LeaseLost:
            log.warning("run %s: lease lost to another worker; stopped here", run.id)
        except Exception as exc:
            # A bug in the engine, or a step that cannot be recorded, must not kill the worker.
            log.exception("run %s: unexpected engine error", run.id)
            await self._give_up(run, owner, exc)
        return False

    async def _give_up(self, run: ClaimedRun, owner: str, exc: Exception) -> None:
        """Fail ``run`` with the reason, rather than leave it to be taken over and run again
        after its lease expires (what it did would then be done again, for ever, if what
        failed was recording it). If even that cannot be written (the database is down), the
        lease expires and the run is retried; past ``max_takeovers`` it fails as a poison run.
        """
        reason = f"the engine could not go on with this run ({type(exc).__name__}: {exc})"
        try:
            await self._finish(run, owner, None, RunStatus.FAILED, reason[:2000])
        except Exception:
            log.exception("run %s: could not be marked failed; its lease will expire", run.id)

    async def _execute(self, run: ClaimedRun, owner: str) -> bool:
        if not run.flow_definition:
            await self._finish(run, owner, None, RunStatus.FAILED, "the flow was deleted")
            return False
        flow = parse_flow(run.flow_id, run.flow_version, run.flow_definition)
        if flow.digest is not None and run.event_source != DIGEST_SOURCE:
            return await self._collect(run, owner, flow.digest)
        if not flow.steps:
            # A flow being built has no step yet: its (released) runs have nothing to do.
            await self._finish(run, owner, None, RunStatus.SUCCEEDED, None)
            return False
        # A first claim has no ledger yet: skip the read on the common path.
        ledger = await anyio.to_thread.run_sync(self._read_ledger, run.id) if run.claims > 1 else {}
        context = _run_context(run)
        max_attempts_flow = flow.max_attempts or self._policy.default_max_attempts
        last = len(flow.steps) - 1
        for position, step in enumerate(flow.steps):
            done = ledger.get(step.key)
            if done is not None and done.status == StepStatus.SUCCEEDED:
                context["steps"][step.key] = _decode(done.output) if done.output else {}
                continue
            attempt = (done.attempts if done is not None else 0) + 1
            started = time.time()
            try:
                rendered, output = await self._run_step(step, context, attempt, run.id)
            except _StepFailed as exc:
                max_attempts = step.max_attempts or max_attempts_flow
                record = StepRecord(
                    key=step.key,
                    position=position,
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
                    note = f"step {step.key}: {exc} (attempt {attempt} of {max_attempts}; retrying)"
                    await self._writer.submit(
                        RecordStep(run.id, owner, self._lease, record, RunStatus.QUEUED, note, due)
                    )
                    return True
                reason = f"step {step.key}: {exc}"
                if exc.transient:
                    reason += f" (gave up after {attempt} attempt{'s' if attempt > 1 else ''})"
                await self._finish(run, owner, record, RunStatus.FAILED, reason)
                return False
            context["steps"][step.key] = output
            record = StepRecord(
                key=step.key,
                position=position,
                status=StepStatus.SUCCEEDED,
                attempts=attempt,
                started_at=started,
                finished_at=time.time(),
                input=rendered,
                output=output,
            )
            self._metrics.step(step.action, record.finished_at - started, record.status)
            status = RunStatus.SUCCEEDED if position == last else None
            await self._writer.submit(RecordStep(run.id, owner, self._lease, record, status))
            if status is not None:
                self._metrics.run_finished(status)
        return False

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
            reason = f"digest {digest.name}: {exc}"
            await self._finish(run, owner, record, RunStatus.FAILED, reason)
            return False
        op = CollectItem(run.id, owner, self._lease, run.flow_id, digest, item, started)
        released = await self._writer.submit(op)
        return released is not None and released.run_id is not None and not released.held

    async def _finish(
        self,
        run: ClaimedRun,
        owner: str,
        record: StepRecord | None,
        status: RunStatus,
        error: str | None,
    ) -> None:
        await self._writer.submit(RecordStep(run.id, owner, self._lease, record, status, error))
        self._metrics.run_finished(status)

    async def try_step(self, step: StepSpec, context: dict[str, Any], trial_id: str) -> StepTrial:
        """Run one step once, for real, outside any run (the editor's "test this step").

        Nothing is recorded and nothing is retried: the outcome is returned.
        """
        try:
            rendered, output = await self._run_step(step, context, 1, trial_id)
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
            raise _StepFailed(f"template error in {exc}", transient=False) from exc
        return connector, action_cls, rendered

    async def _run_step(
        self, step: StepSpec, context: dict[str, Any], attempt: int, run_id: str
    ) -> tuple[Any, Any]:
        """Return (rendered input, output), the secrets in play masked in both; raise
        :class:`_StepFailed`, its message and details masked the same way."""
        # In a worker thread: a template may take up to its time budget, and meanwhile the
        # event loop must go on (intake, the lease heartbeat, every other run). An input
        # with no template renders to itself: no thread hop.
        if _has_template(step.input):
            connector, action_cls, rendered = await anyio.to_thread.run_sync(
                self._render, step, context
            )
        else:
            connector, action_cls, rendered = self._render(step, context)
        # The step's secret inputs, then (once resolved) its connection's secrets.
        redactor = Redactor()
        if isinstance(rendered, dict):
            redactor.add(_secret_inputs(action_cls, rendered))
        try:
            with redactor.active():
                output = await self._call(
                    run_id, step, connector, action_cls, rendered, attempt, redactor
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
                conn = await self._fresh(step.connection, connector, conn)
            redactor.add_model(conn)
        except (LookupError, ValueError) as exc:
            raise _StepFailed(str(exc), transient=False) from exc
        except ConnectorError as exc:
            raise _failure(exc) from exc
        ctx = ActionContext(
            idempotency_key=f"{run_id}:{step.key}", attempt=attempt, timeout=self._step_timeout
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
                conn = await self._fresh(step.connection, connector, conn, force=True)
                redactor.add_model(conn)
                try:
                    result = await self._run_action(action, ctx, conn, data)
                except AccessTokenRejected as again:
                    raise AccessTokenRejected(
                        f"{again.message} (also with a freshly refreshed token): reconnect this "
                        f"account (connection {step.connection!r})",
                        details=again.details,
                    ) from exc
        except ConnectorError as exc:
            raise _failure(exc) from exc
        except TimeoutError as exc:
            raise _StepFailed(f"timed out after {self._step_timeout:g}s", transient=True) from exc
        except Exception as exc:
            log.exception("run %s step %s: action raised", run_id, step.key)
            raise _StepFailed(f"{type(exc).__name__}: {exc}", transient=False) from exc
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json")
        return result

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


def _has_template(value: Any) -> bool:
    """Whether a string anywhere in ``value`` may be a template."""
    if isinstance(value, str):
        return "{" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


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
        failure = _StepFailed(f"invalid input: {describe(exc)}", transient=False)
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
