"""The flow editor's form, read and written: a flow as it is being edited (a :class:`Draft`).

The editor is one HTML form; adding, moving or removing a step, or changing the trigger, posts
it and gets it back re-rendered, so the state being edited lives in the form itself and nothing
is saved until the user saves. A draft keeps every input as the text typed (a broken JSON list
is shown again as typed, with its problem), and becomes a
:class:`~maillon.engine.flows.FlowDocument` only when saved, tested or previewed.

Input names: ``name``, ``description``, ``trigger_type`` (``webhook``, ``maillon.run_failed``
or ``<app>.<trigger>``), ``dedup``, ``trigger_connection``, ``trigger_event``,
``failed_flow-<n>`` (an error flow's flows, by name) and ``failure``, ``sample_event``, the
schedule's and the digest's (see :mod:`maillon.web.ui.timing`), the
failure policy's ``alert`` (a checkbox, read only when ``failure_policy`` says the form has it)
and ``pause_after``, and per step ``steps-<n>-key``, ``-kind``, ``-parent``, and for actions
``-action``, ``-connection``, ``-max_attempts``, ``-for_each``, ``-input-<field>`` (the other
kinds' in :mod:`maillon.web.ui.steering`). Steps are numbered in the order a run meets them: a
branch's steps (``-parent`` is ``<paths key>.<branch name>``) come right after their paths step.
Problems the engine reports ("steps[0] (notify).input.text: ...") are placed next to the input
they are about (:func:`place`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from maillon.connectors.base import Connector
from maillon.engine.control import FormatStep, Paths, PathsStep
from maillon.engine.flows import (
    RUN_FAILED,
    STEP_KINDS,
    AppEventTrigger,
    FlowDocument,
    FlowSpec,
    RunFailedTrigger,
    StepSpec,
    WebhookTrigger,
)
from maillon.engine.validation import problems as validation_problems
from maillon.web.ui.schema import FormField, as_text, form_fields, read_form
from maillon.web.ui.steering import KINDS, BranchDraft, Steering
from maillon.web.ui.timing import DigestDraft, ScheduleDraft

__all__ = [
    "Draft",
    "StepDraft",
    "context_spec",
    "kept_settings",
    "place",
    "step_fields",
    "to_document",
]

_STEP_INPUT = re.compile(r"^steps-([0-9]{1,6})-(.+)$")
_STEP_FIELDS = (
    "key",
    "kind",
    "parent",
    "action",
    "connection",
    "max_attempts",
    "for_each",
    "tested",
    "was",
)
_NONE = object()
#: A step test's output kept in the form, for the picker and the later steps' previews.
_MAX_TESTED = 64 * 1024
_MAX_STEPS = 100


@dataclass
class StepDraft:
    """One step as typed."""

    key: str
    action: str = ""
    connection: str = ""
    max_attempts: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    #: The output of the last "Test this step", as JSON text ("" when not tested).
    tested: str = ""
    #: ``action``, or the kind of step that steers the run (see :data:`KINDS`).
    kind: str = "action"
    #: ``<paths key>.<branch name>`` for a step of a branch, else "".
    parent: str = ""
    #: "For each item of": the template of a loop's list ("" when the action runs once).
    for_each: str = ""
    steering: Steering = field(default_factory=Steering)
    #: A paths step's key when the editor was shown (its branches' steps name that one).
    was: str = ""

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
    #: An error flow's trigger: the flows whose failures it takes (none: all), and which ones.
    failed_flows: list[str] = field(default_factory=list)
    failure: str = "any"
    sample_event: str = ""
    #: The failure policy: alerts on, and after how many failed runs in a row to pause ("").
    alert: bool = True
    pause_after: str = ""
    schedule: ScheduleDraft = field(default_factory=ScheduleDraft)
    digest: DigestDraft = field(default_factory=DigestDraft)
    steps: list[StepDraft] = field(default_factory=list)
    #: Branches renamed in the form since the editor was shown (or whose paths step was):
    #: ``<paths key>.<name then>`` → ``<paths key>.<name now>``.
    renamed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: FlowSpec) -> Draft:
        """A saved flow, ready to edit."""
        trigger = spec.trigger
        policy = spec.failure_policy
        draft = cls(
            name=spec.name,
            description=spec.description,
            alert=policy.alert,
            pause_after=str(policy.pause_after or ""),
        )
        if isinstance(trigger, AppEventTrigger):
            draft.trigger_type = trigger.type
            draft.trigger_connection, draft.trigger_event = trigger.connection, trigger.event
        elif isinstance(trigger, RunFailedTrigger):
            draft.trigger_type = trigger.type
            draft.failed_flows, draft.failure = list(trigger.flows), trigger.failure
        elif isinstance(trigger, WebhookTrigger):
            draft.dedup = trigger.dedup or ""
        else:
            draft.trigger_type = "schedule"
            draft.schedule = ScheduleDraft.of(trigger)
        draft.digest = DigestDraft.of(spec.digest)
        draft.steps = list(_flattened(spec.steps, ""))
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
            failure=text("failure") or "any",
            sample_event=text("sample_event"),
            # An unchecked box sends nothing: absent means off only where the form has it.
            alert=form.get("alert") == "on" if "failure_policy" in form else True,
            pause_after=text("pause_after"),
            schedule=ScheduleDraft.read(form, "schedule-"),
            digest=DigestDraft.read(form),
        )
        draft.trigger_type = draft.trigger_type or "webhook"
        draft.failed_flows = [
            value.strip()
            for name, value in form.items()
            if name.startswith("failed_flow-") and value.strip()
        ][:100]
        steps: dict[int, StepDraft] = {}
        for name, value in form.items():
            match = _STEP_INPUT.match(name)
            if not match or int(match.group(1)) >= _MAX_STEPS:
                continue
            step = steps.setdefault(int(match.group(1)), StepDraft(key=""))
            part = match.group(2)
            if part.startswith("input-"):
                step.inputs[part.removeprefix("input-")] = value
            elif part in _STEP_FIELDS:
                setattr(step, part, value.strip())
            else:
                step.steering.read(part, value)
        draft.steps = [steps[i] for i in sorted(steps)]
        for step in draft.steps:
            step.kind = step.kind if step.kind in KINDS else "action"
        draft.renamed = {
            f"{step.was or step.key}.{b.was}": f"{step.key}.{b.name}"
            for step in draft.steps
            if step.kind == "paths"
            for b in step.steering.branches
            if b.was and b.name and (b.was, step.was or step.key) != (b.name, step.key)
        }
        # A branch renamed keeps its steps (their -parent still names it as it was).
        for step in draft.steps:
            step.parent = draft.renamed.get(step.parent, step.parent)
        draft.order()
        return draft

    def order(self) -> None:
        """Put the steps in the order a run meets them: each branch's steps right after their
        paths step, in the order they had; a step whose branch is gone goes to the flow."""
        branches = {
            f"{s.key}.{name}"
            for s in self.steps
            if s.kind == "paths"
            for name in s.steering.branch_names()
        }
        for step in self.steps:
            if step.parent and step.parent not in branches:
                step.parent = ""
        children: dict[str, list[StepDraft]] = {}
        for step in self.steps:
            children.setdefault(step.parent, []).append(step)
        ordered: list[StepDraft] = []
        seen: set[int] = set()

        def place_in(parent: str) -> None:
            for step in children.get(parent, []):
                if id(step) in seen:
                    continue  # a paths step inside its own branch: once is enough
                seen.add(id(step))
                ordered.append(step)
                for name in step.steering.branch_names() if step.kind == "paths" else []:
                    place_in(f"{step.key}.{name}")

        place_in("")
        self.steps = ordered + [s for s in self.steps if id(s) not in seen]

    def branches(self) -> list[tuple[str, str]]:
        """Every branch steps may be added to: (``<paths key>.<branch name>``, its label)."""
        return [
            (f"{s.key}.{name}", f"{s.key} → {name}")
            for s in self.steps
            if s.kind == "paths"
            for name in s.steering.branch_names()
        ]

    def branch(self, target: str) -> str | None:
        """The branch ``target`` (``<paths key>.<branch name>``, as the editor was shown) is
        now, renamed since or not; ``None`` when the form has no such branch any more."""
        current = self.renamed.get(target, target)
        return current if current in dict(self.branches()) else None

    def add_step(self, action: str, parent: str = "") -> None:
        """Add a step doing ``action`` (or of a kind of :data:`KINDS`), with a key of its own,
        at the end of the flow (``parent`` "") or of the branch ``parent`` (its name when the
        editor was shown: see :meth:`branch`).

        Raises :class:`LookupError` when the form has no such branch any more (its paths step
        removed, the branch emptied of its name): the step is not added anywhere else.
        """
        branch = self.branch(parent) if parent else ""
        if branch is None:
            raise LookupError(parent)
        kind = action if action in KINDS else "action"
        base = action if kind != "action" else action.partition(".")[2] or "step"
        taken = {s.key for s in self.steps}
        key, n = base, 2
        while key in taken:
            key, n = f"{base}_{n}", n + 1
        step = StepDraft(key=key, action=action if kind == "action" else "", kind=kind)
        step.parent = branch
        if kind == "paths":
            step.steering.branches = [BranchDraft("first"), BranchDraft("otherwise")]
        self.steps.append(step)
        self.order()

    def move(self, index: int, offset: int) -> None:
        """Move step ``index`` up (-1) or down (+1) among the steps of its branch (or of the
        flow); a paths step moves with its branches' steps."""
        if not 0 <= index < len(self.steps):
            return
        parent = self.steps[index].parent
        siblings = [i for i, s in enumerate(self.steps) if s.parent == parent]
        at = siblings.index(index) + offset
        if 0 <= at < len(siblings):
            other = siblings[at]
            self.steps[index], self.steps[other] = self.steps[other], self.steps[index]
            self.order()

    def remove(self, index: int) -> None:
        """Remove step ``index`` (a paths step with its branches' steps)."""
        if not 0 <= index < len(self.steps):
            return
        gone = self.steps.pop(index)
        if gone.kind == "paths":
            prefix = f"{gone.key}."
            while any(s.parent.startswith(prefix) for s in self.steps):
                removed = next(i for i, s in enumerate(self.steps) if s.parent.startswith(prefix))
                self.remove(removed)


