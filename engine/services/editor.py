"""What the flow editor needs besides saving: a sample event, previews, and trying a step.

- :meth:`Editor.sample` is the event templates are previewed and checked against: a delivery
  the flow received (the newest, or one the user picks), else the app's catalog sample.
- :meth:`Editor.wait_for_event` answers the first delivery after a moment, so that "wait for a
  test event" shows it as soon as it is stored, whether the flow is on or off.
- :meth:`Editor.preview` renders one input against the sample in the same sandbox as a run.
- :meth:`Editor.try_step` runs one action for real with its input rendered against the sample.
- :meth:`Editor.test_stored` and :meth:`Editor.test_yaml` do the same for every step of a flow
  (``maillon flows test``): each step's input rendered and checked against the action's model
  without calling anything, or, with ``send``, each step run for real in turn, the outputs of
  earlier steps feeding later ones.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import col

from maillon.connectors.base import url_inputs
from maillon.connectors.registry import Registry
from maillon.engine.digests import DIGEST_SOURCE, DigestSpec, release_example
from maillon.engine.errors import Invalid, NotFound
from maillon.engine.executor import Executor, StepTrial, template_context
from maillon.engine.flows import (
    AnyTrigger,
    AppEventTrigger,
    FlowSpec,
    FlowValidationError,
    StepSpec,
    field_warnings,
    load_yaml,
)
from maillon.engine.models import EventRow
from maillon.engine.payloads import MAX_SHOWN_DEPTH, nesting_depth, readable_json
from maillon.engine.schedules import ScheduleTrigger, tick_example
from maillon.engine.services.base import Service
from maillon.engine.services.flows import Flows
from maillon.engine.services.runs import events_of
from maillon.engine.templating import DEFAULT_BUDGET, Budget, TemplateRenderError, render_value

__all__ = ["Editor", "FlowTest", "Preview", "Sample", "StepTest"]


@dataclass(frozen=True)
class Sample:
    """An event to preview templates against, and where it comes from."""

    body: Any
    #: A delivery the flow received, the app's catalog, one given by the caller, the next tick
    #: of the flow's schedule, or none.
    origin: Literal["event", "catalog", "given", "schedule", "none"]
    event_id: str | None = None
    received_at: float | None = None
    request: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Preview:
    """An input rendered against the sample, or why it cannot be."""

    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class StepTest:
    """One step of a flow test; ``trial`` is ``None`` when an earlier step failed first."""

    key: str
    action: str
    trial: StepTrial | None


@dataclass(frozen=True)
class FlowTest:
    """A flow tried against a sample event, step by step, or why it could not be."""

    name: str
    #: The stored flow tested, or whose deliveries gave the sample (``None``: none).
    flow_id: str | None = None
    sample: Sample | None = None
    steps: list[StepTest] = field(default_factory=list)
    #: Whether the steps ran for real (``send``), rather than being rendered only.
    sent: bool = False
    #: Fields the templates read that the sample lacks (as when the flow is saved).
    warnings: list[str] = field(default_factory=list)
    #: Why the flow could not be tested (it cannot be saved, there is no sample).
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every step rendered (and, when sent, ran) without an error."""
        return not self.problems and all(
            s.trial is not None and s.trial.error is None for s in self.steps
        )


_NO_SAMPLE = Sample(body={}, origin="none")


