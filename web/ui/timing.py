"""The editor's schedule and digest inputs, read and written (part of a flow's :class:`Draft`).

A schedule is typed as four inputs under a prefix (``schedule-`` for the trigger,
``digest-release-`` for a digest's release): ``cron``, ``every``, ``timezone``, ``missed``. A
digest adds ``digest-on`` (a checkbox), ``digest-name``, ``digest-item`` (a template, or a JSON
mapping of templates) and ``digest-release-count``. Everything is kept as typed and checked by
the engine when the flow is saved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maillon.engine.digests import DigestSpec
from maillon.engine.i18n import current_time_zone
from maillon.engine.schedules import Schedule
from maillon.web.ui.render import digits
from maillon.web.ui.schema import as_text

__all__ = ["DigestDraft", "ScheduleDraft"]


@dataclass
class ScheduleDraft:
    """A schedule as typed."""

    cron: str = ""
    every: str = ""
    #: A new schedule is read in the time zone of whoever writes it (their settings), as
    #: "every day at 9" means to them.
    timezone: str = field(default_factory=current_time_zone)
    missed: str = "run_once"

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleDraft:
        """A saved schedule, ready to edit."""
        return cls(
            cron=schedule.cron or "",
            every=as_text(schedule.every),
            timezone=schedule.timezone,
            missed=schedule.missed,
        )

    @classmethod
    def read(cls, form: Mapping[str, str], prefix: str) -> ScheduleDraft:
        """The schedule a posted form holds under ``prefix``."""
        return cls(
            cron=form.get(f"{prefix}cron", "").strip(),
            every=form.get(f"{prefix}every", "").strip(),
            timezone=form.get(f"{prefix}timezone", "").strip() or current_time_zone(),
            missed=form.get(f"{prefix}missed", "").strip() or "run_once",
        )

    def raw(self) -> dict[str, Any]:
        """The schedule as a flow document holds it (a bare number of seconds as a number)."""
        every: int | str | None = self.every or None
        if digits(self.every, 12):
            every = int(self.every)
        return {
            "cron": self.cron or None,
            "every": every,
            "timezone": self.timezone,
            "missed": self.missed,
        }


@dataclass
class DigestDraft:
    """A digest as typed; ``on`` is whether the flow has one."""

    on: bool = False
    name: str = ""
    item: str = ""
    count: str = ""
    release: ScheduleDraft = field(default_factory=ScheduleDraft)

    @classmethod
    def of(cls, digest: DigestSpec | None) -> DigestDraft:
        """A saved flow's digest (or none), ready to edit."""
        if digest is None:
            return cls()
        return cls(
            on=True,
            name=digest.name,
            item=as_text(digest.item),
            count=as_text(digest.release.count),
            release=ScheduleDraft.of(digest.release),
        )

    @classmethod
    def read(cls, form: Mapping[str, str]) -> DigestDraft:
        """The digest a posted form holds."""
        return cls(
            on=bool(form.get("digest-on")),
            name=form.get("digest-name", "").strip(),
            item=form.get("digest-item", "").strip(),
            count=form.get("digest-release-count", "").strip(),
            release=ScheduleDraft.read(form, "digest-release-"),
        )

    def raw(self) -> dict[str, Any] | None:
        """The digest as a flow document holds it, or ``None`` when the flow has none."""
        if not self.on:
            return None
        release: dict[str, Any] = self.release.raw()
        release["count"] = int(self.count) if digits(self.count, 12) else self.count or None
        return {"name": self.name, "item": _item(self.item), "release": release}


def _item(text: str) -> Any:
    """What to keep of each event: a JSON mapping of templates, else one template."""
    if not text:
        return None
    if text.startswith("{") and not text.startswith("{{"):
        try:
            return json.loads(text)
        except ValueError:
            return text  # the engine says what is wrong with it as a template
    return text