def step_fields(connector: Connector | None, action: str) -> list[FormField]:
    """The inputs of a step's action, from its input model."""
    found = connector.action(action.partition(".")[2]) if connector else None
    return form_fields(found.Input.model_json_schema()) if found else []


def _flattened(steps: list[Any], parent: str) -> Iterator[StepDraft]:
    """Saved steps as the form's steps, each branch's right after its paths step."""
    for s in steps:
        if isinstance(s, StepSpec):
            yield StepDraft(
                key=s.key,
                action=s.action,
                connection=s.connection or "",
                max_attempts=str(s.max_attempts or ""),
                inputs={k: as_text(v) for k, v in s.input.items()},
                parent=parent,
                for_each=as_text(s.for_each),
            )
            continue
        kind = next(k for k in KINDS if isinstance(s, STEP_KINDS[k]))
        yield StepDraft(key=s.key, kind=kind, parent=parent, steering=Steering.of(s))
        if isinstance(s, PathsStep):
            for branch in s.paths.branches:
                yield from _flattened(branch.steps, f"{s.key}.{branch.name}")


def kept_settings(spec: FlowSpec) -> dict[str, Any]:
    """The settings of ``spec`` that the editor has no inputs for, as JSON values: the flow's
    attempts per step and how long its runs are kept, and a webhook's signature check.

    A save made in the editor takes them from the flow as stored (:func:`to_document`), never
    from the form: a form opened before a change made elsewhere (an import adding a signature
    check) must not undo it, and the loss of a signature check would open the hook to
    unsigned deliveries.
    """
    kept = spec.model_dump(mode="json", include={"max_attempts", "retention"}, exclude_none=True)
    if isinstance(spec.trigger, WebhookTrigger) and spec.trigger.signature is not None:
        kept["signature"] = spec.trigger.signature.model_dump(mode="json")
    return kept


