"""Conditions on templated values, in AND/OR groups: what filter steps and paths decide on.

A condition compares a rendered ``value`` with an operand ``to`` (itself a template or a plain
value). Comparisons are forgiving in the way people expect of a form: ``"150000"`` equals
``150000``, ``greater_than`` compares numbers as numbers and ISO dates as moments. A value whose
field is missing does not fail the run: the condition simply does not hold (except ``not_exists``
and ``is_empty``, which it satisfies), and the verdict says so. Every verdict carries a sentence
that names the condition that decided it, which a filtered run shows on its page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from maillon.engine.i18n import N_
from maillon.engine.i18n import gettext as _
from maillon.engine.templating import TemplateRenderError, render_value, template_errors

__all__ = ["OPERATORS", "UNARY", "Condition", "Group", "Verdict", "evaluate", "member_kind"]

#: Each operator with what it says when it holds and when it does not, after the value's label
#: (translated when said; ``%(to)s`` is the operand).
OPERATORS: dict[str, tuple[str, str]] = {
    "equals": (N_("is %(to)s"), N_("is not %(to)s")),
    "not_equals": (N_("is not %(to)s"), N_("is %(to)s")),
    "contains": (N_("contains %(to)s"), N_("does not contain %(to)s")),
    "not_contains": (N_("does not contain %(to)s"), N_("contains %(to)s")),
    "starts_with": (N_("starts with %(to)s"), N_("does not start with %(to)s")),
    "ends_with": (N_("ends with %(to)s"), N_("does not end with %(to)s")),
    "greater_than": (N_("is greater than %(to)s"), N_("is not greater than %(to)s")),
    "less_than": (N_("is less than %(to)s"), N_("is not less than %(to)s")),
    "at_least": (N_("is at least %(to)s"), N_("is less than %(to)s")),
    "at_most": (N_("is at most %(to)s"), N_("is more than %(to)s")),
    "exists": (N_("exists"), N_("does not exist")),
    "not_exists": (N_("does not exist"), N_("exists")),
    "is_empty": (N_("is empty"), N_("is not empty")),
    "is_not_empty": (N_("is not empty"), N_("is empty")),
    "matches": (N_("matches %(to)s"), N_("does not match %(to)s")),
    "in": (N_("is one of %(to)s"), N_("is not one of %(to)s")),
    "not_in": (N_("is not one of %(to)s"), N_("is one of %(to)s")),
}
#: Operators that read the value alone (no ``to``).
UNARY = frozenset({"exists", "not_exists", "is_empty", "is_not_empty"})
Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "greater_than",
    "less_than",
    "at_least",
    "at_most",
    "exists",
    "not_exists",
    "is_empty",
    "is_not_empty",
    "matches",
    "in",
    "not_in",
]
#: The longest text a regular expression is matched against, and the longest pattern.
_MAX_MATCHED = 100_000
_MAX_PATTERN = 500


class Condition(BaseModel):
    """``value`` ``op`` ``to``, e.g. ``{{ event.amount }}`` greater_than ``100000``."""

    model_config = ConfigDict(extra="forbid")

    value: Any = Field(
        description="What is tested: usually a template, e.g. '{{ event.amount }}'.",
        examples=["{{ event.amount }}"],
    )
    op: Operator = Field(description="How it is tested.")
    to: Any = Field(
        None,
        description="What it is compared with (a value or a template); a list for in/not_in. "
        "Not used by exists, not_exists, is_empty, is_not_empty.",
    )

    def problems(self, where: str) -> list[str]:
        """What keeps this condition from being saved, in words."""
        found: list[str] = []
        for name, part in (("value", self.value), ("to", self.to)):
            found.extend(map(str, template_errors(part, f"{where}.{name}")))
        if self.op not in UNARY and self.to is None:
            found.append(
                f"{where}.to: "
                + _("missing (%(op)s compares the value with something)", op=self.op)
            )
        if self.op == "matches" and isinstance(self.to, str) and "{" not in self.to:
            found += _pattern_problems(self.to, f"{where}.to")
        return found


def _pattern_problems(pattern: str, where: str) -> list[str]:
    if len(pattern) > _MAX_PATTERN:
        return [
            f"{where}: " + _("a regular expression of at most %(num)s characters", num=_MAX_PATTERN)
        ]
    try:
        re.compile(pattern)
    except re.error as exc:
        return [f"{where}: " + _("not a regular expression (%(reason)s)", reason=str(exc))]
    return []


def member_kind(value: Any) -> str:
    """``group`` or ``one``: which member of a group ``value`` is (written, or read)."""
    if isinstance(value, dict):
        return "group" if "all" in value or "any" in value else "one"
    return "group" if isinstance(value, Group) else "one"


Member = Annotated[
    Annotated[Condition, Tag("one")] | Annotated["Group", Tag("group")],
    Discriminator(member_kind),
]


class Group(BaseModel):
    """Conditions (or groups) that must ``all`` hold, or of which ``any`` one must."""

    model_config = ConfigDict(extra="forbid")

    all: list[Member] | None = Field(None, min_length=1, max_length=50)
    any: list[Member] | None = Field(None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_kind(self) -> Group:
        if (self.all is None) == (self.any is None):
            raise ValueError("give either all: [conditions] or any: [conditions]")
        return self

    @property
    def members(self) -> list[Condition | Group]:
        """The conditions and groups, whichever of ``all`` or ``any`` holds them."""
        return list(self.all if self.all is not None else self.any or [])

    def problems(self, where: str, depth: int = 0) -> list[str]:
        """What keeps this group from being saved, in words (groups nest at most 5 deep)."""
        if depth > 5:
            return [f"{where}: " + _("groups nest at most %(num)s deep", num=5)]
        label = "all" if self.all is not None else "any"
        found: list[str] = []
        for i, member in enumerate(self.members):
            at = f"{where}.{label}[{i}]"
            found += (
                member.problems(at, depth + 1)
                if isinstance(member, Group)
                else (member.problems(at))
            )
        return found


@dataclass(frozen=True)
class Verdict:
    """Whether a group held, and the sentence that says why (the deciding condition)."""

    held: bool
    reason: str


class _Absent:
    """A value whose field is missing: why, for the verdict."""

    def __init__(self, why: str) -> None:
        self.why = why


def evaluate(group: Group, context: Mapping[str, Any]) -> Verdict:
    """Decide ``group`` against a template context. Never raises for data: a value that is
    missing or cannot be compared makes its condition not hold, and the reason says why."""
    verdicts = [
        evaluate(m, context) if isinstance(m, Group) else _condition(m, context)
        for m in group.members
    ]
    if group.all is not None:
        failed = next((v for v in verdicts if not v.held), None)
        if failed is not None:
            return failed
        return Verdict(True, _joined([v.reason for v in verdicts]))
    passed = next((v for v in verdicts if v.held), None)
    if passed is not None:
        return passed
    if len(verdicts) == 1:
        return verdicts[0]
    return Verdict(
        False, _("none held: %(reasons)s", reasons=_joined([v.reason for v in verdicts]))
    )


def _joined(reasons: list[str]) -> str:
    """``reasons`` one after the other, as the language of the moment separates them (French
    puts a narrow no-break space before ";")."""
    said = reasons[0] if reasons else ""
    for reason in reasons[1:]:
        said = _("%(reasons)s; %(reason)s", reasons=said, reason=reason)
    return said


def _condition(cond: Condition, context: Mapping[str, Any]) -> Verdict:
    label = _label(cond.value)
    try:
        value: Any = render_value(cond.value, context, "value")
    except TemplateRenderError as exc:
        value = _Absent(exc.reason)
    try:
        to = render_value(cond.to, context, "to")
    except TemplateRenderError as exc:
        why = _("the value to compare with cannot be read (%(reason)s)", reason=exc.reason)
        return Verdict(False, f"{label}: {why}")
    yes, no = OPERATORS[cond.op]
    shown_to = _shown(to)
    if isinstance(value, _Absent) and cond.op not in UNARY:
        return Verdict(False, f"{label} {_said(no, shown_to)} ({value.why})")
    try:
        held = _TESTS[cond.op](value, to)
    except _NotComparable as exc:
        return Verdict(False, f"{label} ({_shown(value)}) {_said(no, shown_to)} ({exc})")
    said = _said(yes if held else no, shown_to)
    if isinstance(value, _Absent) or cond.op in ("exists", "not_exists"):
        return Verdict(held, f"{label} {said}")
    return Verdict(held, f"{label} ({_shown(value)}) {said}")


def _said(phrase: str, to: str) -> str:
    """An operator's phrase in the language of the moment; unary ones have no ``%(to)s``."""
    return _(phrase, to=to) if "%(to)s" in phrase else _(phrase)


