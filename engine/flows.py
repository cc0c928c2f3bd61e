"""Flow definitions: a trigger plus ordered steps, validated when saved.

The same model is used by the REST API, the YAML files of ``maillon flows import/export`` and the
executor. Validation at save time catches what would otherwise fail at 3 a.m.: unknown actions,
input fields the action does not have, template syntax errors, duplicate step keys.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property, lru_cache
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)

from maillon.connectors.base import Connector
from maillon.connectors.registry import Registry
from maillon.engine.conditions import Condition, Group, member_kind
from maillon.engine.control import (
    KEY,
    KEY_RULE,
    MAX_DEPTH,
    Branch,
    Delay,
    DelayStep,
    FilterStep,
    FormatStep,
    Paths,
    PathsStep,
    StepBase,
    walk,
)
from maillon.engine.digests import DigestRelease, DigestSpec, item_problems
from maillon.engine.errors import Invalid
from maillon.engine.formatting import slug
from maillon.engine.i18n import N_
from maillon.engine.i18n import gettext as _
from maillon.engine.schedules import ScheduleTrigger
from maillon.engine.signatures import SIGNING_SECRET_APP, SignatureSpec
from maillon.engine.templating import referenced_paths, template_errors
from maillon.engine.validation import reason

__all__ = [
    "MAX_FILE_CHARS",
    "MAX_FLOW_CHARS",
    "RUN_FAILED",
    "AnyTrigger",
    "AppEventTrigger",
    "FailurePolicy",
    "FlowDocument",
    "FlowSpec",
    "FlowValidationError",
    "RunFailedTrigger",
    "Step",
    "StepSpec",
    "WebhookTrigger",
    "dump_yaml",
    "field_warnings",
    "load_yaml",
    "parse_document",
    "parse_flow",
    "size_problem",
    "trigger_types",
]

_KEY = KEY

#: The largest flow that can be saved, in characters of its text (names, templates, values).
#: Every save parses, checks and compiles all of it, and every run holds it in memory.
MAX_FLOW_CHARS = 500_000
#: The largest flow file read at once (several flows).
MAX_FILE_CHARS = 5_000_000
#: How deeply a flow's values may nest (an input's objects and lists).
MAX_FLOW_DEPTH = 32


class FlowValidationError(Invalid):
    """A flow that cannot be saved; ``problems`` lists every reason, not just the first."""


class WebhookTrigger(BaseModel):
    """Runs the flow for every delivery to its secret hook URL."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook"] = "webhook"
    dedup: str | None = Field(
        None,
        description="Template whose value identifies a delivery (e.g. '{{ event.id }}'); a value "
        "seen before for this flow starts no run. The Idempotency-Key header does the same.",
        examples=["{{ event.id }}"],
    )
    signature: SignatureSpec | None = Field(
        None,
        description="Check the HMAC signature the sender puts on each delivery; unsigned or "
        "wrongly signed deliveries are answered 401 and listed as rejected deliveries.",
    )


class AppEventTrigger(BaseModel):
    """Runs the flow for one event of one app account (e.g. Particeep ``transaction_created``).

    Every flow on the same connection and event shares that event's URL, which Maillon registers
    with the app when the first such flow is enabled.
    """

    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
        description="`<connector>.<trigger>`",
        examples=["particeep.event"],
    )
    connection: str = Field(description="Name of the app connection whose events to receive.")
    event: str = Field(
        pattern=r"^[a-z][a-z0-9_.-]{0,99}$",
        description="The app's event name.",
        examples=["transaction_created"],
    )


#: The type of the trigger fed by Maillon itself when a run fails.
RUN_FAILED: Final = "maillon.run_failed"


