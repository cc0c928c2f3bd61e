"""What the flow editor needs besides saving: a sample event, previews, and trying a step.

- :meth:`Editor.sample` is the event templates are previewed and checked against: a delivery
  the flow received (the newest, or one the user picks), else the app's catalog sample.
- :meth:`Editor.wait_for_event` answers the first delivery after a moment, so that "wait for a
  test event" shows it as soon as it is stored, whether the flow is on or off.
- :meth:`Editor.preview` renders one input against the sample in the same sandbox as a run.
- :meth:`Editor.try_step` runs one action for real with its input rendered against the sample.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import col

from maillon.connectors.registry import Registry
from maillon.engine.errors import NotFound
from maillon.engine.executor import Executor, StepTrial, template_context
from maillon.engine.flows import AppEventTrigger, FlowSpec, StepSpec, WebhookTrigger
from maillon.engine.models import EventRow
from maillon.engine.services.base import Service
from maillon.engine.services.runs import events_of
from maillon.engine.templating import TemplateRenderError, render_value

__all__ = ["Editor", "Preview", "Sample"]


@dataclass(frozen=True)
class Sample:
    """An event to preview templates against, and where it comes from."""

    body: Any
    origin: Literal["event", "catalog", "none"]
    event_id: str | None = None
    received_at: float | None = None
    request: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Preview:
    """An input rendered against the sample, or why it cannot be."""

    value: Any = None
    error: str | None = None


_NO_SAMPLE = Sample(body={}, origin="none")


class Editor(Service):
    """Samples, previews and step trials for flows being edited."""

    def __init__(self, db: Engine, registry: Registry, executor: Executor) -> None:
        super().__init__(db)
        self._registry = registry
        self._executor = executor

    async def sample(
        self,
        trigger: WebhookTrigger | AppEventTrigger,
        flow_id: str | None = None,
        event_id: str | None = None,
    ) -> Sample:
        """The event to preview against: ``event_id`` if given (one of the flow's), else the
        flow's newest delivery, else the app's catalog sample for its event."""
        if flow_id is not None:
            row = await self.sync(self._stored, flow_id, event_id)
            if row is not None:
                return _from_row(row)
        if event_id is not None:
            raise NotFound(f"no event {event_id} for this flow")
        if isinstance(trigger, AppEventTrigger):
            connector = self._registry.get(trigger.type.partition(".")[0])
            owner = connector.trigger_for(trigger.event) if connector else None
            for e in owner().events() if owner else ():
                if e.name == trigger.event:
                    return Sample(body=dict(e.sample), origin="catalog")
        return _NO_SAMPLE

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

    def preview(self, value: Any, context: Mapping[str, Any], field: str = "input") -> Preview:
        """``value`` (a template, or a structure of them) rendered in the run sandbox."""
        try:
            return Preview(value=render_value(value, context, field))
        except TemplateRenderError as exc:
            return Preview(error=exc.reason)

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
        step: StepSpec = spec.steps[position]
        context = self.context(spec, sample, position, flow_id, outputs)
        return await self._executor.try_step(step, context, f"test-{uuid.uuid4()}")


def _from_row(row: EventRow) -> Sample:
    return Sample(
        body=json.loads(row.body),
        origin="event",
        event_id=row.id,
        received_at=row.received_at,
        request=json.loads(row.meta),
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
