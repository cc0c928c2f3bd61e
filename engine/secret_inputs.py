"""Secret inputs written in a flow: sealed at rest, never shown, kept when saved again unseen.

An action may declare an input secret (the HTTP action's ``bearer_token``). A value written
for it in a flow is a secret like a connection's: it is sealed in the stored definition with
the install's key, every view of the flow (API, UI, export) shows :data:`~maillon.engine.
redaction.MASK` in its place, and saving the flow with the mask keeps the sealed value of the
same step. The executor unseals it just before rendering the step's input.

A kept value goes only where it went when it was given. The mask keeps the value of the same
input of the same step, the step being known by its key, and only while the step sends it to
the same place: the same action, the same connection (a relative URL goes to its base URL), the
same URL inputs as written (a template's text, not what it renders), and, when a URL input is a
template, the same loop list (``item`` may be in the URL). Otherwise the flow is refused until
the secret is given again in the same save, as a connection's URL is (see
:func:`maillon.engine.connections.moved_destinations`): whoever may edit a flow could else have
a secret never shown to them sent to a server of their own. A step tried in the editor follows
the same rule (:func:`restore`).

A connection's destination is a place of its steps too: when a connection comes to send
elsewhere (its URL or host fields changed, or a connection newly saved under the name the steps
give), the sealed secret inputs of every step that names it are dropped (:func:`dropped`), in
the published definition, the draft and every version kept (a failed run replays its version).
A dropped value is shown masked like any other, but a save that keeps it with the mask is
refused, and a run of its step fails, each saying to give the secret input again. Refusing the
connection's change instead would leave no way out: kept versions are never edited.

A template (``{{ steps.login.token }}``) is not a secret itself and stays as written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from maillon.connectors.base import secret_fields, url_inputs
from maillon.connectors.registry import Registry
from maillon.engine.connections import changed_places
from maillon.engine.control import PathsStep, walk
from maillon.engine.crypto import SecretBox
from maillon.engine.flows import FlowSpec, FlowValidationError, StepSpec
from maillon.engine.redaction import MASK

__all__ = ["Dropped", "dropped", "resealed", "restore", "seal", "shown", "unseal"]

#: The key of the object that holds a sealed value in a stored definition.
_SEALED = "$sealed"
#: The key of the object left in place of a sealed value dropped (:func:`dropped`): why.
_DROPPED = "$dropped"
#: What of a step says where its secret inputs go, besides its URL inputs (``input.<name>``).
_CONNECTION, _LOOP = "connection", "for_each"


def _input_model(registry: Registry, step: StepSpec) -> type[BaseModel] | None:
    try:
        return registry.resolve(step.action)[1].Input
    except LookupError:
        return None


def _secret_names(registry: Registry, step: StepSpec) -> frozenset[str]:
    model = _input_model(registry, step)
    return secret_fields(model) if model is not None else frozenset()


class Dropped(ValueError):
    """A step's secret input was dropped (:func:`dropped`): it must be given again."""


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_SEALED}


def _is_dropped(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_DROPPED}


def _why_dropped(value: Any) -> str:
    """Why the dropped ``value`` must be given again, in words."""
    return f"it was dropped when {value[_DROPPED]}, as it would have been sent there"


def _places(step: StepSpec) -> dict[str, Any]:
    """What of ``step`` may say where it sends its inputs, by the name a refusal gives it."""
    return {
        _CONNECTION: step.connection,
        _LOOP: step.for_each,
        **{f"input.{name}": value for name, value in step.input.items()},
    }


def _moved(registry: Registry, before: StepSpec, after: StepSpec) -> list[str]:
    """What of ``after`` (the step as saved now) would send its secret inputs elsewhere than
    ``before`` (the same step as stored) did, in words; empty when nothing would."""
    if after.action != before.action:
        # Another action may send its inputs anywhere, or record one its own model does not
        # declare secret.
        return ["action"]
    model = _input_model(registry, after)
    urls = [f"input.{name}" for name in url_inputs(model)] if model is not None else []
    names = {_CONNECTION, *urls}
    places = _places(before), _places(after)
    if any(isinstance(p.get(u), str) and "{" in p[u] for p in places for u in urls):
        names.add(_LOOP)  # ``item`` may be (part of) the URL: its list says where
    return [name.removeprefix("input.") for name in changed_places(names, *places)]