class RunFailedTrigger(BaseModel):
    """Runs the flow (an "error flow") when a run of another flow fails.

    The event describes the failure: the flow, the run and a link to its page, the failed step,
    the error, the attempts and the original event (see :mod:`maillon.engine.failures`). A run
    of an error flow that fails starts no error flow, so that failures never loop.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["maillon.run_failed"] = RUN_FAILED
    flows: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=100,
        description="Only failures of these flows (names or ids); none: every flow's.",
    )
    failure: Literal["any", "permanent", "exhausted"] = Field(
        "any",
        description="`permanent`: runs that failed at once (bad input, refused credentials); "
        "`exhausted`: runs that gave up after their retries on transient errors; `any`: both.",
    )

    def matches(self, flow_id: str, flow_name: str, failure: str) -> bool:
        """Whether a failure of the flow ``flow_id`` (named ``flow_name``), of kind
        ``failure`` (``permanent`` or ``exhausted``), starts this trigger's flow."""
        if self.flows and flow_id not in self.flows and flow_name not in self.flows:
            return False
        return self.failure in ("any", failure)


def _trigger_kind(value: Any) -> str:
    kind = value.get("type", "webhook") if isinstance(value, dict) else getattr(value, "type", "")
    if kind == RUN_FAILED:
        return "run_failed"
    return kind if kind in ("webhook", "schedule") else "app"


Trigger = Annotated[
    Annotated[WebhookTrigger, Tag("webhook")]
    | Annotated[AppEventTrigger, Tag("app")]
    | Annotated[RunFailedTrigger, Tag("run_failed")]
    | Annotated[ScheduleTrigger, Tag("schedule")],
    Discriminator(_trigger_kind),
]
#: Any trigger a flow may have.
AnyTrigger = WebhookTrigger | AppEventTrigger | RunFailedTrigger | ScheduleTrigger
#: The model of each kind of trigger (the tags of :data:`Trigger`).
_TRIGGER_MODELS: dict[str, type[BaseModel]] = {
    "webhook": WebhookTrigger,
    "app": AppEventTrigger,
    "run_failed": RunFailedTrigger,
    "schedule": ScheduleTrigger,
}


class FailurePolicy(BaseModel):
    """What happens when the flow's runs fail, besides its error flows."""

    model_config = ConfigDict(extra="forbid")

    alert: bool = Field(
        True, description="Tell the install's alert recipient (if one is set) about failures."
    )
    pause_after: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Switch the flow off after this many failed runs in a row; its deliveries "
        "are then held until it is resumed. None (the default): never.",
    )


class StepSpec(StepBase):
    """One action with its connection and templated inputs."""

    action: str = Field(description="`<connector>.<action>`", examples=["slack.send_message"])
    connection: str | None = Field(None, description="Name of a saved connection.")
    input: dict[str, Any] = Field(default_factory=dict, description="Values or templates.")
    max_attempts: int | None = Field(None, ge=1, le=100, description="Overrides the flow's.")
    for_each: Any = Field(
        None,
        description="A list (usually a template, e.g. '{{ event.items }}'): the action runs once "
        "per item, with `item` and `loop.index` in its templates; its output is the list of "
        "the items' outputs.",
        examples=["{{ event.items }}"],
    )


#: The kinds of step and the field that tells each apart (an action step has ``action``).
STEP_KINDS: dict[str, type[StepBase]] = {
    "action": StepSpec,
    "filter": FilterStep,
    "paths": PathsStep,
    "delay": DelayStep,
    "format": FormatStep,
}
#: The most items one loop runs.
MAX_ITEMS = 1000


def _step_kind(value: Any) -> str:
    if isinstance(value, dict):
        return next((k for k in STEP_KINDS if k in value and k != "action"), "action")
    return next((k for k, model in STEP_KINDS.items() if isinstance(value, model)), "action")


Step = Annotated[
    Annotated[StepSpec, Tag("action")]
    | Annotated[FilterStep, Tag("filter")]
    | Annotated[PathsStep, Tag("paths")]
    | Annotated[DelayStep, Tag("delay")]
    | Annotated[FormatStep, Tag("format")],
    Discriminator(_step_kind),
]
for _model in (Branch, Paths, PathsStep):
    _model.model_rebuild(_types_namespace={"Step": Step})


class RetentionSpec(BaseModel):
    """How long this flow's runs are kept, when it differs from the install's settings."""

    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(
        None, ge=1, le=36500, description="Days to keep runs that ended well, with their events."
    )
    failed_days: int | None = Field(None, ge=1, le=36500, description="Days to keep failed runs.")