def _stored_inputs(steps: list[Any]) -> dict[str, set[str]]:
    """The input names each action step of a stored flow sets, by step key (branches too)."""
    found: dict[str, set[str]] = {}
    for s in steps:
        if isinstance(s, StepSpec):
            found[s.key] = set(s.input)
        elif isinstance(s, PathsStep):
            for branch in s.paths.branches:
                found |= _stored_inputs(branch.steps)
    return found


def to_document(
    draft: Draft,
    connectors: Mapping[str, Connector],
    *,
    enabled: bool,
    stored: FlowSpec | None = None,
) -> tuple[FlowDocument | None, dict[str, list[str]]]:
    """The draft as a flow document, or the problems that keep it from being one, by input.

    ``stored``: the flow as saved (its draft, else its published version), whose settings the
    editor has no inputs for are kept (:func:`kept_settings`), and whose steps' inputs set at
    their default stay set.
    """
    kept = kept_settings(stored) if stored is not None else {}
    explicit = _stored_inputs(stored.steps) if stored is not None else {}
    found: dict[str, list[str]] = {}
    built: list[tuple[str, dict[str, Any]]] = []
    for i, step in enumerate(draft.steps):
        if step.kind != "action":
            built.append((step.parent, {"kind": step.kind, "draft": step}))
            continue
        fields = step_fields(connectors.get(step.action.partition(".")[0]), step.action)
        if fields:
            values, problems = read_form(fields, step.inputs)
            # An input at its default is left out, as one never set (selects always post a
            # choice: saving an untouched step must not add its defaults to the flow), unless
            # the step as stored sets it.
            defaults = {f.name: f.default for f in fields if f.default is not None}
            had = explicit.get(step.key, set())
            values = {k: v for k, v in values.items() if k in had or defaults.get(k, _NONE) != v}
        else:
            # An action that is not installed: keep what was typed, and let the engine say why
            # the step cannot be saved.
            values, problems = {k: v for k, v in step.inputs.items() if v.strip()}, {}
        for name, problem in problems.items():
            found.setdefault(f"steps-{i}-input-{name}", []).append(problem)
        action: dict[str, Any] = {
            "key": step.key,
            "action": step.action,
            "connection": step.connection or None,
            "max_attempts": step.max_attempts or None,
            "input": values,
        }
        if step.for_each:
            action["for_each"] = step.for_each
        built.append((step.parent, action))
    # Built from the last step up, so that a branch's steps are ready when its paths step is.
    children: dict[str, list[dict[str, Any]]] = {}
    for parent, item in reversed(built):
        if "draft" in item:
            steered: StepDraft = item["draft"]
            item = steered.steering.raw(steered.kind, steered.key, children)
        children.setdefault(parent, []).insert(0, item)
    steps = children.get("", [])
    trigger: dict[str, Any] = {
        "type": "webhook",
        "dedup": draft.dedup or None,
        "signature": kept.get("signature"),
    }
    if draft.trigger_type == RUN_FAILED:
        trigger = {"type": RUN_FAILED, "flows": draft.failed_flows, "failure": draft.failure}
    elif draft.trigger_type == "schedule":
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
        "max_attempts": kept.get("max_attempts"),
        "retention": kept.get("retention"),
    }
    if not draft.alert or draft.pause_after:
        raw["on_failure"] = {"alert": draft.alert, "pause_after": draft.pause_after or None}
    try:
        document = FlowDocument.model_validate(raw)
    except ValidationError as exc:
        for problem in validation_problems(exc):
            where, _, reason = problem.partition(": ")
            found.setdefault(place(where + ":"), []).append(reason)
        return None, found
    return (None if found else document), found