def _kept(
    registry: Registry, step: StepSpec, name: str, before: StepSpec | None
) -> tuple[Any, str | None]:
    """The sealed value the mask in ``step``'s input ``name`` stands for, taken from
    ``before`` (the step of the same key as stored); else ``None`` and why it is not kept."""
    moved = _moved(registry, before, step) if before is not None else []
    old = before.input.get(name) if before is not None else None
    if _is_dropped(old):
        return None, _why_dropped(old)  # nothing to keep, wherever the step now sends it
    if moved:
        return None, (
            f"the step's {' and '.join(moved)} changed, and the kept value would be sent there"
        )
    if not _is_sealed(old):
        return None, (
            f"step {step.key!r} held no {name} before (the mask keeps only the value of the "
            "same input of the same step)"
        )
    return old, None


def _refusal(where: str, name: str, reason: str) -> str:
    return f"{where}.input.{name}: give the secret input again: {reason}"


def _copied(step: StepSpec, where: str) -> list[str]:
    """Refusals of the sealed values written as such in ``step``: a value is kept with the
    mask, under the rule above, never by copying what a stored flow holds (the executor
    would open it wherever it stood)."""
    return [
        _refusal(where, name, "a sealed value cannot be written, only kept with " + MASK)
        for name, value in step.input.items()
        if _is_sealed(value)
    ]


def _map_actions(steps: list[Any], fn: Callable[[StepSpec], StepSpec]) -> list[Any]:
    """``steps`` with each action step, those of branches included, replaced by ``fn(step)``."""
    out: list[Any] = []
    for step in steps:
        if isinstance(step, StepSpec):
            out.append(fn(step))
        elif isinstance(step, PathsStep):
            branches = [
                b.model_copy(update={"steps": _map_actions(b.steps, fn)})
                for b in step.paths.branches
            ]
            paths = step.paths.model_copy(update={"branches": branches})
            out.append(step.model_copy(update={"paths": paths}))
        else:
            out.append(step)
    return out


def _with(spec: FlowSpec, fn: Callable[[StepSpec], dict[str, Any]]) -> FlowSpec:
    """``spec`` with each action step's input replaced by ``fn(step)``."""
    steps = _map_actions(spec.steps, lambda s: s.model_copy(update={"input": fn(s)}))
    return spec.model_copy(update={"steps": steps})


def seal(spec: FlowSpec, registry: Registry, box: SecretBox, stored: FlowSpec | None) -> FlowSpec:
    """``spec`` as stored: literal secret inputs sealed; a mask replaced by the sealed value of
    the same step's input in ``stored`` (the flow as saved before), while the step sends it
    where it did (see the module).

    Raises :class:`FlowValidationError` for each mask with nothing to keep, or whose value
    would go elsewhere.
    """
    before = {s.key: s for s in stored.actions()} if stored else {}
    where = {step.key: at for at, step in walk(spec.steps)}
    problems: list[str] = []

    def sealed(step: StepSpec) -> dict[str, Any]:
        problems.extend(_copied(step, where[step.key]))
        values = dict(step.input)
        for name in _secret_names(registry, step) & set(values):
            value = values[name]
            if value == MASK:
                kept, refused = _kept(registry, step, name, before.get(step.key))
                if refused is None:
                    values[name] = kept
                else:
                    problems.append(_refusal(where[step.key], name, refused))
            elif isinstance(value, str) and value and "{" not in value:
                values[name] = {_SEALED: box.seal({"value": value})}
        return values

    out = _with(spec, sealed)
    if problems:
        raise FlowValidationError(problems)
    return out