class FlowSpec(BaseModel):
    """A flow's definition: what it listens to and what it does (stored as JSON per version).

    Whether the flow is switched on is not part of it: that is the flow's state, kept on the
    flow row, so that switching a flow on or off never touches its definition.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    trigger: Trigger = Field(default_factory=WebhookTrigger)
    #: A flow being built may have none yet; it cannot be switched on until it has one.
    steps: list[Step] = Field(default_factory=list, max_length=100)
    max_attempts: int | None = Field(
        None, ge=1, le=100, description="Attempts per step on transient errors (default 5)."
    )
    digest: DigestSpec | None = Field(
        None,
        description="Collect the events and run the steps once per release, on the list of "
        "them (`event.items`), rather than once per event.",
    )
    retention: RetentionSpec | None = None
    on_failure: FailurePolicy | None = Field(
        None, description="Alerts and auto-pause; none: alerts on, never paused."
    )

    @property
    def failure_policy(self) -> FailurePolicy:
        """The flow's :class:`FailurePolicy`, the default one when it sets none."""
        return self.on_failure or FailurePolicy()

    def check(self, registry: Registry, connections: dict[str, str]) -> None:
        """Check actions, input fields, connections (name → app), template syntax and the
        uniqueness of step keys.

        Raises :class:`FlowValidationError` listing every problem found.
        """
        too_big = size_problem(self.model_dump(mode="json"))
        if too_big:
            raise FlowValidationError([too_big])
        problems = _trigger_problems(self.trigger, registry, connections)
        every = list(walk(self.steps))
        for where, step in every:
            problems += _kind_problems(where, step, registry, connections)
        if len(every) > 200:
            problems.append(
                "steps: "
                + _("at most 200 steps in all, branches included (%(num)s)", num=len(every))
            )
        problems += _duplicate_keys([(where, step.key) for where, step in every])
        if self.digest is not None:
            problems += item_problems(self.digest.item)
        if problems:
            raise FlowValidationError(problems)

    def all_steps(self) -> list[Any]:
        """Every step, those of branches included, in the order a run meets them."""
        return [step for _where, step in walk(self.steps)]

    def actions(self) -> list[StepSpec]:
        """The action steps, those of branches included."""
        return [step for step in self.all_steps() if isinstance(step, StepSpec)]

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each step's place in :meth:`all_steps` by key: the order of a run's ledger."""
        return {step.key: i for i, step in enumerate(self.all_steps())}


def size_problem(raw: Any) -> str | None:
    """Why ``raw`` (a flow as plain data) is too large or too deeply nested to save, if it is.

    Walks the data without recursion and stops as soon as a limit is passed, so that a flow of
    a billion characters costs no more to refuse than one just past the limit.
    """
    size = 0
    stack: list[tuple[Any, int]] = [(raw, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_FLOW_DEPTH:
            return f"the flow nests values more than {MAX_FLOW_DEPTH} levels deep"
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                size += len(str(key))
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        else:
            size += 8
        if size > MAX_FLOW_CHARS:
            return (
                f"the flow is larger than {MAX_FLOW_CHARS:,} characters: split it, or keep "
                "large texts out of its templates"
            )
    return None


def _trigger_problems(
    trigger: AnyTrigger, registry: Registry, connections: dict[str, str]
) -> list[str]:
    if isinstance(trigger, AppEventTrigger):
        return _check_app_trigger(trigger, registry, connections)
    if isinstance(trigger, ScheduleTrigger):
        return []  # its shape is all there is to check
    problems: list[str] = []
    if isinstance(trigger, WebhookTrigger) and trigger.dedup:
        problems.extend(map(str, template_errors(trigger.dedup, "trigger.dedup")))
    if isinstance(trigger, WebhookTrigger) and trigger.signature is not None:
        name = trigger.signature.connection
        app = connections.get(name)
        if app is None:
            problems.append(
                "trigger.signature: "
                + _(
                    "no connection named %(name)r (add a `webhook` connection holding the "
                    "sender's signing secret)",
                    name=name,
                )
            )
        elif app != SIGNING_SECRET_APP:
            problems.append(
                "trigger.signature: "
                + _(
                    "connection %(name)r is for %(app)s, not %(wanted)s",
                    name=name,
                    app=app,
                    wanted=SIGNING_SECRET_APP,
                )
            )
    return problems


def _kind_problems(
    where: str, step: Any, registry: Registry, connections: dict[str, str]
) -> list[str]:
    """The save checks of one step of any kind (``where`` as :func:`walk` writes it)."""
    if isinstance(step, StepSpec):
        return _step_problems(where, step, registry, connections)
    problems: list[str] = step.problems(where)
    if isinstance(step, PathsStep) and where.count(".paths.") >= MAX_DEPTH:
        problems.append(f"{where}: " + _("paths nest at most %(num)s deep", num=MAX_DEPTH))
    return problems


def _step_problems(
    where: str, step: StepSpec, registry: Registry, connections: dict[str, str]
) -> list[str]:
    try:
        connector, action = registry.resolve(step.action)
    except LookupError as exc:
        return [f"{where}: {exc}"]
    problems = []
    unknown = set(step.input) - set(action.Input.model_fields)
    if unknown:
        known = ", ".join(action.Input.model_fields)
        problems.append(
            f"{where}: "
            + _(
                "%(action)s has no input %(inputs)s (%(known)s)",
                action=step.action,
                inputs=", ".join(sorted(unknown)),
                known=known,
            )
        )
    if step.connection is not None:
        app = connections.get(step.connection)
        if app is None:
            problems.append(f"{where}: " + _no_connection(step.connection, connector))
        elif app != connector.connection_kind:
            problems.append(f"{where}: " + _other_app(step.connection, app, connector))
    elif connector.needs_connection:
        problems.append(f"{where}: " + _("%(action)s needs a connection", action=step.action))
    for part in ("input", "for_each"):
        problems.extend(map(str, template_errors(getattr(step, part), f"{where}.{part}")))
    return problems


def _no_connection(name: str, connector: Connector) -> str:
    # Said with the app to create it for: a flow imported from another install names
    # connections this one does not have yet.
    return _(
        "no connection named %(name)r: add one of that name for the app %(app)s first",
        name=name,
        app=connector.connection_kind,
    )


def _other_app(name: str, app: str, connector: Connector) -> str:
    return _(
        "connection %(name)r is for %(app)s, not %(wanted)s",
        name=name,
        app=app,
        wanted=connector.connection_kind,
    )


def _duplicate_keys(keys: list[tuple[str, Any]]) -> list[str]:
    """``keys``: (where, key) of every step, branches included: keys are unique in the flow,
    for they name the step's output and its entry in a run's ledger."""
    seen: set[Any] = set()
    problems = []
    for where, key in keys:
        if not isinstance(key, str):
            continue
        if key in seen:
            problems.append(
                f"{where}.key: " + _("the key %(key)r is used by an earlier step", key=key)
            )
        seen.add(key)
    return problems


def trigger_types(registry: Registry) -> list[str]:
    """Every trigger type a flow may have: ``webhook``, ``maillon.run_failed``, ``schedule``
    and each installed app trigger."""
    apps = [f"{c.key}.{t.key}" for c in registry.all() for t in c.triggers]
    return ["webhook", RUN_FAILED, "schedule", *apps]


def field_warnings(
    spec: FlowSpec, registry: Registry, sample: Mapping[str, Any] | None
) -> list[str]:
    """Fields templates read that the sample event or an earlier step's output does not have.

    Warnings, not errors: samples are examples and real events may carry more. A read guarded by
    ``| default(...)`` is not reported. Run this after :meth:`FlowSpec.check`.
    """
    warnings: list[str] = []
    outputs: dict[str, set[str] | None] = {}
    for where, step in walk(spec.steps):
        for field_name, source in _strings(_templates(step), where):
            for path in sorted(referenced_paths(source)):
                if _guarded(source, path):
                    continue
                problem = _missing(path, sample, outputs)
                if problem:
                    warnings.append(f"{field_name}: {problem}")
        outputs[step.key] = _output_fields(step, registry)
    return warnings


def _templates(step: Any) -> dict[str, Any]:
    """A step's templated parts by name (as its problems name them)."""
    if isinstance(step, StepSpec):
        return {"input": step.input, "for_each": step.for_each}
    if isinstance(step, FilterStep):
        return {"filter": step.filter.model_dump(exclude_none=True)}
    if isinstance(step, PathsStep):
        return {
            f"paths.branches[{b}].when": branch.when.model_dump(exclude_none=True)
            for b, branch in enumerate(step.paths.branches)
            if branch.when is not None
        }
    if isinstance(step, DelayStep):
        return {"delay": step.delay.model_dump(exclude_none=True)}
    if isinstance(step, FormatStep):
        return {"format": step.format}
    return {}


