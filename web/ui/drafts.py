"""The flow editor's form, read and written: a flow as it is being edited (a :class:`Draft`).

The editor is one HTML form; adding, moving or removing a step, or changing the trigger, posts
it and gets it back re-rendered, so the state being edited lives in the form itself and nothing
is saved until the user saves. A draft keeps every input as the text typed (a broken JSON list
is shown again as typed, with its problem), and becomes a
:class:`~maillon.engine.flows.FlowDocument` only when saved, tested or previewed.

Input names: ``name``, ``description``, ``trigger_type`` (``webhook``, ``schedule`` or
``<app>.<trigger>``), ``dedup``, ``trigger_connection``, ``trigger_event``, ``sample_event``, the
schedule's and the digest's (see :mod:`maillon.web.ui.timing`), and per step
``steps-<n>-key``, ``-action``, ``-connection``, ``-max_attempts``, ``-input-<field>``.
Problems the engine reports ("steps[0] (notify).input.text: ...") are placed next to the input
they are about (:func:`place`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from maillon.connectors.base import Connector
from maillon.engine.flows import AppEventTrigger, FlowDocument, FlowSpec, StepSpec, WebhookTrigger
from maillon.engine.validation import problems as validation_problems
from maillon.web.ui.schema import FormField, as_text, form_fields, read_form
from maillon.web.ui.timing import DigestDraft, ScheduleDraft

__all__ = ["Draft", "StepDraft", "context_spec", "place", "step_fields", "to_document"]

_STEP_INPUT = re.compile(r"^steps-(\d+)-(key|action|connection|max_attempts|tested|input-.+)$")
#: A step test's output kept in the form, for the picker and the later steps' previews.
_MAX_TESTED = 64 * 1024
_MAX_STEPS = 100


@dataclass
class StepDraft:
    """One step as typed."""

    key: str
    action: str
    connection: str = ""
    max_attempts: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    #: The output of the last "Test this step", as JSON text ("" when not tested).
    tested: str = ""

    @property
    def tested_output(self) -> Any:
        """The last test's output, if it is kept and readable."""
        if not self.tested or len(self.tested) > _MAX_TESTED:
            return None
        try:
            return json.loads(self.tested)
        except ValueError:
            return None


@dataclass
class Draft:
    """A flow as typed in the editor."""

    name: str = ""
    description: str = ""
    trigger_type: str = "webhook"
    dedup: str = ""
    trigger_connection: str = ""
    trigger_event: str = ""
    sample_event: str = ""
    schedule: ScheduleDraft = field(default_factory=ScheduleDraft)
    digest: DigestDraft = field(default_factory=DigestDraft)
    steps: list[StepDraft] = field(default_factory=list)

    @classmethod
    def of(cls, spec: FlowSpec) -> Draft:
        """A saved flow, ready to edit."""
        trigger = spec.trigger
        draft = cls(name=spec.name, description=spec.description)
        if isinstance(trigger, AppEventTrigger):
            draft.trigger_type = trigger.type
            draft.trigger_connection, draft.trigger_event = trigger.connection, trigger.event
        elif isinstance(trigger, WebhookTrigger):
            draft.dedup = trigger.dedup or ""
        else:
            draft.trigger_type = "schedule"
            draft.schedule = ScheduleDraft.of(trigger)
        draft.digest = DigestDraft.of(spec.digest)
        draft.steps = [
            StepDraft(
                key=s.key,
                action=s.action,
                connection=s.connection or "",
                max_attempts=str(s.max_attempts or ""),
                inputs={k: as_text(v) for k, v in s.input.items()},
            )
            for s in spec.steps
        ]
        return draft

    @classmethod
    def read(cls, form: Mapping[str, str]) -> Draft:
        """The draft a posted editor form holds."""

        def text(name: str) -> str:
            return form.get(name, "").strip()

        draft = cls(
            name=text("name"),
            description=form.get("description", ""),
            trigger_type=text("trigger_type"),
            dedup=text("dedup"),
            trigger_connection=text("trigger_connection"),
            trigger_event=text("trigger_event"),
            sample_event=text("sample_event"),
            schedule=ScheduleDraft.read(form, "schedule-"),
            digest=DigestDraft.read(form),
        )
        draft.trigger_type = draft.trigger_type or "webhook"
        steps: dict[int, StepDraft] = {}
        for name, value in form.items():
            match = _STEP_INPUT.match(name)
            if not match or int(match.group(1)) >= _MAX_STEPS:
                continue
            step = steps.setdefault(int(match.group(1)), StepDraft(key="", action=""))
            part = match.group(2)
            if part.startswith("input-"):
                step.inputs[part.removeprefix("input-")] = value
            else:
                setattr(step, part, value.strip())
        draft.steps = [steps[i] for i in sorted(steps)]
        return draft

    def add_step(self, action: str) -> None:
        """Append a step doing ``action``, with a key of its own."""
        base = action.partition(".")[2] or "step"
        taken = {s.key for s in self.steps}
        key, n = base, 2
        while key in taken:
            key, n = f"{base}_{n}", n + 1
        self.steps.append(StepDraft(key=key, action=action))

    def move(self, index: int, offset: int) -> None:
        """Move step ``index`` up (-1) or down (+1)."""
        target = index + offset
        if 0 <= index < len(self.steps) and 0 <= target < len(self.steps):
            self.steps[index], self.steps[target] = self.steps[target], self.steps[index]

    def remove(self, index: int) -> None:
        """Remove step ``index``."""
        if 0 <= index < len(self.steps):
            del self.steps[index]