_PROBLEM = re.compile(
    r"^steps\[(?P<i>\d+)\](?: \((?P<key>[a-z0-9_]+)\))?(?:\.paths\.branches\[\d+\]"
    r"(?: \([a-z0-9_]+\))?\.steps\[\d+\](?: \((?P<inner>[a-z0-9_]+)\))?)*"
    r"(?:\.(?P<part>input\.[^:\s]+|key|action|connection|max_attempts|for_each|input))?"
    r"(?P<rest>[^:]*):"
)


def place(problem: str, keys: Mapping[str, int] | None = None) -> str:
    """The input a problem is about: ``steps[0] (a).input.text: ...`` → ``steps-0-input-text``.

    A problem about a step of a branch (``steps[1] (route).paths.branches[0] (refunds).steps[0]
    (notify)...``) goes to that step, found by its key in ``keys`` (key → the form's step
    number). Problems about a whole step, or a part without an input of its own, go to
    ``steps-<n>``; about the trigger to ``trigger`` (or ``dedup``, or its schedule's input:
    ``schedule-cron``); about the digest to ``digest`` or its input (``digest-name``,
    ``digest-release-every``); anything else to ``flow``.
    """
    match = _PROBLEM.match(problem)
    if match:
        index = match.group("i")
        inner = match.group("inner")
        if inner is not None:
            if keys is None or inner not in keys:
                return "flow"
            index = str(keys[inner])
        part = match.group("part")
        if not part or match.group("rest"):
            return f"steps-{index}"
        if part.startswith("input."):
            # A nested location (input.values.Amount) belongs to its top-level input.
            return f"steps-{index}-input-{part.split('.')[1].split('[')[0]}"
        return f"steps-{index}-{'input' if part == 'input' else part}"
    # A draft read by pydantic names the trigger's kind in the place (trigger.schedule.cron).
    head = re.sub(
        r"^trigger\.(webhook|app|schedule|run_failed)\b", "trigger", problem.split(":", 1)[0]
    )
    if head.startswith("on_failure"):
        return "pause_after"
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