def _output_fields(step: Any, registry: Registry) -> set[str] | None:
    """The fields of a step's output (``None``: not known, not checked)."""
    if isinstance(step, StepSpec):
        if step.for_each is not None:
            return None  # a list of the items' outputs
        try:
            return set(registry.resolve(step.action)[1].Output.model_fields)
        except LookupError:
            return None
    if isinstance(step, FormatStep):
        return set(step.format)
    return set(STEP_OUTPUTS.get(type(step), ()))


#: What the steps that are not actions give later steps.
STEP_OUTPUTS: dict[type[StepBase], tuple[str, ...]] = {
    FilterStep: ("passed", "reason"),
    PathsStep: ("branches",),
    DelayStep: ("until",),
}


def _strings(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)] if "{" in value else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _strings(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _strings(v, f"{where}[{i}]")]
    return []


def _guarded(source: str, path: tuple[str, ...]) -> bool:
    dotted = re.escape(".".join(path))
    return re.search(dotted + r"\s*\|\s*default\b", source) is not None


def _missing(
    path: tuple[str, ...], sample: Mapping[str, Any] | None, outputs: dict[str, set[str] | None]
) -> str | None:
    root, rest = path[0], path[1:]
    if root == "event" and sample is not None and rest:
        node: Any = sample
        for i, part in enumerate(rest):
            if not isinstance(node, Mapping):
                return None  # a list or scalar: indexes are not checked
            if part not in node:
                return _("the sample event has no field %(field)r", field=".".join(rest[: i + 1]))
            node = node[part]
    elif root == "steps" and rest:
        if rest[0] not in outputs:
            return _("no earlier step %(step)r", step=rest[0])
        fields = outputs[rest[0]]
        if fields is not None and len(rest) > 1 and rest[1] not in fields:
            return _("step %(step)r has no output %(output)r", step=rest[0], output=rest[1])
    return None


