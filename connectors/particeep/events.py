"""The catalog of Particeep webhook events, loaded from ``events.yaml`` (data, not code)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

__all__ = ["EventSpec", "EventText", "get_event", "load_events"]

_NAME = re.compile(r"^[a-z]+(_[a-z]+)+$")


class EventText(BaseModel):
    """An event's title and description in one language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    description: str


class EventSpec(BaseModel):
    """One event that a Particeep account can post to a webhook URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="The webhook name registered on Particeep, e.g. user_created.")
    entity: str = Field(description="The kind of entity the body is: user, transaction, ...")
    evidence: Literal["documented", "named", "inferred"] = Field(
        description="How sure we are that Particeep emits it (see events.yaml)."
    )
    title: str = Field("", description="What a person calls it, e.g. Transaction created.")
    description: str
    translations: Mapping[str, EventText] = Field(
        default_factory=dict, description="The title and description by language code (fr)."
    )
    sample: Mapping[str, Any] = Field(description="A realistic body: the bare entity.")

    @field_validator("name")
    @classmethod
    def _name_is_entity_verb(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"event name {value!r} is not <entity>_<verb> in lower case")
        return value

    @field_validator("sample")
    @classmethod
    def _sample_has_id(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        # A delivery's dedup key is the entity's id with a digest of its content
        # (AppTrigger.dedup_key): a body without an id is never recognised as a resend.
        if not isinstance(value.get("id"), str) or not value["id"]:
            raise ValueError("a sample must have a string id")
        return value

    @property
    def inferred(self) -> bool:
        """True when Particeep has not confirmed this event."""
        return self.evidence == "inferred"

    def sample_payload(self) -> dict[str, Any]:
        """A fresh deep copy of the sample, safe to modify."""
        return copy.deepcopy(dict(self.sample))


_Entries = TypeAdapter(list[EventSpec])


def _read(text: str, origin: str) -> list[EventSpec]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "events" not in data:
        raise ValueError(f"{origin}: expected a mapping with an 'events' list")
    return _Entries.validate_python(data["events"])


@lru_cache(maxsize=1)
def _builtin() -> tuple[EventSpec, ...]:
    text = resources.files(__package__).joinpath("events.yaml").read_text(encoding="utf-8")
    entries = _read(text, "events.yaml")
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"events.yaml names these events twice: {duplicates}")
    return tuple(entries)


def load_events(extra_files: Iterable[Path] = ()) -> tuple[EventSpec, ...]:
    """The built-in catalog, then each extra file in order, sorted by name.

    An entry in an extra file replaces the built-in one of the same name, so a deployment can
    correct an inferred event (or add a new one) by configuration, without a code change.
    """
    by_name = {e.name: e for e in _builtin()}
    for path in extra_files:
        for entry in _read(Path(path).read_text(encoding="utf-8"), str(path)):
            by_name[entry.name] = entry
    return tuple(sorted(by_name.values(), key=lambda e: e.name))


def get_event(name: str, extra_files: Iterable[Path] = ()) -> EventSpec | None:
    """The catalog entry named ``name``, or ``None``."""
    return next((e for e in load_events(extra_files) if e.name == name), None)