def shown(spec: FlowSpec) -> FlowSpec:
    """``spec`` as it may be shown: sealed (and dropped) values masked."""

    def hidden(value: Any) -> bool:
        return _is_sealed(value) or _is_dropped(value)

    if not any(hidden(v) for s in spec.actions() for v in s.input.values()):
        return spec
    return _with(spec, lambda s: {k: MASK if hidden(v) else v for k, v in s.input.items()})


def restore(spec: FlowSpec, stored: FlowSpec, registry: Registry) -> FlowSpec:
    """``spec`` (as shown, then perhaps edited) with each mask replaced by the sealed value of
    the same step's input in ``stored``, for running it (a step tried in the editor).

    A trial sends the value for real: a mask whose step no longer sends it where it did is
    refused as :func:`seal` refuses it (:class:`FlowValidationError`). A mask with nothing
    behind it stays as written.
    """
    before = {s.key: s for s in stored.actions()}
    where = {step.key: at for at, step in walk(spec.steps)}
    problems: list[str] = []

    def restored(step: StepSpec) -> dict[str, Any]:
        problems.extend(_copied(step, where[step.key]))
        kept_step = before.get(step.key)
        values = dict(step.input)
        for name, value in step.input.items():
            old = kept_step.input.get(name) if kept_step is not None else None
            if value != MASK or not (_is_sealed(old) or _is_dropped(old)):
                continue
            kept, refused = _kept(registry, step, name, kept_step)
            if refused is None:
                values[name] = kept
            else:
                problems.append(_refusal(where[step.key], name, refused))
        return values

    out = _with(spec, restored)
    if problems:
        raise FlowValidationError(problems)
    return out


def unseal(values: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """A step's input with its sealed values opened, for rendering.

    Raises :class:`Dropped` for a value dropped (:func:`dropped`), saying to give it again.
    """
    if not any(_is_sealed(v) or _is_dropped(v) for v in values.values()):
        return values
    for name, value in values.items():
        if _is_dropped(value):
            raise Dropped(_refusal("", name, _why_dropped(value)).lstrip("."))
    return {k: box.open(v[_SEALED])["value"] if _is_sealed(v) else v for k, v in values.items()}


def resealed(definition: str, box: SecretBox) -> str:
    """A stored definition (JSON) with each sealed value encrypted again under ``box``'s newest
    key, for key rotation: the key a value was sealed under is dropped at the next rotation.
    The same text when it holds none."""
    return _rewritten(
        definition, lambda v: {_SEALED: box.reseal(v[_SEALED])} if _is_sealed(v) else None
    )


def dropped(definition: str, connection: str, why: str) -> str:
    """A stored definition (JSON) with the sealed secret inputs of each step that names
    ``connection`` replaced by a note of ``why`` they were dropped ("connection 'api' changed
    base_url"): the connection now sends elsewhere than when they were given (see the
    module). The same text when it holds none."""

    def step(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict) or value.get("connection") != connection:
            return None
        inputs = value.get("input")
        if not isinstance(inputs, dict) or not any(_is_sealed(v) for v in inputs.values()):
            return None
        kept = {k: {_DROPPED: why} if _is_sealed(v) else v for k, v in inputs.items()}
        return {**value, "input": kept}

    return _rewritten(definition, step)


def _rewritten(definition: str, fn: Callable[[Any], Any]) -> str:
    """A stored definition (JSON) with each value for which ``fn`` returns something (not
    ``None``) replaced by it, the others walked into; the same text when it holds no sealed
    value, or nothing was replaced."""
    if f'"{_SEALED}"' not in definition:
        return definition
    changed = False

    def again(value: Any) -> Any:
        nonlocal changed
        new = fn(value)
        if new is not None:
            changed = True
            return new
        if isinstance(value, dict):
            return {k: again(v) for k, v in value.items()}
        if isinstance(value, list):
            return [again(v) for v in value]
        return value

    out = again(json.loads(definition))
    # Written as the definitions are (compact, UTF-8): only the values replaced change.
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")) if changed else definition