def _check_app_trigger(
    trigger: AppEventTrigger, registry: Registry, connections: dict[str, str]
) -> list[str]:
    app, _dot, key = trigger.type.partition(".")
    connector = registry.get(app)
    trigger_cls = connector.trigger(key) if connector else None
    if connector is None or trigger_cls is None:
        return [_unknown_trigger(trigger.type, registry)]
    problems = []
    conn_app = connections.get(trigger.connection)
    if conn_app is None:
        problems.append("trigger: " + _no_connection(trigger.connection, connector))
    elif conn_app != connector.connection_kind:
        problems.append("trigger: " + _other_app(trigger.connection, conn_app, connector))
    owner = connector.trigger_for(trigger.event)
    if owner is None:
        problems.append(
            "trigger: "
            + _("%(trigger)s has no event %(event)r", trigger=trigger.type, event=trigger.event)
        )
    elif owner is not trigger_cls:
        problems.append(
            f"trigger: {app}.{owner.key}, not {trigger.type}, receives {trigger.event!r}"
        )
    return problems


class FlowDocument(FlowSpec):
    """A flow as people write it (YAML, the API's JSON): its definition and whether it is on."""

    enabled: bool = True

    @property
    def spec(self) -> FlowSpec:
        """The definition alone."""
        return FlowSpec.model_validate(self.model_dump(exclude={"enabled"}))


_TRIGGER: TypeAdapter[AnyTrigger] = TypeAdapter(Trigger)
_KEY_RULE = KEY_RULE


