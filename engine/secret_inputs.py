"""Secret inputs written in a flow: sealed at rest, never shown, kept when saved again unseen.

An action may declare an input secret (the HTTP action's ``bearer_token``). A value written
for it in a flow is a secret like a connection's: it is sealed in the stored definition with
the install's key, every view of the flow (API, UI, export) shows :data:`~maillon.engine.
redaction.MASK` in its place, and saving the flow with the mask keeps the sealed value of the
same step. The executor unseals it just before rendering the step's input.

A template (``{{ steps.login.token }}``) is not a secret itself and stays as written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maillon.connectors.base import secret_fields
from maillon.connectors.registry import Registry
from maillon.engine.control import PathsStep, walk
from maillon.engine.crypto import SecretBox
from maillon.engine.flows import FlowSpec, FlowValidationError, StepSpec
from maillon.engine.redaction import MASK

__all__ = ["restore", "seal", "shown", "unseal"]

#: The key of the object that holds a sealed value in a stored definition.
_SEALED = "$sealed"


def _secret_names(registry: Registry, step: StepSpec) -> frozenset[str]:
    try:
        return secret_fields(registry.resolve(step.action)[1].Input)
    except LookupError:
        return frozenset()


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_SEALED}


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
    the same step's input in ``stored`` (the flow as saved before).

    Raises :class:`FlowValidationError` for a mask with nothing to keep.
    """
    before = {s.key: s for s in stored.actions()} if stored else {}
    where = {step.key: at for at, step in walk(spec.steps)}
    problems: list[str] = []

    def sealed(step: StepSpec) -> dict[str, Any]:
        values = dict(step.input)
        for name in _secret_names(registry, step) & set(values):
            value = values[name]
            if value == MASK:
                kept = before.get(step.key)
                old = kept.input.get(name) if kept and kept.action == step.action else None
                if _is_sealed(old):
                    values[name] = old
                else:
                    problems.append(
                        f"{where[step.key]}.input.{name}: give the secret again (the mask "
                        "stands for a value this flow does not hold)"
                    )
            elif isinstance(value, str) and value and "{" not in value:
                values[name] = {_SEALED: box.seal({"value": value})}
        return values

    out = _with(spec, sealed)
    if problems:
        raise FlowValidationError(problems)
    return out


def shown(spec: FlowSpec) -> FlowSpec:
    """``spec`` as it may be shown: sealed values masked."""
    if not any(_is_sealed(v) for s in spec.actions() for v in s.input.values()):
        return spec
    return _with(spec, lambda s: {k: MASK if _is_sealed(v) else v for k, v in s.input.items()})


def restore(spec: FlowSpec, stored: FlowSpec) -> FlowSpec:
    """``spec`` (as shown, then perhaps edited) with each mask replaced by the sealed value of
    the same step's input in ``stored``, for running it (a step tried in the editor)."""
    before = {s.key: s for s in stored.actions()}

    def restored(step: StepSpec) -> dict[str, Any]:
        kept = before.get(step.key)
        return {
            k: kept.input[k]
            if v == MASK and kept is not None and _is_sealed(kept.input.get(k))
            else v
            for k, v in step.input.items()
        }

    return _with(spec, restored)


def unseal(values: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """A step's input with its sealed values opened, for rendering."""
    if not any(_is_sealed(v) for v in values.values()):
        return values
    return {k: box.open(v[_SEALED])["value"] if _is_sealed(v) else v for k, v in values.items()}
