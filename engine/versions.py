"""What changed between two versions of a flow, as people read it.

A diff of the JSON text would show moved braces and every line after an inserted step as
changed. This one compares the definitions as data: steps are matched by their key (so a
step moved, renamed in place or edited reads as such), and each change is one entry with a
path people recognise (``trigger.event``, ``steps[notify].input.text``) and the value before
and after. The API returns the entries, the CLI prints them as lines, the UI as a table.

Definitions are compared as shown (:func:`maillon.engine.secret_inputs.shown`): a secret input
is masked on both sides, so a diff never reveals one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from maillon.engine.flows import FlowSpec

__all__ = ["Change", "ChangeKind", "diff_specs", "format_change", "shown_value"]


class ChangeKind(StrEnum):
    """What happened to the thing at a change's path."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    #: The order of a list of steps: ``before`` and ``after`` are the keys in order.
    REORDERED = "reordered"


@dataclass(frozen=True)
class Change:
    """One difference: where, what kind, and the value on each side (``None``: absent)."""

    path: str
    kind: ChangeKind
    before: Any = None
    after: Any = None


_ABSENT = object()


def diff_specs(before: FlowSpec, after: FlowSpec) -> list[Change]:
    """The changes that turn ``before`` into ``after``, in the order of the definition."""
    a = before.model_dump(mode="json", exclude_none=True)
    b = after.model_dump(mode="json", exclude_none=True)
    return list(_diff("", a, b))


def _identity(value: Any) -> str | None:
    """The field naming each item of ``value`` when it is a list matched item by item: steps
    by ``key``, a paths step's branches by ``name``; ``None`` otherwise. Only names that are
    texts, each once, identify items: a list in a step's input may hold mappings with a
    ``name`` too, and is then compared whole (two items named alike would hide a change)."""
    if not isinstance(value, list) or not value:
        return None
    for name in ("key", "name"):
        if all(isinstance(item, Mapping) and isinstance(item.get(name), str) for item in value):
            names = [item[name] for item in value]
            return name if len(set(names)) == len(names) else None
    return None


def _matched_by(a: Any, b: Any) -> str | None:
    """What items of the lists ``a`` and ``b`` are matched by (an empty list takes the
    other's), or ``None``: the lists are compared whole."""
    field_a = _identity(a) or (_identity(b) if a == [] else None)
    field_b = _identity(b) or (field_a if b == [] else None)
    return field_a if field_a is not None and field_a == field_b else None


def _diff(path: str, a: Any, b: Any) -> Iterator[Change]:
    if a == b:
        return
    if a is _ABSENT:
        yield Change(path, ChangeKind.ADDED, after=b)
    elif b is _ABSENT:
        yield Change(path, ChangeKind.REMOVED, before=a)
    elif isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(k for k in b if k not in a)]:
            yield from _diff(
                f"{path}.{key}" if path else key, a.get(key, _ABSENT), b.get(key, _ABSENT)
            )
    elif (field := _matched_by(a, b)) is not None:
        old = {item[field]: item for item in a}
        new = {item[field]: item for item in b}
        for key in [*new, *(k for k in old if k not in new)]:
            yield from _diff(f"{path}[{key}]", old.get(key, _ABSENT), new.get(key, _ABSENT))
        kept_before = [k for k in old if k in new]
        kept_after = [k for k in new if k in old]
        if kept_before != kept_after:
            yield Change(path, ChangeKind.REORDERED, before=kept_before, after=kept_after)
    else:
        yield Change(path, ChangeKind.CHANGED, before=a, after=b)


def shown_value(value: Any) -> str:
    """A value of a change as text: JSON, strings quoted; ``""`` for an absent one."""
    if value is None:
        return ""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def format_change(change: Change) -> str:
    """One change as a line of text: ``+`` added, ``-`` removed, ``~`` changed or reordered."""
    if change.kind is ChangeKind.ADDED:
        return f"+ {change.path}: {shown_value(change.after)}"
    if change.kind is ChangeKind.REMOVED:
        return f"- {change.path}: {shown_value(change.before)}"
    return f"~ {change.path}: {shown_value(change.before)} → {shown_value(change.after)}"