def parse_document(
    raw: Mapping[str, Any], registry: Registry, connections: dict[str, str]
) -> FlowDocument:
    """A flow as people write it (YAML, the API's JSON), read and checked.

    Raises :class:`FlowValidationError` listing every problem at once: mistakes of shape, in
    the words of the save checks (no validation library's dump), together with the save checks
    of every part that could be read (the trigger, each step), so that one round of fixes is
    enough.
    """
    too_big = size_problem(raw)
    if too_big:
        raise FlowValidationError([too_big])
    try:
        document = FlowDocument.model_validate(raw)
    except ValidationError as exc:
        problems = _shape_problems(raw, exc, registry) + _part_problems(raw, registry, connections)
        raise FlowValidationError(list(dict.fromkeys(problems))) from None
    document.check(registry, connections)
    return document


def _part_problems(
    raw: Mapping[str, Any], registry: Registry, connections: dict[str, str]
) -> list[str]:
    """The save checks of the trigger and of each step, read leniently: a part with a mistake
    of shape (already reported) is checked as if its unknown fields were absent and its key
    well formed, so that its other problems come in the same round."""
    problems: list[str] = []
    trigger = _lenient(_TRIGGER.validate_python, raw.get("trigger", {}), _trigger_fields)
    if trigger is not None:
        problems += _trigger_problems(trigger, registry, connections)
    steps = raw.get("steps")
    if isinstance(steps, list):
        keys: list[tuple[str, Any]] = []
        for where, item in _raw_steps(steps):
            model = STEP_KINDS[_step_kind(item)]
            # A paths step's branch steps are checked one by one (by _raw_steps): read without
            # them, so that a mistake in one of them does not hide the branches' own problems.
            read = _without_branch_steps(item) if model is PathsStep else item
            step = _lenient(model.model_validate, read, _fields_of(model))
            if step is not None:
                problems += _kind_problems(where, step, registry, connections)
            keys.append((where, item.get("key")))
        problems += _duplicate_keys(keys)
    digest = raw.get("digest")
    if isinstance(digest, dict):
        problems += item_problems(digest.get("item"))
    return problems


def _without_branch_steps(item: dict[str, Any]) -> dict[str, Any]:
    """A paths step as written, its branches without steps and its mode, if misspelt, left
    to its default (the mistake is reported already)."""
    paths = item.get("paths")
    if not isinstance(paths, dict):
        return item
    branches = paths.get("branches")
    if isinstance(branches, list):
        branches = [{**b, "steps": []} if isinstance(b, dict) else b for b in branches]
    skeleton = {k: v for k, v in paths.items() if k != "mode" or v in ("first", "every")}
    return {**item, "paths": {**skeleton, "branches": branches}}


def _raw_steps(items: list[Any], where: str = "steps") -> Iterator[tuple[str, dict[str, Any]]]:
    """:func:`~maillon.engine.control.walk` over steps as written (mappings not yet read)."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        key = item.get("key")
        at = f"{where}[{i}] ({key})" if isinstance(key, str) else f"{where}[{i}]"
        yield at, item
        paths = item.get("paths")
        branches = paths.get("branches") if isinstance(paths, dict) else None
        for b, branch in enumerate(branches if isinstance(branches, list) else []):
            if isinstance(branch, dict) and isinstance(branch.get("steps"), list):
                name = branch.get("name")
                label = f" ({name})" if isinstance(name, str) else ""
                yield from _raw_steps(branch["steps"], f"{at}.paths.branches[{b}]{label}.steps")


T = TypeVar("T")


def _lenient(
    read: Callable[[Any], T], item: Any, fields: Callable[[dict[str, Any]], set[str]]
) -> T | None:
    """``read(item)``; failing that, ``read`` of ``item`` without its unknown fields and with
    its step key made well formed; ``None`` if it still cannot be read."""
    try:
        return read(item)
    except ValidationError:
        if not isinstance(item, dict):
            return None
    known = fields(item)
    cleaned = {k: v for k, v in item.items() if k in known}
    if isinstance(cleaned.get("key"), str) and not _KEY.match(cleaned["key"]):
        cleaned["key"] = _key_like(cleaned["key"])
    try:
        return read(cleaned)
    except ValidationError:
        return None


def _fields_of(model: type[BaseModel]) -> Callable[[dict[str, Any]], set[str]]:
    return lambda _item: set(model.model_fields)


def _trigger_fields(item: dict[str, Any]) -> set[str]:
    return set(_TRIGGER_MODELS[_trigger_kind(item)].model_fields)


def _shape_problems(raw: Mapping[str, Any], exc: ValidationError, registry: Registry) -> list[str]:
    """Each of pydantic's errors as the save checks word theirs: where, then what to do."""
    problems: list[str] = []
    trigger = raw.get("trigger")
    kind = trigger.get("type", "webhook") if isinstance(trigger, dict) else None
    unknown_kind = kind is not None and kind not in trigger_types(registry)
    if unknown_kind:
        # Pydantic would report the pattern of an app trigger's type and its missing fields:
        # the one mistake is the type, so say that, with the types there are.
        problems.append(_unknown_trigger(kind, registry, where="trigger.type"))
    for err in exc.errors():
        loc = _untagged(list(err["loc"]))
        if loc[:1] == ["trigger"]:
            if unknown_kind:
                continue
            if len(loc) > 1 and loc[1] in _TRIGGER_MODELS:
                del loc[1]  # the union's tags say which model, which the type already says
        problems.append(_plain(raw, loc, err))
    return problems