def _label(value: Any) -> str:
    """``{{ event.amount }}`` → ``event.amount``: the condition's value as people wrote it."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*\{\{\s*(.*?)\s*\}\}\s*", value, re.DOTALL)
        if match and "{{" not in match.group(1):
            return match.group(1)
        return repr(value)
    return _shown(value)


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


class _NotComparable(ValueError):
    pass


_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and len(value) >= 10 and value[:4].isdigit():
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _order(value: Any, to: Any) -> tuple[Any, Any]:
    """Both sides as numbers, else both as moments; else :class:`_NotComparable`."""
    a, b = _number(value), _number(to)
    if a is not None and b is not None:
        return a, b
    x, y = _moment(value), _moment(to)
    if x is not None and y is not None:
        return x, y
    raise _NotComparable(_("compares numbers or dates only"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(value: Any, to: Any) -> bool:
    a, b = _number(value), _number(to)
    if a is not None and b is not None:
        return a == b
    if isinstance(value, list | dict) or isinstance(to, list | dict):
        return bool(value == to)
    return _text(value) == _text(to)


def _contains(value: Any, to: Any) -> bool:
    if isinstance(value, list):
        return any(_equal(item, to) for item in value)
    if isinstance(value, dict):
        return _text(to) in value
    return _text(to) in _text(value)


def _members(to: Any) -> list[Any]:
    if isinstance(to, list):
        return to
    # A list typed in one input: "REFUNDED, CANCELLED".
    return [part.strip() for part in _text(to).split(",")]


def _empty(value: Any) -> bool:
    return isinstance(value, _Absent) or value is None or value in ("", [], {})


def _matches(value: Any, to: Any) -> bool:
    pattern = _text(to)
    problems = _pattern_problems(pattern, "pattern")
    if problems:
        raise _NotComparable(problems[0].removeprefix("pattern: "))
    return re.search(pattern, _text(value)[:_MAX_MATCHED]) is not None


def _greater(value: Any, to: Any) -> bool:
    a, b = _order(value, to)
    return bool(a > b)


def _less(value: Any, to: Any) -> bool:
    a, b = _order(value, to)
    return bool(a < b)


_TESTS: dict[str, Any] = {
    "equals": _equal,
    "not_equals": lambda v, t: not _equal(v, t),
    "contains": _contains,
    "not_contains": lambda v, t: not _contains(v, t),
    "starts_with": lambda v, t: _text(v).startswith(_text(t)),
    "ends_with": lambda v, t: _text(v).endswith(_text(t)),
    "greater_than": _greater,
    "less_than": _less,
    "at_least": lambda v, t: not _less(v, t),
    "at_most": lambda v, t: not _greater(v, t),
    "exists": lambda v, _to: not isinstance(v, _Absent) and v is not None,
    "not_exists": lambda v, _to: isinstance(v, _Absent) or v is None,
    "is_empty": lambda v, _to: _empty(v),
    "is_not_empty": lambda v, _to: not _empty(v),
    "matches": _matches,
    "in": lambda v, t: any(_equal(v, m) for m in _members(t)),
    "not_in": lambda v, t: not any(_equal(v, m) for m in _members(t)),
}