class Editor(Service):
    """Samples, previews and step trials for flows being edited."""

    def __init__(
        self,
        db: Engine,
        registry: Registry,
        executor: Executor,
        flows: Flows,
        budget: Budget = DEFAULT_BUDGET,
    ) -> None:
        super().__init__(db)
        self._budget = budget
        self._registry = registry
        self._executor = executor
        self._flows = flows

    async def sample(
        self,
        trigger: AnyTrigger,
        flow_id: str | None = None,
        event_id: str | None = None,
        digest: DigestSpec | None = None,
    ) -> Sample:
        """The event to preview against: ``event_id`` if given (one of the flow's), else the
        flow's newest delivery, else the app's catalog sample for its event, else the next tick
        of its schedule. With a ``digest``, the steps see releases: a release of that event
        (unless it is one already)."""
        sample = _NO_SAMPLE
        if flow_id is not None:
            row = await self.sync(self._stored, flow_id, event_id)
            if row is not None:
                if row.source == DIGEST_SOURCE:
                    return _from_row(row)
                sample = _from_row(row)
        if event_id is not None and sample is _NO_SAMPLE:
            raise NotFound(f"no event {event_id} for this flow")
        if sample is _NO_SAMPLE and isinstance(trigger, AppEventTrigger):
            connector = self._registry.get(trigger.type.partition(".")[0])
            owner = connector.trigger_for(trigger.event) if connector else None
            for e in owner().events() if owner else ():
                if e.name == trigger.event:
                    sample = Sample(body=dict(e.sample), origin="catalog")
        if sample is _NO_SAMPLE and isinstance(trigger, ScheduleTrigger):
            sample = Sample(body=tick_example(trigger, time.time()), origin="schedule")
        return sample if sample is _NO_SAMPLE else _released(sample, digest)

    def _stored(self, flow_id: str, event_id: str | None) -> EventRow | None:
        q = events_of(flow_id)
        if event_id is not None:
            q = q.where(EventRow.id == event_id)
        with self.session() as s:
            return s.exec(q.order_by(col(EventRow.id).desc()).limit(1)).first()

    async def recent_events(self, flow_id: str, limit: int = 10) -> list[Sample]:
        """The flow's newest deliveries, to choose a sample from."""

        def read() -> list[EventRow]:
            with self.session() as s:
                q = events_of(flow_id).order_by(col(EventRow.id).desc()).limit(limit)
                return list(s.exec(q))

        return [_from_row(r) for r in await self.sync(read)]

    async def wait_for_event(self, flow_id: str, after: float) -> Sample | None:
        """The first delivery to the flow received after ``after`` (epoch seconds), if any."""

        def read() -> EventRow | None:
            q = events_of(flow_id).where(col(EventRow.received_at) > after)
            with self.session() as s:
                return s.exec(q.order_by(col(EventRow.received_at)).limit(1)).first()

        row = await self.sync(read)
        return _from_row(row) if row is not None else None

    def context(
        self,
        spec: FlowSpec,
        sample: Sample,
        before: int,
        flow_id: str | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """What templates of step number ``before`` see when rendered against ``sample``.

        Earlier steps' outputs are those given in ``outputs`` (what a step test returned), else
        examples built from their actions' output models.
        """
        given = outputs or {}
        steps = {
            s.key: given[s.key] if s.key in given else self.output_example(s.action)
            for s in spec.steps[:before]
        }
        return template_context(
            sample.body,
            sample.request or {"method": "POST", "query": {}, "headers": {}},
            flow={"id": flow_id or "", "name": spec.name},
            run={"id": "preview", "event_id": sample.event_id or ""},
            steps=steps,
        )

    async def preview(
        self, value: Any, context: Mapping[str, Any], field: str = "input", action: str = ""
    ) -> Preview:
        """``value`` (a template, or a structure of them) rendered in the run sandbox, within
        the run's budget, in a worker thread (a slow template must not hold the server); as a
        run renders it when ``field`` is one of ``action``'s URL inputs."""
        try:
            model = self._registry.resolve(action)[1].Input if action else None
        except LookupError:
            model = None
        urls = url_inputs(model) if model is not None else frozenset()
        try:
            if field in urls:
                render = partial(render_value, {field: value}, context, "", url_inputs=urls)
                rendered = (await self.sync(render, self._budget))[field]
            else:
                rendered = await self.sync(render_value, value, context, field, self._budget)
        except TemplateRenderError as exc:
            return Preview(error=exc.reason)
        return Preview(value=rendered)

    def output_example(self, action: str) -> dict[str, Any]:
        """An output shaped like ``action``'s, for the field picker and previews."""
        try:
            model = self._registry.resolve(action)[1].Output
        except LookupError:
            return {}
        return _example(model)

    async def try_step(
        self,
        spec: FlowSpec,
        step_key: str,
        sample: Sample,
        flow_id: str | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> StepTrial:
        """Run one step of ``spec`` for real, its input rendered against ``sample``.

        This sends the e-mail, posts the message or appends the row: the caller says so.
        """
        position = next((i for i, s in enumerate(spec.steps) if s.key == step_key), None)
        if position is None:
            raise NotFound(f"no step {step_key!r} in this flow")
        spec = await self._flows.runnable(spec, flow_id)
        step: StepSpec = spec.steps[position]
        context = self.context(spec, sample, position, flow_id, outputs)
        return await self._executor.try_step(step, context, f"test-{uuid.uuid4()}")

    async def test_stored(
        self, ref: str, event_json: str | None = None, *, send: bool = False
    ) -> FlowTest:
        """Test a saved flow (by id or name) against ``event_json``, else its newest delivery,
        else its app's catalog sample. With ``send``, its steps run for real."""
        view = await self._flows.get(ref)
        spec = await self._flows.runnable(view.spec, view.row.id)
        return await self._test(spec, view.row.id, event_json, send)

    async def test_yaml(
        self, text: str, event_json: str | None = None, *, send: bool = False
    ) -> list[FlowTest]:
        """Test each flow of a YAML file, without saving it, against ``event_json``, else the
        newest delivery of the saved flow it would update (by id or name), else its app's
        catalog sample. With ``send``, the steps run for real.

        Raises :class:`Invalid` when the file or the event is not YAML or JSON at all.
        """
        _parse_event(event_json)  # a broken event file is said once, before any flow
        tests = []
        for doc in load_yaml(text):
            doc_id = doc.pop("id", None)
            name = str(doc.get("name") or "(no name)")
            try:
                document = await self._flows.check_document(doc)
            except FlowValidationError as exc:
                tests.append(FlowTest(name, problems=exc.problems))
                continue
            flow_id = str(doc_id) if doc_id else await self._flows.named(document.name)
            tests.append(await self._test(document.spec, flow_id, event_json, send))
        return tests

    async def _test(
        self, spec: FlowSpec, flow_id: str | None, event_json: str | None, send: bool
    ) -> FlowTest:
        body = _parse_event(event_json)
        if body is not _ABSENT:
            # An event as the trigger receives it: for a digest flow, a release of it.
            sample = _released(Sample(body=body, origin="given"), spec.digest)
        else:
            sample = await self.sample(spec.trigger, flow_id, digest=spec.digest)
        if sample.origin == "none":
            return FlowTest(
                spec.name,
                flow_id,
                problems=[
                    "no sample event: the flow has received none yet and its trigger has no "
                    "catalog sample; give one (a JSON file of an event as its sender posts it)"
                ],
            )
        warnings = field_warnings(
            spec, self._registry, sample.body if isinstance(sample.body, Mapping) else None
        )
        steps: list[StepTest] = []
        outputs: dict[str, Any] = {}
        failed = False
        for position, step in enumerate(spec.steps):
            if failed:
                # Sent for real, a step after a failure would run on outputs that do not exist.
                steps.append(StepTest(step.key, step.action, None))
                continue
            if send:
                context = self.context(spec, sample, position, flow_id, outputs)
                trial = await self._executor.try_step(step, context, f"test-{uuid.uuid4()}")
                outputs[step.key] = trial.output
                failed = trial.error is not None
            else:
                context = self.context(spec, sample, position, flow_id)
                trial = await self.sync(self._executor.rehearse, step, context)
            steps.append(StepTest(step.key, step.action, trial))
        return FlowTest(spec.name, flow_id, sample, steps, send, warnings)


#: ``event_json`` not given (``null`` is an event like any other).
_ABSENT = object()


def _parse_event(event_json: str | None) -> Any:
    """The event a caller gave as JSON text; raise :class:`Invalid` with where it breaks."""
    if event_json is None:
        return _ABSENT
    try:
        value = json.loads(event_json)
    except RecursionError:
        value = _ABSENT  # deeper than Python reads: refused just below
    except json.JSONDecodeError as exc:
        raise Invalid(
            [
                f"the sample event is not valid JSON: line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}"
            ]
        ) from exc
    if value is _ABSENT or nesting_depth(value, MAX_SHOWN_DEPTH) > MAX_SHOWN_DEPTH:
        raise Invalid([f"the sample event nests deeper than {MAX_SHOWN_DEPTH} levels"])
    return value


def _released(sample: Sample, digest: DigestSpec | None) -> Sample:
    """``sample`` as the steps of a flow with ``digest`` see it: a release of one item."""
    if digest is None:
        return sample
    return replace(sample, body=release_example(digest, sample.body))


def _from_row(row: EventRow) -> Sample:
    # Read as the pages read stored events: one nested too deeply to show is its text.
    return Sample(
        body=readable_json(row.body),
        origin="event",
        event_id=row.id,
        received_at=row.received_at,
        request=readable_json(row.meta),
    )


_PLACEHOLDERS: dict[str, Any] = {
    "string": "text",
    "integer": 0,
    "number": 0,
    "boolean": True,
    "array": [],
    "object": {},
}


def _example(model: type[BaseModel]) -> dict[str, Any]:
    """A value for each field: its first example, else a placeholder of its type."""
    out: dict[str, Any] = {}
    properties = model.model_json_schema().get("properties", {})
    for name, info in model.model_fields.items():
        if info.examples:
            out[name] = info.examples[0]
            continue
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[name] = _example(annotation)
            continue
        schema_type = properties.get(name, {}).get("type")
        out[name] = _PLACEHOLDERS.get(str(schema_type), "text")
    return out