def _untagged(loc: list[Any]) -> list[Any]:
    """``loc`` without the tags of the unions of step kinds and of conditions, which the
    fields of a step or condition already say."""
    out: list[Any] = []
    skipped = False
    for part in loc:
        after = out[-2] if len(out) > 1 and isinstance(out[-1], int) and not skipped else None
        skipped = (after == "steps" and part in STEP_KINDS) or (
            after in ("all", "any") and part in ("one", "group")
        )
        if not skipped:
            out.append(part)
    return out


def _plain(raw: Mapping[str, Any], loc: list[Any], err: Any) -> str:
    where = _where(raw, loc)
    kind, said = err["type"], reason(err)
    field_name = loc[-1] if loc else None
    if kind == "missing":
        purpose = _REQUIRED.get(str(field_name))
        return f"{where}: " + _("missing (%(why)s)", why=_(purpose) if purpose else _("required"))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        fields = ", ".join(_model_at(raw, loc).model_fields)
        return f"{where or 'the flow'}: should be a mapping of fields ({fields})"
    if kind == "extra_forbidden":
        parent = _where(raw, loc[:-1]) or "the flow"
        fields = ", ".join(_model_at(raw, loc[:-1]).model_fields)
        return f"{parent}: unknown field {field_name!r} (the fields are: {fields})"
    if field_name == "key" and "steps" in loc and isinstance(err.get("input"), str):
        value = err["input"]
        return (
            f"{where}: {value!r} is not a step key: keys are {_KEY_RULE} "
            f"(for example {_key_like(value)!r})"
        )
    return f"{where}: {said}" if where else said


#: What a missing field is for, where that helps (translated where it is said).
_REQUIRED = {
    "name": N_("every flow needs a name"),
    "key": N_(
        "every step needs a key: lower-case letters, digits and _, starting with a letter, "
        "at most 64 characters"
    ),
    "action": N_("every step needs an action: <connector>.<action>, e.g. slack.send_message"),
    "connection": N_("the name of the app connection whose events to receive"),
    "event": N_("the app's event name, e.g. transaction_created"),
}


def _where(raw: Mapping[str, Any], loc: list[Any]) -> str:
    """``steps[0] (notify).input``: a location as the save checks write it."""
    out = ""
    node: Any = raw
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            label = {"steps": "key", "branches": "name"}.get(str(loc[i - 1]) if i else "")
            if label and isinstance(node, dict) and isinstance(node.get(label), str):
                out += f" ({node[label]})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _model_at(raw: Mapping[str, Any], loc: list[Any]) -> type[BaseModel]:
    """The model whose fields are read at ``loc`` (for listing them)."""
    if loc[:1] == ["trigger"]:
        trigger = raw.get("trigger")
        return _TRIGGER_MODELS[_trigger_kind(trigger if isinstance(trigger, dict) else {})]
    if loc[:1] == ["on_failure"]:
        return FailurePolicy
    if loc[:2] == ["digest", "release"]:
        return DigestRelease
    if loc[:1] == ["digest"]:
        return DigestSpec
    model: type[BaseModel] = FlowDocument
    node: Any = raw
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if previous == "steps":
                model = STEP_KINDS[_step_kind(node)]
            elif previous == "branches":
                model = Branch
            elif previous in ("all", "any"):
                model = Group if member_kind(node) == "group" else Condition
        else:
            node = node.get(part) if isinstance(node, dict) else None
            model = _PARTS.get(part, model)
        previous = part
    return model


