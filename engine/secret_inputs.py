"""Secret inputs written in a flow: sealed at rest, never shown, kept when saved again unseen.

An action may declare an input secret (the HTTP action's ``bearer_token``). A value written
for it in a flow is a secret like a connection's: it is sealed in the stored definition with
the install's key, every view of the flow (API, UI, export) shows :data:`~maillon.engine.
redaction.MASK` in its place, and saving the flow with the mask keeps the sealed value of the
same step. The executor unseals it just before rendering the step's input.

A template (``{{ steps.login.token }}``) is not a secret itself and stays as written.
"""

from __future__ import annotations

from typing import Any

from maillon.connectors.base import secret_fields
from maillon.connectors.registry import Registry
from maillon.engine.crypto import SecretBox
from maillon.engine.flows import FlowSpec, FlowValidationError, StepSpec
from maillon.engine.redaction import MASK

__all__ = ["restore", "seal", "shown", "unseal"]

#: The key of the object that holds a sealed value in a stored definition.
_SEALED = "$sealed"


def _secret_names(registry: Registry, step: StepSpec) -> set[str]:
    try:
        return secret_fields(registry.resolve(step.action)[1].Input)
    except LookupError:
        return set()


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_SEALED}


def _with_inputs(spec: FlowSpec, inputs: list[dict[str, Any]]) -> FlowSpec:
    steps = [s.model_copy(update={"input": i}) for s, i in zip(spec.steps, inputs, strict=True)]
    return spec.model_copy(update={"steps": steps})


def seal(spec: FlowSpec, registry: Registry, box: SecretBox, stored: FlowSpec | None) -> FlowSpec:
    """``spec`` as stored: literal secret inputs sealed; a mask replaced by the sealed value of
    the same step's input in ``stored`` (the flow as saved before).

    Raises :class:`FlowValidationError` for a mask with nothing to keep.
    """
    before = {s.key: s for s in stored.steps} if stored else {}
    problems: list[str] = []
    inputs = []
    for i, step in enumerate(spec.steps):
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
                        f"steps[{i}] ({step.key}).input.{name}: give the secret again (the mask "
                        "stands for a value this flow does not hold)"
                    )
            elif isinstance(value, str) and value and "{" not in value:
                values[name] = {_SEALED: box.seal({"value": value})}
        inputs.append(values)
    if problems:
        raise FlowValidationError(problems)
    return _with_inputs(spec, inputs)


def shown(spec: FlowSpec) -> FlowSpec:
    """``spec`` as it may be shown: sealed values masked."""
    if not any(_is_sealed(v) for s in spec.steps for v in s.input.values()):
        return spec
    return _with_inputs(
        spec,
        [{k: MASK if _is_sealed(v) else v for k, v in s.input.items()} for s in spec.steps],
    )


def restore(spec: FlowSpec, stored: FlowSpec) -> FlowSpec:
    """``spec`` (as shown, then perhaps edited) with each mask replaced by the sealed value of
    the same step's input in ``stored``, for running it (a step tried in the editor)."""
    before = {s.key: s for s in stored.steps}
    inputs = []
    for step in spec.steps:
        kept = before.get(step.key)
        inputs.append(
            {
                k: kept.input[k]
                if v == MASK and kept is not None and _is_sealed(kept.input.get(k))
                else v
                for k, v in step.input.items()
            }
        )
    return _with_inputs(spec, inputs)


def unseal(values: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """A step's input with its sealed values opened, for rendering."""
    if not any(_is_sealed(v) for v in values.values()):
        return values
    return {k: box.open(v[_SEALED])["value"] if _is_sealed(v) else v for k, v in values.items()}