def context_spec(
    draft: Draft, connectors: Mapping[str, Connector], refused: dict[str, str] | None = None
) -> FlowSpec:
    """The draft as a spec good enough to preview against: every step's key and what it gives
    later steps, in the form's order (branches flattened: a step sees every step above it),
    and the inputs that can be read (a step with problems keeps the inputs it has).

    The inputs that cannot be read (JSON that is not JSON) are left out, and said in
    ``refused`` by input name (``steps-0-input-json_body``) with the reason saving gives.
    """
    steps: list[Any] = []
    for i, step in enumerate(draft.steps):
        if step.kind == "format":
            names = {name: value for name, value in step.steering.formats if name.strip()}
            steps.append(FormatStep.model_construct(key=step.key, format=names))
        elif step.kind == "paths":
            # Its branches' steps are in the list already, after it.
            paths = Paths.model_construct(mode="first", branches=[])
            steps.append(PathsStep.model_construct(key=step.key, paths=paths))
        elif step.kind in KINDS:
            # What a filter or a delay gives does not depend on its settings.
            steps.append(STEP_KINDS[step.kind].model_construct(key=step.key))
        else:
            fields = step_fields(connectors.get(step.action.partition(".")[0]), step.action)
            values, problems = read_form(fields, step.inputs)
            if refused is not None:
                refused.update({f"steps-{i}-input-{k}": why for k, why in problems.items()})
            steps.append(
                StepSpec.model_construct(
                    key=step.key,
                    action=step.action,
                    connection=step.connection or None,
                    input=values,
                    max_attempts=None,
                    for_each=step.for_each or None,
                )
            )
    return FlowSpec.model_construct(name=draft.name or "draft", description="", steps=steps)
