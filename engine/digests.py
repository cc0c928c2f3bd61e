"""Digests: a flow's events collected, then released together as one run.

A flow with a ``digest`` does not run its steps for each event. Each event's run renders the
digest's ``item`` (the whole event by default) and stores it in ``digest_items``, then ends;
the items wait there, on disk, across restarts. A **release** takes every waiting item (up to
:data:`MAX_ITEMS`) into one new event, ``{"digest", "reason", "count", "items": [...]}``, and
queues one run of the flow for it: the steps then see the whole list as ``event.items``, in
the order the events arrived.

A release happens on the digest's schedule, when ``count`` items wait, or by hand. It is one
transaction that deletes the items it takes and stores them in the new event: an item is taken
by one release only (on PostgreSQL a second release waits for the first's row locks, then finds
those items gone), and an item collected while a release runs waits for the next one. A
scheduled release stores its event under the tick's key, as a schedule trigger's tick is stored
(``events``' unique dedup key): two schedulers releasing the same tick release it once.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, delete, func, insert, select

from maillon.engine.db import integrity_errors
from maillon.engine.i18n import gettext as _
from maillon.engine.ids import new_id
from maillon.engine.models import (
    DigestItemRow,
    EventRow,
    FlowRow,
    RunRow,
    RunStatus,
    StepStatus,
)
from maillon.engine.schedules import Schedule, tick_key
from maillon.engine.templating import render_value, template_errors
from maillon.engine.ticks import record_ticks
from maillon.engine.writer import Op

__all__ = [
    "DIGEST_SOURCE",
    "MAX_ITEMS",
    "MAX_ITEM_BYTES",
    "CollectItem",
    "DigestRelease",
    "DigestSpec",
    "ReleaseDigest",
    "Released",
    "digest_dedup_scope",
    "forget_digest",
    "item_problems",
    "pending_items",
    "release_example",
]

#: ``events.source`` of a release: its run executes the steps instead of collecting.
DIGEST_SOURCE = "digest"
#: Items one release holds at most; more wait for the next release.
MAX_ITEMS = 1000
#: The largest item kept (as JSON): ``item`` keeps what the release needs of a big event.
MAX_ITEM_BYTES = 64 * 1024

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_items = DigestItemRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_runs = RunRow.__table__  # type: ignore[attr-defined]
_flows = FlowRow.__table__  # type: ignore[attr-defined]


class DigestRelease(Schedule):
    """When a digest is released: on a schedule, at a count, or both (and always by hand)."""

    count: int | None = Field(
        None, ge=1, le=MAX_ITEMS, description="Release as soon as this many items wait."
    )

    @model_validator(mode="after")
    def _one_way(self) -> DigestRelease:
        self.at_most_one_way()
        return self


class DigestSpec(BaseModel):
    """Collect the flow's events and run its steps once per release, on the list."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="The digest's name (lower-case letters, digits, - and _), given to the "
        "steps as `event.digest`.",
        examples=["daily-investments"],
    )
    item: Any = Field(
        None,
        description="What to keep of each event: a template or a mapping of templates "
        "rendered against it (default: the whole event).",
        examples=[{"amount": "{{ event.amount }}", "investor": "{{ event.issuer_id }}"}],
    )
    release: DigestRelease = Field(
        default_factory=DigestRelease,
        description="When the collected items are released (they can always be released by hand).",
    )

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            example = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")[:64] or "daily"
            raise ValueError(
                _(
                    "%(value)r is not a digest name: lower-case letters, digits, - and _, at "
                    "most 64 characters (for example %(example)r)",
                    value=value,
                    example=example,
                )
            )
        return value

    @property
    def step_key(self) -> str:
        """The key under which a collecting run records what it did (never a step's key)."""
        return f"digest:{self.name}"

    def render_item(self, context: dict[str, Any]) -> str:
        """The item one event adds, as JSON text.

        Raises :class:`TemplateRenderError` or :class:`ValueError` (too large) in plain words.
        """
        value = (
            context["event"]
            if self.item is None
            else render_value(self.item, context, "digest.item")
        )
        text = msgspec.json.encode(value, enc_hook=str).decode()
        if len(text) > MAX_ITEM_BYTES:
            raise ValueError(
                _(
                    "the item is %(size)s KiB, over %(max)s KiB: keep only the fields the "
                    "release needs with digest.item",
                    size=len(text) // 1024,
                    max=MAX_ITEM_BYTES // 1024,
                )
            )
        return text


def item_problems(item: Any) -> list[str]:
    """Save-time checks beyond the shape: the templates of a digest's ``item`` compile."""
    if item is None:
        return []
    return [str(error) for error in template_errors(item, "digest.item")]


def release_example(digest: DigestSpec, event: Any) -> dict[str, Any]:
    """A release of one item made from ``event``: what a digest flow's steps are previewed and
    tried against (the event itself stands for the item if ``item`` cannot render it)."""
    try:
        item = json.loads(digest.render_item({"event": event}))
    except ValueError:
        item = event
    return {
        "digest": digest.name,
        "reason": "manual",
        "count": 1,
        "released_at": tick_key(time.time()),
        "items": [item],
    }


@dataclass(frozen=True)
class Released:
    """What a release did: the event and run it queued, with how many items (none: there was
    nothing to release, or another scheduler released this tick already)."""

    event_id: str | None = None
    run_id: str | None = None
    count: int = 0
    #: The run is held: the flow is off.
    held: bool = False
    #: This tick was released already (by another scheduler).
    duplicate: bool = False


