"""Flows: save (checked), switch on and off, delete, and keep app registrations in line.

Saving, switching and deleting a flow on an app event (Particeep ``transaction_created``) ends
with the app's webhook registration brought in line (:meth:`Sources.refresh`): registered while
an enabled flow listens, removed when none does. The app's answer never blocks the change; a
refusal is shown with the flow.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from maillon.connectors.registry import Registry
from maillon.engine.errors import NotFound
from maillon.engine.flows import (
    AppEventTrigger,
    FlowDocument,
    FlowSpec,
    FlowValidationError,
    dump_yaml,
    field_warnings,
    load_yaml,
    parse_flow,
)
from maillon.engine.hooks import SourceKey, hook_url
from maillon.engine.ids import new_id
from maillon.engine.models import ConnectionRow, EventRow, FlowRow, SubscriptionRow
from maillon.engine.services.base import Service
from maillon.engine.services.connections import Connections
from maillon.engine.services.runs import events_of
from maillon.engine.services.sources import Sources
from maillon.engine.validation import problems

__all__ = ["FlowView", "Flows", "Imported"]

_NO_STEPS = "steps: add a step before switching the flow on"


@dataclass(frozen=True)
class Imported:
    """One document of an imported YAML file: the flow it saved, or why it was refused."""

    name: str
    view: FlowView | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FlowView:
    """A flow as stored, with where its events arrive."""

    row: FlowRow
    spec: FlowSpec
    #: A webhook flow's own URL; flows on app events share the app's (see ``subscription``).
    hook_url: str | None
    #: App triggers: the app's registration of the event URL, as last recorded.
    subscription: SubscriptionRow | None = None
    #: Fields templates read that the sample event (or an earlier step) lacks; given with a
    #: single flow, not in lists.
    warnings: list[str] = field(default_factory=list)

    @property
    def document(self) -> dict[str, Any]:
        """The flow as YAML or the API's JSON would hold it: definition plus ``enabled``."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        return {"name": spec.pop("name"), "enabled": self.row.enabled, **spec}


