"""The editor's form for the steps that steer a run: filter, paths, delay and format.

Like the rest of the editor (:mod:`maillon.web.ui.drafts`), these steps live in the form as the
text typed. Their inputs, besides the ones every step has (``steps-<n>-kind``, ``-key``,
``-parent``):

- conditions (a filter's, a branch's): ``-match`` (``all`` or ``any``) and rows
  ``-cond-<c>-value``, ``-op``, ``-to``; a branch's the same after ``-branch-<b>-``, with its
  ``-name``. The form edits one group; a group that nests groups (written in YAML) is kept as
  written, as JSON in ``-group``.
- paths: ``-mode`` (``first`` or ``every``) and the branches; the steps of a branch are steps
  of the form whose ``-parent`` is ``<paths key>.<branch name>``. A branch's ``-was`` and the
  paths step's ``-was`` hold the names they had when the editor was shown, so that a branch
  (or a paths step) renamed in the form keeps its steps.
- delay: ``-duration``, or ``-until`` and ``-timezone``.
- format: rows ``-fmt-<r>-name`` and ``-fmt-<r>-value``.

A blank row (a condition without a value, a branch without a name, a value without a name) is
an empty slot the page offers, not part of the flow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maillon.engine.conditions import UNARY, Condition, Group
from maillon.engine.control import DelayStep, FilterStep, FormatStep, PathsStep
from maillon.engine.i18n import N_
from maillon.web.ui.schema import as_text

__all__ = ["KINDS", "OPERATOR_NAMES", "BranchDraft", "CondDraft", "GroupDraft", "Steering"]

#: The kinds of step that steer a run, with what the editor calls them (translated where shown).
KINDS = {
    "filter": N_("Filter: go on only if"),
    "paths": N_("Paths: branches with conditions"),
    "delay": N_("Delay: wait"),
    "format": N_("Format values"),
}
#: The operators in the words of the condition rows' menus (translated where shown).
OPERATOR_NAMES = {
    "equals": N_("is"),
    "not_equals": N_("is not"),
    "contains": N_("contains"),
    "not_contains": N_("does not contain"),
    "starts_with": N_("starts with"),
    "ends_with": N_("ends with"),
    "greater_than": N_("is greater than"),
    "less_than": N_("is less than"),
    "at_least": N_("is at least"),
    "at_most": N_("is at most"),
    "exists": N_("exists"),
    "not_exists": N_("does not exist"),
    "is_empty": N_("is empty"),
    "is_not_empty": N_("is not empty"),
    "matches": N_("matches the regular expression"),
    "in": N_("is one of (a, b, …)"),
    "not_in": N_("is not one of (a, b, …)"),
}

_MAX_ROWS = 50
_MAX_BRANCHES = 10
_COND = re.compile(r"^cond-([0-9]{1,6})-(value|op|to)$")
_BRANCH = re.compile(
    r"^branch-([0-9]{1,6})-(name|was|match|group|cond-[0-9]{1,6}-(?:value|op|to))$"
)
_FMT = re.compile(r"^fmt-([0-9]{1,6})-(name|value)$")


@dataclass
class CondDraft:
    """One condition row."""

    value: str = ""
    op: str = "equals"
    to: str = ""

    @property
    def unary(self) -> bool:
        """Whether the operator reads the value alone."""
        return self.op in UNARY


@dataclass
class GroupDraft:
    """The conditions of a filter or a branch, as typed."""

    match: str = "all"
    conditions: list[CondDraft] = field(default_factory=list)
    #: A group that nests groups, as JSON (edited in YAML; kept as written).
    nested: str = ""

    @classmethod
    def of(cls, group: Group | None) -> GroupDraft:
        """A saved group, ready to edit."""
        if group is None:
            return cls()
        match = "all" if group.all is not None else "any"
        if any(isinstance(m, Group) for m in group.members):
            return cls(match, nested=json.dumps(group.model_dump(mode="json", exclude_none=True)))
        return cls(
            match,
            [
                CondDraft(as_text(m.value), m.op, as_text(m.to))
                for m in group.members
                if isinstance(m, Condition)
            ],
        )

    def read(self, part: str, value: str) -> None:
        """Take one posted input (``match``, ``group``, ``cond-<c>-<x>``)."""
        if part == "match":
            self.match = "any" if value == "any" else "all"
        elif part == "group":
            self.nested = value
        elif match := _COND.match(part):
            row = int(match.group(1))
            if row < _MAX_ROWS:
                while len(self.conditions) <= row:
                    self.conditions.append(CondDraft(op=""))
                setattr(self.conditions[row], match.group(2), value.strip())

    def raw(self) -> dict[str, Any] | None:
        """The group as a flow document writes it; ``None`` when it has no condition."""
        if self.nested.strip():
            try:
                nested: dict[str, Any] = json.loads(self.nested)
            except ValueError:
                return {self.match: []}  # refused on save as an empty group
            return nested
        rows = [
            {"value": c.value, "op": c.op or "equals"}
            | ({} if (c.op or "equals") in UNARY else {"to": c.to})
            for c in self.conditions
            if c.value
        ]
        return {self.match: rows} if rows else None


@dataclass
class BranchDraft:
    """One branch of a paths step, as typed (its steps are steps of the form)."""

    name: str = ""
    group: GroupDraft = field(default_factory=GroupDraft)
    #: The name it had when the editor was shown ("" for a branch typed since): its steps'
    #: ``-parent`` still say that one until the editor is shown again.
    was: str = ""


@dataclass
class Steering:
    """What a filter, paths, delay or format step holds besides its key."""

    group: GroupDraft = field(default_factory=GroupDraft)
    mode: str = "first"
    branches: list[BranchDraft] = field(default_factory=list)
    duration: str = ""
    until: str = ""
    timezone: str = ""
    formats: list[list[str]] = field(default_factory=list)

    @classmethod
    def of(cls, step: Any) -> Steering:
        """A saved step's parts, ready to edit."""
        if isinstance(step, FilterStep):
            return cls(group=GroupDraft.of(step.filter))
        if isinstance(step, PathsStep):
            return cls(
                mode=step.paths.mode,
                branches=[BranchDraft(b.name, GroupDraft.of(b.when)) for b in step.paths.branches],
            )
        if isinstance(step, DelayStep):
            delay = step.delay
            return cls(
                duration=as_text(delay.duration),
                until=delay.until or "",
                timezone="" if delay.timezone == "UTC" else delay.timezone,
            )
        if isinstance(step, FormatStep):
            return cls(formats=[[name, as_text(value)] for name, value in step.format.items()])
        return cls()

    def read(self, part: str, value: str) -> bool:
        """Take one posted input of this step; whether it was one of these parts."""
        if part in ("match", "group") or part.startswith("cond-"):
            self.group.read(part, value)
        elif part in ("mode", "duration", "until", "timezone"):
            setattr(self, part, value.strip())
        elif match := _BRANCH.match(part):
            index = int(match.group(1))
            if index >= _MAX_BRANCHES:
                return True
            while len(self.branches) <= index:
                self.branches.append(BranchDraft())
            if match.group(2) in ("name", "was"):
                setattr(self.branches[index], match.group(2), value.strip())
            else:
                self.branches[index].group.read(match.group(2), value)
        elif match := _FMT.match(part):
            row = int(match.group(1))
            if row < _MAX_ROWS:
                while len(self.formats) <= row:
                    self.formats.append(["", ""])
                self.formats[row][match.group(2) == "value"] = value
        else:
            return False
        return True

    def raw(
        self, kind: str, key: str, children: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        """The step as a flow document writes it; ``children``: the steps of each branch, by
        ``<key>.<branch name>``."""
        if kind == "filter":
            return {"key": key, "filter": self.group.raw() or {"all": []}}
        if kind == "paths":
            branches = []
            for b in self.branches:
                if not b.name:
                    continue
                when = b.group.raw()
                branches.append(
                    {"name": b.name}
                    | ({"when": when} if when else {})
                    | {"steps": list(children.get(f"{key}.{b.name}", []))}
                )
            return {"key": key, "paths": {"mode": self.mode or "first", "branches": branches}}
        if kind == "delay":
            delay: dict[str, Any] = {
                "duration": self.duration or None,
                "until": self.until or None,
            }
            if self.timezone:
                delay["timezone"] = self.timezone
            return {"key": key, "delay": delay}
        return {"key": key, "format": {name: value for name, value in self.formats if name.strip()}}

    def branch_names(self) -> list[str]:
        """The names of the branches typed so far."""
        return [b.name for b in self.branches if b.name]