def digest_dedup_scope(flow_id: str) -> str:
    """Scheduled releases of a flow's digest are unique per (flow, tick)."""
    return f"digest:{flow_id}"


def forget_digest(conn: Connection, flow_id: str) -> None:
    """Drop the items a deleted flow's digest collected: nothing can release them any more."""
    conn.execute(delete(_items).where(_items.c.flow_id == flow_id))


def pending_items(conn: Connection, flow_id: str) -> int:
    """How many items of the flow's digest wait for a release."""
    q = select(func.count()).where(_items.c.flow_id == flow_id)
    return int(conn.execute(q).scalar_one())


def _release(
    conn: Connection, flow_id: str, name: str, reason: str, tick: float | None, now: float
) -> Released:
    """Take the waiting items into one event and queue its run, in ``conn``'s transaction."""
    flow = conn.execute(
        select(_flows.c.enabled, _flows.c.version).where(_flows.c.id == flow_id)
    ).first()
    if flow is None:
        return Released()
    dedup = None
    if tick is not None:
        dedup = (digest_dedup_scope(flow_id), tick_key(tick))
        # The tick was fired, whatever it finds to release: a scheduler starting later does
        # not fire it again (see maillon.engine.ticks).
        record_ticks(conn, {dedup[0]: tick})
        seen = conn.execute(
            select(_events.c.id).where(
                _events.c.dedup_scope == dedup[0], _events.c.dedup_key == dedup[1]
            )
        ).first()
        if seen is not None:
            return Released(event_id=seen.id, duplicate=True)
    waiting = (
        select(_items.c.id)
        .where(_items.c.flow_id == flow_id)
        .order_by(_items.c.run_id)  # runs' ids are in the order their events arrived
        .limit(MAX_ITEMS)
    )
    if conn.dialect.name == "postgresql":
        # A concurrent release waits for these rows, then finds them gone.
        waiting = waiting.with_for_update()
    taken = conn.execute(
        delete(_items)
        .where(_items.c.id.in_(waiting.scalar_subquery()))
        .returning(_items.c.run_id, _items.c.item)
    ).all()
    if not taken:
        return Released()
    items = [json.loads(row.item) for row in sorted(taken, key=lambda row: row.run_id)]
    body = {
        "digest": name,
        "reason": reason,
        "count": len(items),
        "released_at": tick_key(now),
        "items": items,
    }
    scope, key = dedup or (None, None)
    event_id = new_id()
    conn.execute(
        insert(_events).values(
            id=event_id,
            flow_id=flow_id,
            source=DIGEST_SOURCE,
            dedup_scope=scope,
            dedup_key=key,
            body=msgspec.json.encode(body).decode(),
            meta="{}",
            received_at=now,
        )
    )
    run_id = new_id()
    held = not flow.enabled
    conn.execute(
        insert(_runs).values(
            id=run_id,
            flow_id=flow_id,
            # The release runs the published version, whichever version collected the items.
            flow_version=flow.version,
            event_id=event_id,
            status=RunStatus.HELD if held else RunStatus.QUEUED,
            claims=0,
            available_at=now,
            created_at=now,
        )
    )
    return Released(event_id=event_id, run_id=run_id, count=len(items), held=held)


@dataclass
class CollectItem(Op[Released | None]):
    """A collecting run's end: its item stored, the run succeeded, and, when the digest's
    ``count`` is reached, the release, all in one transaction.

    Returns the release the item set off, if any.
    """

    run_id: str
    owner: str
    lease_seconds: float
    flow_id: str
    digest: DigestSpec
    item: str
    started_at: float

    def apply(self, conn: Connection) -> Released | None:
        # Imported here: the queue records failures (engine.failures, engine.alerts), which
        # read flows, whose model holds a digest's: a module-level import would be a cycle.
        from maillon.engine.queue import RecordStep, StepRecord

        now = time.time()
        record = StepRecord(
            key=self.digest.step_key,
            position=0,
            status=StepStatus.SUCCEEDED,
            attempts=1,
            started_at=self.started_at,
            finished_at=now,
            output={"digest": self.digest.name},
        )
        RecordStep(self.run_id, self.owner, self.lease_seconds, record, RunStatus.SUCCEEDED).apply(
            conn
        )
        exists = select(_items.c.id).where(_items.c.run_id == self.run_id)
        if conn.execute(exists).first() is None:
            conn.execute(
                insert(_items).values(
                    id=new_id(),
                    flow_id=self.flow_id,
                    run_id=self.run_id,
                    item=self.item,
                    collected_at=now,
                )
            )
        count = self.digest.release.count
        if count is not None and pending_items(conn, self.flow_id) >= count:
            return _release(conn, self.flow_id, self.digest.name, "count", None, now)
        return None


@dataclass
class ReleaseDigest(Op[Released]):
    """Release a flow's digest: by hand (``tick`` is ``None``) or at a tick of its schedule.

    A tick's release is stored under the (flow, tick) key: a second scheduler releasing the
    same tick, or one whose insert loses that race, releases nothing.
    """

    flow_id: str
    name: str
    reason: str
    tick: float | None = None

    def apply(self, conn: Connection) -> Released:
        try:
            with conn.begin_nested():
                now = time.time()
                return _release(conn, self.flow_id, self.name, self.reason, self.tick, now)
        except integrity_errors(conn):
            # Another scheduler stored this tick's release between our look-up and our
            # insert; its savepoint rolled back, the items we took are waiting again.
            return Released(duplicate=True)