#: The model of a part of a step, by its field's name.
_PARTS: dict[Any, type[BaseModel]] = {
    "filter": Group,
    "when": Group,
    "paths": Paths,
    "delay": Delay,
}


def _key_like(value: str) -> str:
    """A step key close to ``value``: ``Notify Slack`` → ``notify_slack``, ``Étape Une`` →
    ``etape_une`` (accents dropped, not the letters that bear them)."""
    key = slug(value, 64).replace("-", "_")
    return key if key[:1].isalpha() else f"step_{key}"[:64]


def _unknown_trigger(kind: Any, registry: Registry, where: str = "trigger") -> str:
    types = ", ".join(trigger_types(registry))
    return f"{where}: unknown trigger type {kind!r} (the types are: {types})"


class _SpecCache:
    """Parsed flow definitions by (flow id, version), shared by intake, executor and services.

    Parsing a definition costs more than storing a delivery, and a flow's version changes on
    every edit. A hit is still checked against the definition given (a comparison of two
    strings, far cheaper than parsing): a flow deleted then imported again under its id starts
    again at version 1, and must not be run with the deleted flow's steps. Cached specs are
    shared: treat them as read-only.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._specs: OrderedDict[tuple[str, int], tuple[str, FlowSpec]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, flow_id: str, version: int, definition: str) -> FlowSpec:
        key = (flow_id, version)
        with self._lock:
            cached = self._specs.get(key)
            if cached is not None and cached[0] == definition:
                self._specs.move_to_end(key)
                return cached[1]
        spec = FlowSpec.model_validate_json(definition)
        with self._lock:
            self._specs[key] = (definition, spec)
            self._specs.move_to_end(key)
            if len(self._specs) > self._size:
                self._specs.popitem(last=False)
        return spec


_specs = _SpecCache()


def parse_flow(flow_id: str, version: int, definition: str) -> FlowSpec:
    """The flow's definition as a :class:`FlowSpec`, parsed once per version (read-only)."""
    return _specs.get(flow_id, version, definition)


def load_yaml(text: str) -> list[dict[str, Any]]:
    """Parse one or more flow documents (``---`` separated) into plain mappings.

    Raises :class:`Invalid` with the line and column of a syntax error, or naming a document
    that is not a mapping.
    """
    if len(text) > MAX_FILE_CHARS:
        raise Invalid([f"the file is larger than {MAX_FILE_CHARS:,} characters"])
    # PyYAML on use: servers and workers keep flows as JSON, and most never read a file.
    import yaml

    try:
        docs = [d for d in yaml.load_all(text, Loader=_yaml_loader()) if d is not None]
    except RecursionError as exc:
        raise Invalid(["not valid YAML (nested too deeply)"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(exc, "problem", None) or str(exc)
        raise Invalid([f"{where}not valid YAML ({what})"]) from exc
    for i, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            raise Invalid([f"document {i} is not a mapping of flow fields (name, trigger, steps)"])
    return docs


@lru_cache(maxsize=1)
def _yaml_loader() -> Any:
    """PyYAML's safe loader, whose values that cannot be built (``2026-02-30``, an integer of
    5,000 digits) are refused as YAML errors at their line, not as a bare ``ValueError``."""
    import yaml
    from yaml.constructor import ConstructorError

    class Loader(yaml.SafeLoader):
        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep=deep)
            except (ValueError, OverflowError) as exc:
                raise ConstructorError(None, None, str(exc), node.start_mark) from exc

    return Loader


def dump_yaml(flows: list[dict[str, Any]]) -> str:
    """Write flow mappings as YAML documents, keys in their natural order."""
    import yaml

    return yaml.safe_dump_all(flows, sort_keys=False, allow_unicode=True, width=100)
