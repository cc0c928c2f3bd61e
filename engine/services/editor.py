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

import datetime as dt
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
from maillon.engine.conditions import evaluate
from maillon.engine.control import (
    DelayStep,
    FilterStep,
    FormatStep,
    PathsStep,
    delay_until,
    walk,
)
from maillon.engine.digests import DIGEST_SOURCE, DigestSpec, release_example
from maillon.engine.errors import Invalid, NotFound
from maillon.engine.executor import Executor, StepTrial, template_context
from maillon.engine.failures import SAMPLE_EVENT
from maillon.engine.flows import (
    MAX_ITEMS,
    STEP_KINDS,
    AnyTrigger,
    AppEventTrigger,
    FlowSpec,
    FlowValidationError,
    RunFailedTrigger,
    StepSpec,
    field_warnings,
    load_yaml,
)
from maillon.engine.i18n import gettext as _
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
    """One step of a flow test; ``trial`` is ``None`` when the step was not reached, and
    ``skipped`` says why (an earlier step failed, a filter did not hold, a branch not taken).

    ``action`` is the action of an action step, else the step's kind (``filter``, ``paths``,
    ``delay``, ``format``), whose output is shown even when nothing is sent.
    """

    key: str
    action: str
    trial: StepTrial | None
    skipped: str = "an earlier step failed"

    @property
    def steers(self) -> bool:
        """Whether the step is not an action (its output is computed, never sent)."""
        return self.action in _KINDS


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
        """Whether every step reached rendered (and, when sent, ran) without an error."""
        return not self.problems and all(
            s.trial is None or s.trial.error is None for s in self.steps
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
        flow's newest delivery, else the app's catalog sample for its event (for an error
        flow, an example failure), else the next tick of its schedule. With a ``digest``, the
        steps see releases: a release of that event (unless it is one already)."""
        sample = _NO_SAMPLE
        if flow_id is not None:
            row = await self.sync(self._stored, flow_id, event_id)
            if row is not None:
                if row.source == DIGEST_SOURCE:
                    return _from_row(row)
                sample = _from_row(row)
        if event_id is not None and sample is _NO_SAMPLE:
            raise NotFound(_("no event %(id)s for this flow", id=event_id))
        if sample is _NO_SAMPLE and isinstance(trigger, AppEventTrigger):
            connector = self._registry.get(trigger.type.partition(".")[0])
            owner = connector.trigger_for(trigger.event) if connector else None
            for e in owner().events() if owner else ():
                if e.name == trigger.event:
                    sample = Sample(body=dict(e.sample), origin="catalog")
        if sample is _NO_SAMPLE and isinstance(trigger, RunFailedTrigger):
            sample = Sample(body=SAMPLE_EVENT, origin="catalog")
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

    async def context(
        self,
        spec: FlowSpec,
        sample: Sample,
        before: int,
        flow_id: str | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """What templates of step number ``before`` see when rendered against ``sample``
        (see :meth:`contexts`)."""
        return (await self.contexts(spec, sample, flow_id, outputs, upto=before))[-1]

    async def contexts(
        self,
        spec: FlowSpec,
        sample: Sample,
        flow_id: str | None = None,
        outputs: Mapping[str, Any] | None = None,
        *,
        upto: int | None = None,
    ) -> list[dict[str, Any]]:
        """What the templates of each top-level step see (the ``i``-th: before step ``i``, and
        one more after the last, or after step ``upto``), in one pass: each earlier output is
        made once.

        Earlier steps' outputs are those given in ``outputs`` (what a step test returned), else
        made up (:meth:`_made_up`).
        """
        base = template_context(
            sample.body,
            sample.request or {"method": "POST", "query": {}, "headers": {}},
            flow={"id": flow_id or "", "name": spec.name},
            run={"id": "preview", "event_id": sample.event_id or ""},
        )
        steps: dict[str, Any] = {}
        made = {**base, "steps": steps}
        out = []
        for top in spec.steps[:upto]:
            out.append({**base, "steps": dict(steps)})
            for _where, s in walk([top]):
                steps[s.key] = await self._made_up(s, made, outputs)
        out.append({**base, "steps": dict(steps)})
        return out

    async def _made_up(
        self, step: Any, context: dict[str, Any], outputs: Mapping[str, Any] | None
    ) -> Any:
        """A step's output for previews: the one given (a step test's), else a format step's
        values rendered from ``context`` as a run would (they need no app; where a template
        cannot be rendered yet, its example), else an example shaped by the action's output
        model."""
        if outputs and step.key in outputs:
            return outputs[step.key]
        if isinstance(step, FormatStep):
            try:
                return await self.sync(render_value, step.format, context, "format", self._budget)
            except TemplateRenderError:
                pass
        return self.step_example(step)

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

    def step_example(self, step: Any) -> Any:
        """An output shaped like ``step``'s, whatever its kind."""
        if isinstance(step, StepSpec):
            example = self.output_example(step.action)
            return [example] if step.for_each is not None else example
        if isinstance(step, FormatStep):
            return dict.fromkeys(step.format, "text")
        # As the executor records each kind (maillon.engine.executor).
        if isinstance(step, FilterStep):
            return {"passed": True, "reason": ""}
        if isinstance(step, PathsStep):
            return {"branches": [], "reasons": {}}
        return {"until": 0.0}

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
        position = next(
            (i for i, top in enumerate(spec.steps) for _, s in walk([top]) if s.key == step_key),
            None,
        )
        step = next((s for s in spec.all_steps() if s.key == step_key), None)
        if position is None or step is None:
            raise NotFound(_("no step %(key)r in this flow", key=step_key))
        if not isinstance(step, StepSpec):
            raise Invalid(
                [_("step %(key)r is not an action: only actions are tried", key=step_key)]
            )
        # Secret inputs are stored sealed: the trial needs them as the run would have them.
        spec = await self._flows.runnable(spec, flow_id)
        step = next(s for s in spec.all_steps() if s.key == step_key)
        assert isinstance(step, StepSpec)
        context = await self.context(spec, sample, position, flow_id, outputs)
        earlier = spec.positions
        for s in spec.all_steps():
            # Steps of the same branch before this one (their place is before its own).
            if earlier[s.key] < earlier[step_key] and s.key not in context["steps"]:
                context["steps"][s.key] = await self._made_up(s, context, outputs)
        context = self.item_context(step, context)
        return await self._executor.try_step(step, context, f"test-{uuid.uuid4()}")

    def item_context(self, step: Any, context: dict[str, Any]) -> dict[str, Any]:
        """``context`` with the first item of ``step``'s loop as ``item`` (and ``loop``), for
        previews and tries of a loop's inputs; unchanged for a step without a loop, or whose
        list cannot be read yet."""
        if not isinstance(step, StepSpec) or step.for_each is None:
            return context
        try:
            items = render_value(step.for_each, context, "for_each")
        except TemplateRenderError:
            return context
        if not isinstance(items, list) or not items:
            return context
        return {**context, "item": items[0], "loop": _loop(0, len(items))}

    async def test_stored(
        self, ref: str, event_json: str | None = None, *, send: bool = False
    ) -> FlowTest:
        """Test a saved flow (by id or name) as it is being edited (its draft, else its
        published version) against ``event_json``, else its newest delivery, else its app's
        catalog sample. With ``send``, its steps run for real."""
        view = await self._flows.get(ref)
        spec = await self._flows.runnable(view.editing, view.row.id)
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
        context = await self.context(spec, sample, 0, flow_id)
        tried = _Trial(context, send)
        await self._try_steps(spec.steps, tried)
        return FlowTest(spec.name, flow_id, sample, tried.steps, send, warnings)

    async def _try_steps(self, steps: list[Any], tried: _Trial) -> None:
        """Try ``steps`` in order as a run would take them (see :meth:`test_yaml`)."""
        for step in steps:
            if tried.stopped is not None:
                tried.skip([step], tried.stopped)
                continue
            if isinstance(step, StepSpec):
                trial = await self._try_action(step, tried)
                tried.add(step.key, step.action, trial, step.for_each is not None)
                if tried.send and trial.error is not None:
                    # Sent for real, a step after a failure would run on outputs that do not
                    # exist.
                    tried.stopped = "an earlier step failed"
                continue
            trial = self._decide(step, tried.context)
            tried.add(step.key, _kind(step), trial)
            if isinstance(step, FilterStep) and trial.output and not trial.output["passed"]:
                tried.stopped = f"the filter {step.key} did not hold"
            elif isinstance(step, PathsStep):
                chosen = trial.output["branches"] if trial.output else []
                for branch in step.paths.branches:
                    if branch.name in chosen:
                        await self._try_steps(branch.steps, tried)
                    else:
                        tried.skip(branch.steps, _("branch %(name)s not taken", name=branch.name))

    async def _try_action(self, step: StepSpec, tried: _Trial) -> StepTrial:
        """Render (or, with ``send``, run) one action; a loop once per item."""
        if step.for_each is None:
            return await self._try_once(step, tried, tried.context)
        try:
            items = render_value(step.for_each, tried.context, "for_each")
        except TemplateRenderError as exc:
            return StepTrial(None, None, exc.said)
        if not isinstance(items, list):
            return StepTrial(None, None, _("for_each does not give a list of items"))
        trials = [
            await self._try_once(
                step, tried, {**tried.context, "item": item, "loop": _loop(i, len(items))}
            )
            for i, item in enumerate(items[:MAX_ITEMS])
        ]
        error = next(
            (
                _("item %(num)s: %(error)s", num=i, error=t.error)
                for i, t in enumerate(trials)
                if t.error
            ),
            None,
        )
        return StepTrial([t.rendered for t in trials], [t.output for t in trials], error)

    async def _try_once(self, step: StepSpec, tried: _Trial, context: dict[str, Any]) -> StepTrial:
        if tried.send:
            return await self._executor.try_step(step, context, f"test-{uuid.uuid4()}")
        trial = self._executor.rehearse(step, context)
        return StepTrial(trial.rendered, self.output_example(step.action), trial.error)

    def _decide(self, step: Any, context: dict[str, Any]) -> StepTrial:
        """What a filter, paths, delay or format step gives against ``context``."""
        if isinstance(step, FilterStep):
            verdict = evaluate(step.filter, context)
            return StepTrial(None, {"passed": verdict.held, "reason": verdict.reason})
        if isinstance(step, PathsStep):
            return StepTrial(None, step.choose(context))
        try:
            if isinstance(step, DelayStep):
                until = delay_until(step.delay, context, time.time())
                moment = dt.datetime.fromtimestamp(until, dt.UTC).isoformat(timespec="seconds")
                return StepTrial(None, {"until": until, "at": moment})
            return StepTrial(None, render_value(step.format, context, "format"))
        except TemplateRenderError as exc:
            return StepTrial(None, None, exc.said)
        except ValueError as exc:
            return StepTrial(None, None, str(exc))


#: The kinds of step that are not actions, as a flow test names them.
_KINDS = ("filter", "paths", "delay", "format")


def _kind(step: Any) -> str:
    return next((k for k in _KINDS if isinstance(step, STEP_KINDS[k])), "action")


def _loop(index0: int, length: int) -> dict[str, Any]:
    """``loop`` in the templates of a loop's item number ``index0``."""
    return {
        "index": index0 + 1,
        "index0": index0,
        "length": length,
        "first": index0 == 0,
        "last": index0 == length - 1,
    }


@dataclass
class _Trial:
    """A flow test under way: the context later steps see, and the steps tried so far."""

    context: dict[str, Any]
    send: bool
    steps: list[StepTest] = field(default_factory=list)
    #: Why the steps from here on are not reached (``None``: they are).
    stopped: str | None = None

    def add(self, key: str, action: str, trial: StepTrial, loop: bool = False) -> None:
        self.steps.append(StepTest(key, action, trial))
        self.context["steps"][key] = trial.output

    def skip(self, steps: list[Any], why: str) -> None:
        for _where, step in walk(steps):
            action = step.action if isinstance(step, StepSpec) else _kind(step)
            self.steps.append(StepTest(step.key, action, None, why))


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