def step_fields(connector: Connector | None, action: str) -> list[FormField]:
    """The inputs of a step's action, from its input model."""
    found = connector.action(action.partition(".")[2]) if connector else None
    return form_fields(found.Input.model_json_schema()) if found else []


def to_document(
    draft: Draft, connectors: Mapping[str, Connector], *, enabled: bool
) -> tuple[FlowDocument | None, dict[str, list[str]]]:
    """The draft as a flow document, or the problems that keep it from being one, by input."""
    found: dict[str, list[str]] = {}
    steps: list[dict[str, Any]] = []
    for i, step in enumerate(draft.steps):
        fields = step_fields(connectors.get(step.action.partition(".")[0]), step.action)
        if fields:
            values, problems = read_form(fields, step.inputs)
        else:
            # An action that is not installed: keep what was typed, and let the engine say why
            # the step cannot be saved.
            values, problems = {k: v for k, v in step.inputs.items() if v.strip()}, {}
        for name, problem in problems.items():
            found.setdefault(f"steps-{i}-input-{name}", []).append(problem)
        steps.append(
            {
                "key": step.key,
                "action": step.action,
                "connection": step.connection or None,
                "max_attempts": step.max_attempts or None,
                "input": values,
            }
        )
    trigger: dict[str, Any] = {"type": "webhook", "dedup": draft.dedup or None}
    if draft.trigger_type == "schedule":
        trigger = {"type": draft.trigger_type, **draft.schedule.raw()}
    elif draft.trigger_type != "webhook":
        trigger = {
            "type": draft.trigger_type,
            "connection": draft.trigger_connection,
            "event": draft.trigger_event,
        }
    raw = {
        "name": draft.name,
        "description": draft.description,
        "enabled": enabled,
        "trigger": trigger,
        "digest": draft.digest.raw(),
        "steps": steps,
    }
    try:
        document = FlowDocument.model_validate(raw)
    except ValidationError as exc:
        for problem in validation_problems(exc):
            where, _, reason = problem.partition(": ")
            found.setdefault(place(where + ":"), []).append(reason)
        return None, found
    return (None if found else document), found


_PROBLEM = re.compile(
    r"^steps\[(?P<i>\d+)\](?: \([a-z0-9_]+\))?(?:\.(?P<part>input\.[^:\s]+|key|action|"
    r"connection|max_attempts|input))?:"
)


def place(problem: str) -> str:
    """The input a problem is about: ``steps[0] (a).input.text: ...`` → ``steps-0-input-text``.

    Problems about a whole step go to ``steps-<n>``; about the trigger to ``trigger`` (or
    ``dedup``, or its schedule's input: ``schedule-cron``); about the digest to ``digest`` or its
    input (``digest-name``, ``digest-release-every``); anything else to ``flow``.
    """
    match = _PROBLEM.match(problem)
    if match:
        part = match.group("part")
        if not part:
            return f"steps-{match.group('i')}"
        if part.startswith("input."):
            # A nested location (input.values.Amount) belongs to its top-level input.
            return f"steps-{match.group('i')}-input-{part.split('.')[1].split('[')[0]}"
        return f"steps-{match.group('i')}-{'input' if part == 'input' else part}"
    # A draft read by pydantic names the trigger's kind in the place (trigger.schedule.cron).
    head = re.sub(r"^trigger\.(webhook|app|schedule)\b", "trigger", problem.split(":", 1)[0])
    if head.startswith("trigger.dedup"):
        return "dedup"
    if head in _SCHEDULE_INPUTS:
        return _SCHEDULE_INPUTS[head]
    if head.startswith("digest"):
        return "digest"
    if head.startswith("trigger"):
        return "trigger"
    if head in ("name", "description"):
        return head
    return "flow"


#: Where problems about the schedule's and the digest's inputs are shown.
_SCHEDULE_INPUTS = {
    **{f"trigger.{name}": f"schedule-{name}" for name in ScheduleDraft.__dataclass_fields__},
    **{
        f"digest.release.{name}": f"digest-release-{name}"
        for name in ScheduleDraft.__dataclass_fields__
    },
    "digest.release.count": "digest-release-count",
    "digest.name": "digest-name",
    "digest.item": "digest-item",
}


def context_spec(draft: Draft, connectors: Mapping[str, Connector]) -> FlowSpec:
    """The draft as a spec good enough to preview against: every step's key and action, and
    the inputs that can be read (a step with problems keeps the inputs it has)."""
    steps = []
    for step in draft.steps:
        fields = step_fields(connectors.get(step.action.partition(".")[0]), step.action)
        values, _ = read_form(fields, step.inputs)
        steps.append(
            StepSpec.model_construct(
                key=step.key,
                action=step.action,
                connection=step.connection or None,
                input=values,
                max_attempts=None,
            )
        )
    return FlowSpec.model_construct(name=draft.name or "draft", description="", steps=steps)