class Flows(Service):
    """Create, read, edit, switch and delete flows."""

    def __init__(
        self,
        db: Engine,
        registry: Registry,
        connections: Connections,
        sources: Sources,
        base_url: str,
    ) -> None:
        super().__init__(db)
        self._registry = registry
        self._connections = connections
        self._sources = sources
        self._base_url = base_url

    def _view(
        self,
        row: FlowRow,
        subscriptions: Mapping[SourceKey, SubscriptionRow],
        warnings: list[str] | None = None,
    ) -> FlowView:
        spec = parse_flow(row.id, row.version, row.definition)
        key = SourceKey.parse(row.source_key) if row.source_key else None
        return FlowView(
            row=row,
            spec=spec,
            hook_url=None if key else hook_url(self._base_url, row.hook_token),
            subscription=subscriptions.get(key) if key else None,
            warnings=warnings or [],
        )

    async def all(self, search: str | None = None) -> list[FlowView]:
        """Every flow (whose name contains ``search``, ignoring case), oldest first."""

        def read() -> list[FlowRow]:
            q = select(FlowRow).order_by(col(FlowRow.created_at))
            if search:
                q = q.where(col(FlowRow.name).icontains(search.strip()[:200], autoescape=True))
            with self.session() as s:
                return list(s.exec(q))

        rows = await self.sync(read)
        subs = await self._sources.subscriptions(
            SourceKey.parse(r.source_key) for r in rows if r.source_key
        )
        return [self._view(r, subs) for r in rows]

    async def names(self) -> dict[str, str]:
        """Every flow's name by id, in alphabetical order (for choosing a flow in a list)."""

        def read() -> dict[str, str]:
            with self.session() as s:
                rows = s.exec(select(FlowRow.id, FlowRow.name)).all()
            # Sorted here: databases disagree on how case sorts.
            return dict(sorted(rows, key=lambda row: (row[1].casefold(), row[0])))

        return await self.sync(read)

    async def get(self, flow_id: str) -> FlowView:
        """One flow, with its save-time warnings."""
        row = await self.sync(self._row, flow_id)
        return await self._full_view(row)

    async def _full_view(self, row: FlowRow) -> FlowView:
        keys = [SourceKey.parse(row.source_key)] if row.source_key else []
        subs = await self._sources.subscriptions(keys)
        return self._view(row, subs, await self.sync(self._warnings, row))

    def _row(self, flow_id: str) -> FlowRow:
        with self.session() as s:
            row = s.get(FlowRow, flow_id)
        if row is None:
            raise NotFound(f"no flow {flow_id}")
        return row

    async def save(
        self, doc: FlowDocument, flow_id: str | None = None, *, must_exist: bool = False
    ) -> FlowView:
        """Check and create (``flow_id`` unknown or ``None``) or replace a flow.

        ``must_exist``: refuse an unknown ``flow_id`` (:class:`NotFound`) instead of creating a
        flow under it. Raises :class:`~maillon.engine.flows.FlowValidationError` listing every
        problem.
        """
        spec = doc.spec
        spec.check(self._registry, await self._connections.names())
        if doc.enabled and not spec.steps:
            raise FlowValidationError([_NO_STEPS])
        row, before = await self.sync(self._write, spec, doc.enabled, flow_id, must_exist)
        await self._refresh(before, row.source_key)
        return await self._full_view(row)

    def _write(
        self, spec: FlowSpec, enabled: bool, flow_id: str | None, must_exist: bool
    ) -> tuple[FlowRow, str | None]:
        now = time.time()
        definition = spec.model_dump_json()
        with self.session(write=True) as s:
            key = _source_key(s, spec)
            row = s.get(FlowRow, flow_id) if flow_id else None
            if row is None and must_exist:
                raise NotFound(f"no flow {flow_id}")
            before = row.source_key if row else None
            if row is None:
                row = FlowRow(
                    id=flow_id or new_id(),
                    name=spec.name,
                    enabled=enabled,
                    hook_token=secrets.token_urlsafe(24),
                    source_key=key,
                    definition=definition,
                    created_at=now,
                    updated_at=now,
                )
            else:
                row.name, row.enabled, row.definition = spec.name, enabled, definition
                row.source_key = key
                row.version += 1
                row.updated_at = now
            s.add(row)
            s.commit()
        return row, before

    async def import_yaml(self, text: str) -> list[Imported]:
        """Create or update the flows of a YAML file (``---`` between documents; a document
        with an ``id`` updates that flow). Each document is saved or refused on its own.

        Raises :class:`Invalid` when the file is not YAML at all (with its line and column).
        """
        results = []
        for doc in load_yaml(text):
            flow_id = doc.pop("id", None)
            name = str(doc.get("name") or "(no name)")
            try:
                document = FlowDocument.model_validate(doc)
            except ValidationError as exc:
                results.append(Imported(name, problems=problems(exc)))
                continue
            try:
                view = await self.save(document, str(flow_id) if flow_id else None)
            except FlowValidationError as exc:
                results.append(Imported(name, problems=exc.problems))
                continue
            results.append(Imported(name, view=view))
        return results

    async def export_yaml(self, flow_id: str | None = None) -> str:
        """One flow (or every flow) as YAML, ready to import again."""
        views = [await self.get(flow_id)] if flow_id else await self.all()
        return dump_yaml([{"id": v.row.id, **v.document} for v in views])

    async def set_enabled(self, flow_id: str, enabled: bool) -> FlowView:
        """Switch a flow on or off (a flow that is off holds its events)."""

        def write() -> FlowRow:
            with self.session(write=True) as s:
                row = s.get(FlowRow, flow_id)
                if row is None:
                    raise NotFound(f"no flow {flow_id}")
                if enabled and not parse_flow(row.id, row.version, row.definition).steps:
                    raise FlowValidationError([_NO_STEPS])
                row.enabled = enabled
                row.updated_at = time.time()
                s.add(row)
                s.commit()
                return row

        row = await self.sync(write)
        await self._refresh(row.source_key)
        return await self._full_view(row)

    async def delete(self, flow_id: str) -> None:
        """Delete a flow; its events and runs stay as history, its queued runs fail."""

        def write() -> str | None:
            with self.session(write=True) as s:
                row = s.get(FlowRow, flow_id)
                if row is None:
                    raise NotFound(f"no flow {flow_id}")
                s.delete(row)
                s.commit()
                return row.source_key

        await self._refresh(await self.sync(write))

    async def resubscribe(self, flow_id: str) -> FlowView:
        """Try the app registration of a flow's trigger again (after a refusal)."""
        row = await self.sync(self._row, flow_id)
        await self._refresh(row.source_key)
        return await self._full_view(row)

    async def _refresh(self, *keys: str | None) -> None:
        for key in dict.fromkeys(k for k in keys if k):
            await self._sources.refresh(SourceKey.parse(key))

    def _warnings(self, row: FlowRow) -> list[str]:
        """Fields the flow's templates read that its sample event does not have.

        The sample is the app's catalog sample for app triggers, else the flow's latest event.
        """
        spec = parse_flow(row.id, row.version, row.definition)
        return field_warnings(spec, self._registry, self._sample(row, spec))

    def _sample(self, row: FlowRow, spec: FlowSpec) -> dict[str, Any] | None:
        sample: Any = None
        if isinstance(spec.trigger, AppEventTrigger):
            connector = self._registry.get(spec.trigger.type.partition(".")[0])
            trigger = connector.trigger_for(spec.trigger.event) if connector else None
            events = {e.name: e for e in trigger().events()} if trigger else {}
            if spec.trigger.event in events:
                sample = events[spec.trigger.event].sample
        else:
            with self.session() as s:
                newest = events_of(row.id).order_by(col(EventRow.id).desc()).limit(1)
                latest = s.exec(newest).first()
            sample = json.loads(latest.body) if latest else None
        return dict(sample) if isinstance(sample, Mapping) else None


def _source_key(s: Session, spec: FlowSpec) -> str | None:
    if not isinstance(spec.trigger, AppEventTrigger):
        return None
    conn = s.exec(select(ConnectionRow).where(ConnectionRow.name == spec.trigger.connection)).one()
    return str(SourceKey(conn.id, spec.trigger.event))
