"""Steps that steer a run rather than call an app: filter, paths, delay and format.

- A **filter** lets the run go on only when its conditions hold; otherwise the run ends
  *filtered* (not failed), and says which condition did not hold.
- **Paths** are named branches, each with conditions and steps of its own; ``first`` runs the
  first branch whose conditions hold, ``every`` runs each one whose conditions hold, in order.
  The run goes on with the steps after the paths step, which read the branches' outputs.
- A **delay** parks the run in the queue until a duration has passed or a date-time comes: the
  run holds no worker while it waits, and a restart does not lose it.
- **Format** gives names to values built with templates and the formatters
  (:mod:`maillon.engine.formatting`), which later steps read as ``steps.<key>.<name>``.

The models are here; the flow model (:mod:`maillon.engine.flows`) puts them in its union of
step kinds, and the executor runs them. Each kind checks itself (``problems``) in the words of
the save checks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from maillon.engine.conditions import Group, evaluate
from maillon.engine.durations import seconds_in
from maillon.engine.formatting import to_datetime, zone
from maillon.engine.i18n import N_
from maillon.engine.i18n import gettext as _
from maillon.engine.templating import render_value, template_errors

if TYPE_CHECKING:
    from maillon.engine.flows import Step

__all__ = [
    "KEY",
    "KEY_RULE",
    "MAX_DELAY",
    "Branch",
    "Delay",
    "DelayStep",
    "FilterStep",
    "FormatStep",
    "Paths",
    "PathsStep",
    "StepBase",
    "delay_until",
    "parse_duration",
]

KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
KEY_RULE = N_("lower-case letters, digits and _, starting with a letter, at most 64 characters")
#: The longest a run may be parked by one delay.
MAX_DELAY = 366 * 86_400.0
#: How deep paths may nest inside paths.
MAX_DEPTH = 3


class StepBase(BaseModel):
    """What every step has: a key, unique within the flow (branches included)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="Unique within the flow; later steps read `steps.<key>.…`.")

    @field_validator("key")
    @classmethod
    def _key_shape(cls, value: str) -> str:
        if not KEY.match(value):
            raise ValueError("must be lower-case letters, digits and _, starting with a letter")
        return value


class FilterStep(StepBase):
    """Go on only if the conditions hold; otherwise the run ends *filtered*."""

    filter: Group = Field(description="Conditions: {all: [...]} or {any: [...]}.")

    def problems(self, where: str) -> list[str]:
        """What keeps this step from being saved."""
        return self.filter.problems(f"{where}.filter")


class Branch(BaseModel):
    """One of the paths: its name, when it runs, and its steps."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Shown on the run's page; " + KEY_RULE + ".")
    when: Group | None = Field(
        None, description="Conditions; a branch without any always runs (an 'otherwise')."
    )
    steps: list[Step] = Field(default_factory=list, max_length=50)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not KEY.match(value):
            raise ValueError("must be lower-case letters, digits and _, starting with a letter")
        return value


class Paths(BaseModel):
    """Named branches, and whether the first that matches runs or every one that does."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["first", "every"] = Field(
        "first", description="first: the first branch whose conditions hold; every: each one."
    )
    branches: list[Branch] = Field(min_length=1, max_length=10)


class PathsStep(StepBase):
    """Branches with conditions (a router); the run goes on after them."""

    paths: Paths

    def choose(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The branches to run against ``context`` (``branches``: their names, in order) and
        why each branch looked at was or was not (``reasons``): the step's output."""
        chosen: list[str] = []
        reasons: dict[str, str] = {}
        for branch in self.paths.branches:
            held, reasons[branch.name] = True, "no conditions"
            if branch.when is not None:
                verdict = evaluate(branch.when, context)
                held, reasons[branch.name] = verdict.held, verdict.reason
            if held:
                chosen.append(branch.name)
                if self.paths.mode == "first":
                    break
        return {"branches": chosen, "reasons": reasons}

    def problems(self, where: str) -> list[str]:
        """What keeps the branches' conditions and names from being saved (their steps are
        checked with the flow's)."""
        found: list[str] = []
        seen: set[str] = set()
        for b, branch in enumerate(self.paths.branches):
            at = f"{where}.paths.branches[{b}] ({branch.name})"
            if branch.name in seen:
                found.append(
                    f"{at}.name: "
                    + _("another branch of these paths is named %(name)r", name=branch.name)
                )
            seen.add(branch.name)
            if branch.when is not None:
                found += branch.when.problems(f"{at}.when")
        return found


class Delay(BaseModel):
    """Wait for a ``duration``, or ``until`` a date-time."""

    model_config = ConfigDict(extra="forbid")

    duration: str | int | None = Field(
        None,
        description="How long: 90s, 15m, 2h, 1d, 1w, or combined (1d 12h), also as words in "
        "English or French (2 days, 2 jours, 1h30); a number is seconds. May be a template.",
        examples=["1d"],
    )
    until: str | None = Field(
        None,
        description="When: a template giving an ISO 8601 date-time (e.g. '{{ event.due_at }}').",
        examples=["{{ event.due_at }}"],
    )
    timezone: str = Field(
        "UTC", description="The time zone of an `until` without an offset (e.g. Europe/Paris)."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Delay:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give either duration (e.g. 1d) or until (a date-time)")
        return self


class DelayStep(StepBase):
    """Park the run until a duration has passed or a date-time has come."""

    delay: Delay

    def problems(self, where: str) -> list[str]:
        """What keeps this step from being saved."""
        found: list[str] = []
        for name in ("duration", "until"):
            found.extend(
                map(str, template_errors(getattr(self.delay, name), f"{where}.delay.{name}"))
            )
        duration = self.delay.duration
        if duration is not None and "{" not in str(duration):
            try:
                parse_duration(duration)
            except ValueError as exc:
                found.append(f"{where}.delay.duration: {exc}")
        try:
            zone(self.delay.timezone)
        except ValueError as exc:
            found.append(f"{where}.delay.timezone: {exc}")
        return found


class FormatStep(StepBase):
    """Named values built from templates and formatters; later steps read them."""

    format: dict[str, Any] = Field(
        description='name: template, e.g. amount: "{{ event.amount | money(event.currency, '
        "'fr_FR') }}\".",
        min_length=1,
        max_length=50,
    )

    def problems(self, where: str) -> list[str]:
        """What keeps this step from being saved."""
        found = [
            f"{where}.format.{name}: " + _("not a name: %(rule)s", rule=_(KEY_RULE))
            for name in self.format
            if not KEY.match(name)
        ]
        found.extend(map(str, template_errors(self.format, f"{where}.format")))
        return found


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``90s``, ``15m``, ``2h``, ``1d``, ``1w``, ``1d 12h``, ``2 jours``, or a number
    of seconds (:func:`~maillon.engine.durations.seconds_in`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds: float | None = float(value)
    else:
        seconds = seconds_in(str(value))
    if seconds is None:
        raise ValueError(
            _(
                "%(value)r is not a duration (for example 90s, 15m, 2h, 1d, 1d 12h)",
                value=str(value)[:40],
            )
        )
    if not 0 <= seconds <= MAX_DELAY:
        raise ValueError(_("a delay lasts from 0 seconds to 366 days"))
    return seconds


def delay_until(delay: Delay, context: Mapping[str, Any], now: float) -> float:
    """When a delay that starts at ``now`` ends (epoch seconds). Raises :class:`ValueError`
    (or :class:`TemplateRenderError`) with what is wrong with its templates' values."""
    if delay.duration is not None:
        return now + parse_duration(render_value(delay.duration, context, "delay.duration"))
    value = render_value(delay.until, context, "delay.until")
    moment = to_datetime(value)
    if isinstance(value, str) and moment.tzinfo is dt.UTC and not _has_offset(value):
        # No offset given: the time is on the delay's clock, not UTC's.
        moment = moment.replace(tzinfo=zone(delay.timezone))
    until = moment.timestamp()
    if until - now > MAX_DELAY:
        raise ValueError(_("a delay lasts at most 366 days"))
    return until


def _has_offset(text: str) -> bool:
    return bool(re.search(r"(Z|[+-]\d\d:?\d\d)\s*$", text.strip()))


def walk(steps: list[Any], where: str = "steps") -> Iterator[tuple[str, Any]]:
    """Every step of a tree of steps, in the order a run meets them, with where it is
    (``steps[1] (route).paths.branches[0] (refunds).steps[0] (notify)``)."""
    for i, step in enumerate(steps):
        at = f"{where}[{i}] ({step.key})"
        yield at, step
        if isinstance(step, PathsStep):
            for b, branch in enumerate(step.paths.branches):
                yield from walk(branch.steps, f"{at}.paths.branches[{b}] ({branch.name}).steps")
