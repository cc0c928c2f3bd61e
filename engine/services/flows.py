"""Flows: save (checked), publish, switch on and off, delete, and keep app registrations in
line.

A flow has a published version, the one runs take, and perhaps a draft: the unpublished
changes. Editing (the editor's saves, ``PUT .../draft``, ``flows import``) writes the draft;
:meth:`Flows.publish` makes it the next published version in one transaction, kept in
``flow_versions`` with its author, time and note. A run records the version it was created
with and executes that one (see :mod:`maillon.engine.queue`), so a publish changes no run
already created, in any process. A new flow is published as version 1 at once: nothing runs
it yet, so there is nothing to protect, and its hook URL works from the start.

Every save, switch and deletion also tells this process's scheduler (``changed``), so that a
schedule added, edited or removed here takes effect at once; schedulers in other processes read
the flows again on their own, shortly.

Publishing, switching and deleting a flow on an app event (Particeep ``transaction_created``)
ends with the app's webhook registration brought in line (:meth:`Sources.refresh`): registered
while an enabled flow listens, removed when none does. A draft changes no registration: a
changed trigger moves the subscription when it is published. The app's answer never blocks the
change; a refusal is shown with the flow.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from maillon.connectors.registry import Registry
from maillon.engine import secret_inputs
from maillon.engine.crypto import SecretBox
from maillon.engine.digests import DIGEST_SOURCE, forget_digest, release_example
from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.failures import SAMPLE_EVENT
from maillon.engine.flows import (
    AppEventTrigger,
    FlowDocument,
    FlowSpec,
    FlowValidationError,
    RunFailedTrigger,
    WebhookTrigger,
    dump_yaml,
    field_warnings,
    load_yaml,
    parse_document,
    parse_flow,
)
from maillon.engine.hooks import SourceKey, hook_url
from maillon.engine.i18n import N_, use_locale
from maillon.engine.i18n import gettext as _
from maillon.engine.ids import new_id
from maillon.engine.metrics import Metrics
from maillon.engine.models import (
    ConnectionRow,
    EventRow,
    FlowRow,
    FlowVersionRow,
    RunRow,
    RunStatus,
    SubscriptionRow,
)
from maillon.engine.schedules import ScheduleTrigger, tick_example
from maillon.engine.services.base import Actor, Service, actor_name, find_flow
from maillon.engine.services.connections import Connections
from maillon.engine.services.runs import Runs, cancel_runs, events_of
from maillon.engine.services.sources import Sources
from maillon.engine.validation import too_long
from maillon.engine.versions import Change, diff_specs

__all__ = ["DRAFT", "MAX_NOTE", "Deleted", "FlowView", "Flows", "Imported", "VersionRef"]

_NO_STEPS = N_("add a step before switching the flow on")
_PUBLISH_STEPS = N_("publish the flow's steps before switching it on")

#: Names the draft where a version number is expected (a diff's side, an export).
DRAFT = "draft"

#: A version of a flow: its number, or :data:`DRAFT`.
VersionRef = int | str


@dataclass(frozen=True)
class Imported:
    """One document of an imported YAML file: the flow it saved, or why it was refused."""

    name: str
    view: FlowView | None = None
    problems: list[str] = field(default_factory=list)
    #: Whether the document made a new flow (rather than updating one).
    created: bool = False
    #: Whether the document was published (a new flow always is); else it is the flow's draft.
    published: bool = False
    #: Whether the document named its flow by ``id``: then it saves that flow whatever the
    #: import's ``match_names`` (a copy is made only of a document without an id).
    by_id: bool = False


@dataclass(frozen=True)
class FlowView:
    """A flow as stored, with where its events arrive."""

    row: FlowRow
    spec: FlowSpec
    #: A webhook flow's own URL; flows on app events share the app's (see ``subscription``),
    #: and flows on a schedule have none.
    hook_url: str | None
    #: App triggers: the app's registration of the event URL, as last recorded.
    subscription: SubscriptionRow | None = None
    #: Fields templates read that the sample event (or an earlier step) lacks; given with a
    #: single flow, not in lists.
    warnings: list[str] = field(default_factory=list)
    #: The unpublished changes, as shown (``None``: the draft is the published version).
    draft: FlowSpec | None = None

    @property
    def editing(self) -> FlowSpec:
        """What the editor shows: the draft, else the published version."""
        return self.draft or self.spec

    @property
    def trigger_unpublished(self) -> bool:
        """Whether the draft starts the flow otherwise than the published version does (what
        fires, and Run now, are still the published version's)."""
        return self.draft is not None and self.draft.trigger != self.spec.trigger

    @property
    def state(self) -> str:
        """``enabled``, ``disabled``, or ``paused``: see :attr:`FlowRow.state`."""
        return self.row.state

    @property
    def document(self) -> dict[str, Any]:
        """The published flow as YAML or the API's JSON would hold it: definition plus
        ``enabled``."""
        return self.document_of(self.spec)

    def document_of(self, spec: FlowSpec) -> dict[str, Any]:
        """``spec`` (the published version, or the draft) as a document of this flow."""
        dumped = spec.model_dump(mode="json", exclude_none=True)
        return {"name": dumped.pop("name"), "enabled": self.row.enabled, **dumped}


@dataclass(frozen=True)
class Deleted:
    """A flow deleted: its row as it was, and how many of its runs were cancelled."""

    row: FlowRow
    cancelled: int


class Flows(Service):
    """Create, read, edit, switch and delete flows."""

    def __init__(
        self,
        db: Engine,
        registry: Registry,
        connections: Connections,
        sources: Sources,
        runs: Runs,
        base_url: str,
        box: SecretBox,
        metrics: Metrics,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(db)
        self._box = box
        self._metrics = metrics
        self._registry = registry
        self._connections = connections
        self._sources = sources
        self._runs = runs
        self._base_url = base_url
        self._changed = changed

    def _view(
        self,
        row: FlowRow,
        subscriptions: Mapping[SourceKey, SubscriptionRow],
        warnings: list[str] | None = None,
    ) -> FlowView:
        # Secret inputs written in the flow are sealed at rest and never shown.
        spec = secret_inputs.shown(parse_flow(row.id, row.version, row.definition))
        key = SourceKey.parse(row.source_key) if row.source_key else None
        own_url = not key and not row.error_flow
        return FlowView(
            row=row,
            spec=spec,
            hook_url=hook_url(self._base_url, row.hook_token)
            if own_url and isinstance(spec.trigger, WebhookTrigger)
            else None,
            subscription=subscriptions.get(key) if key else None,
            warnings=warnings or [],
            draft=secret_inputs.shown(_draft_spec(row)) if row.draft is not None else None,
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

    async def paused(self) -> list[FlowRow]:
        """The flows Maillon paused after too many failed runs in a row, latest first."""

        def read() -> list[FlowRow]:
            with self.session() as s:
                q = select(FlowRow).where(col(FlowRow.paused_at).is_not(None))
                return list(s.exec(q.order_by(col(FlowRow.paused_at).desc())))

        return await self.sync(read)

    async def names(self) -> dict[str, str]:
        """Every flow's name by id, in alphabetical order (for choosing a flow in a list)."""

        def read() -> dict[str, str]:
            with self.session() as s:
                rows = s.exec(select(FlowRow.id, FlowRow.name)).all()
            # Sorted here: databases disagree on how case sorts.
            return dict(sorted(rows, key=lambda row: (row[1].casefold(), row[0])))

        return await self.sync(read)

    async def runnable(self, spec: FlowSpec, flow_id: str | None) -> FlowSpec:
        """``spec`` as shown (perhaps edited), with the secret inputs the saved flow
        ``flow_id`` holds in place of their masks: for running its steps.

        Raises :class:`~maillon.engine.flows.FlowValidationError` for a mask whose step would
        send the value elsewhere than the saved flow does (see
        :mod:`maillon.engine.secret_inputs`)."""
        if flow_id is None:
            return spec

        def read() -> FlowRow | None:
            with self.session() as s:
                return s.get(FlowRow, flow_id)

        row = await self.sync(read)
        if row is None:
            return spec
        return secret_inputs.restore(spec, _editing_spec(row), self._registry)

    async def get(self, ref: str) -> FlowView:
        """One flow, by id or by name (see :func:`find_flow`), with its save-time warnings."""
        row = await self.sync(self._row, ref)
        return await self._full_view(row)

    async def _full_view(self, row: FlowRow) -> FlowView:
        keys = [SourceKey.parse(row.source_key)] if row.source_key else []
        subs = await self._sources.subscriptions(keys)
        return self._view(row, subs, await self.sync(self._warnings, row))

    def _row(self, ref: str) -> FlowRow:
        with self.session() as s:
            return find_flow(s, ref)

    async def save(
        self,
        doc: FlowDocument,
        flow_id: str | None = None,
        *,
        must_exist: bool = False,
        author: Actor = None,
        note: str | None = None,
    ) -> FlowView:
        """Check and create (``flow_id`` unknown or ``None``) or replace a flow, and publish
        it: in one step what :meth:`save_draft` then :meth:`publish` do. The flow's draft, if
        it had one, is replaced too. ``enabled`` is applied.

        A flow is published only when its definition changed: saving the published flow again
        makes no new version. ``must_exist``: refuse an unknown ``flow_id`` (:class:`NotFound`)
        instead of creating a flow under it. Raises
        :class:`~maillon.engine.flows.FlowValidationError` listing every problem.
        """
        doc.check(self._registry, await self._connections.names())
        view, _ = await self._store(
            doc, flow_id, must_exist, publish=True, author=author, note=note
        )
        return view

    async def save_draft(
        self, doc: FlowDocument, flow_id: str, *, author: Actor = None
    ) -> FlowView:
        """Check ``doc`` and keep it as the draft of the existing flow ``flow_id``; the
        published version, and so every run, is untouched until :meth:`publish`.

        ``doc.enabled`` is not applied: switching a flow on or off is not an edit (see
        :meth:`set_enabled`). A draft equal to the published version is no draft.
        """
        doc.check(self._registry, await self._connections.names())
        view, _ = await self._store(doc, flow_id, True, publish=False, author=author)
        return view

    async def _store(
        self,
        doc: FlowDocument,
        flow_id: str | None,
        must_exist: bool = False,
        *,
        publish: bool,
        author: Actor = None,
        note: str | None = None,
    ) -> tuple[FlowView, bool]:
        """Write a checked flow (a new one is always published); return its view and whether
        it was created."""
        spec = doc.spec
        written = await self.sync(
            self._write, spec, doc.enabled, flow_id, must_exist, publish, author, note
        )
        row, before, created = written
        if publish or created:  # a draft changes nothing that runs
            self._changed()
            await self._refresh(before, row.source_key)
        return await self._full_view(row), created

    def _write(
        self,
        spec: FlowSpec,
        enabled: bool,
        flow_id: str | None,
        must_exist: bool,
        publish: bool,
        author: Actor,
        note: str | None,
    ) -> tuple[FlowRow, str | None, bool]:
        now = time.time()
        with self.session(write=True) as s:
            # Locked (PostgreSQL): two publishes at once number their versions one after the
            # other instead of both taking the next number.
            row = s.get(FlowRow, flow_id, with_for_update=True) if flow_id else None
            if row is None and must_exist:
                raise NotFound(_("no flow %(ref)s", ref=flow_id))
            spec = secret_inputs.seal(
                spec, self._registry, self._box, _editing_spec(row) if row else None
            )
            definition = spec.model_dump_json()
            if row is None:
                row = FlowRow(
                    id=flow_id or new_id(),
                    name=spec.name,
                    enabled=enabled,
                    hook_token=secrets.token_urlsafe(24),
                    definition=definition,
                    created_at=now,
                    updated_at=now,
                )
                _publish(s, row, definition, author, note, now, first=True)
                s.commit()
                return row, None, True
            before = row.source_key
            _keep_draft(s, row, definition, author, now)
            if publish:
                if enabled and not row.enabled:
                    _switched_on(row)
                row.enabled = enabled
                if row.draft is not None:
                    _publish(s, row, row.draft, author, note, now)
                elif enabled and not parse_flow(row.id, row.version, row.definition).steps:
                    raise FlowValidationError(["steps: " + _(_NO_STEPS)])
                row.updated_at = now
            s.add(row)
            s.commit()
        return row, before, False

    async def publish(self, ref: str, *, author: Actor = None, note: str | None = None) -> FlowView:
        """Make a flow's draft its next published version, at once for every process: runs
        created from then on take it, runs created before keep theirs. A changed app trigger
        moves the app's registration now.

        Raises :class:`Conflict` when the flow has no draft, and
        :class:`~maillon.engine.flows.FlowValidationError` when the draft no longer passes the
        save checks (a connection it names was deleted since).
        """
        known = await self._connections.names()

        def write() -> tuple[FlowRow, str | None]:
            with self.session(write=True) as s:
                row = find_flow(s, ref)
                s.refresh(row, with_for_update=True)  # as in _write: one publish at a time
                if row.draft is None:
                    raise Conflict(
                        _("“%(name)s” has no unpublished changes to publish", name=row.name)
                    )
                # Checked again: a connection the draft names may have been deleted since.
                _draft_spec(row).check(self._registry, known)
                before = row.source_key
                _publish(s, row, row.draft, author, note, time.time())
                s.commit()
                return row, before

        published, before = await self.sync(write)
        self._changed()
        await self._refresh(before, published.source_key)
        return await self._full_view(published)

    async def discard_draft(self, ref: str) -> FlowView:
        """Drop a flow's unpublished changes: the editor shows the published version again."""

        def write() -> FlowRow:
            with self.session(write=True) as s:
                row = find_flow(s, ref)
                row.draft = row.draft_author = row.draft_saved_at = None
                s.add(row)
                s.commit()
                return row

        return await self._full_view(await self.sync(write))

    async def history(self, ref: str) -> tuple[FlowView, list[FlowVersionRow]]:
        """A flow and its published versions, newest first (the live one is the first)."""
        row = await self.sync(self._row, ref)

        def read() -> list[FlowVersionRow]:
            with self.session() as s:
                q = select(FlowVersionRow).where(FlowVersionRow.flow_id == row.id)
                return list(s.exec(q.order_by(col(FlowVersionRow.version).desc())))

        return await self._full_view(row), await self.sync(read)

    async def version(self, ref: str, number: int) -> tuple[FlowView, FlowVersionRow, FlowSpec]:
        """A flow, one of its published versions, and that version's definition as shown.
        Raises :class:`NotFound` for an unknown version."""
        row = await self.sync(self._row, ref)
        stored = await self.sync(self._stored_version, row, number)
        spec = parse_flow(row.id, number, stored.definition)
        return await self._full_view(row), stored, secret_inputs.shown(spec)

    def _stored_version(self, row: FlowRow, version: VersionRef) -> FlowVersionRow:
        """One published version of the flow ``row``; :class:`NotFound` for an unknown one."""
        number = _version_number(version)
        stored = None
        if 0 < number <= _MAX_VERSION:  # past it, no database could even compare it
            with self.session() as s:
                stored = s.get(FlowVersionRow, (row.id, number))
        if stored is None:
            raise NotFound(
                _("“%(name)s” has no version %(version)s", name=row.name, version=number)
            )
        return stored

    def _version_spec(self, row: FlowRow, version: VersionRef) -> FlowSpec:
        """A version of the flow (a number, or :data:`DRAFT`: its draft, else its published
        version), as stored."""
        if version == DRAFT:
            return _editing_spec(row)
        stored = self._stored_version(row, version)
        return parse_flow(row.id, stored.version, stored.definition)

    async def diff(self, ref: str, before: VersionRef, after: VersionRef = DRAFT) -> list[Change]:
        """What changed from version ``before`` to ``after`` (numbers, or :data:`DRAFT`)."""
        row = await self.sync(self._row, ref)
        old = await self.sync(self._version_spec, row, before)
        new = await self.sync(self._version_spec, row, after)
        return diff_specs(secret_inputs.shown(old), secret_inputs.shown(new))

    async def restore(self, ref: str, version: int, *, author: Actor = None) -> FlowView:
        """Make a published version the flow's draft again (to publish, or edit first); the
        live version is untouched until the draft is published."""
        row = await self.sync(self._row, ref)
        stored = await self.sync(self._stored_version, row, version)

        def write() -> FlowRow:
            with self.session(write=True) as s:
                current = find_flow(s, row.id)
                # The text as published: restoring the live version leaves no draft.
                _keep_draft(s, current, stored.definition, author, time.time())
                s.add(current)
                s.commit()
                return current

        return await self._full_view(await self.sync(write))

    async def import_yaml(
        self,
        text: str,
        *,
        match_names: bool = True,
        publish: bool = False,
        author: Actor = None,
        note: str | None = None,
    ) -> list[Imported]:
        """Create or update the flows of a YAML file (``---`` between documents). Each document
        is saved or refused on its own.

        A new flow is created published (version 1). A document for an existing flow becomes
        its draft, to review and publish, unless ``publish``: then it is published at once (a
        new version, with ``note``, when it differs from the published one) and its
        ``enabled`` is applied; a draft's ``enabled`` is not (see :meth:`save_draft`).

        Which flow a document saves: the one whose ``id`` it gives (an exported flow; created
        under that id if this install has none); else, with ``match_names``, the one flow
        named as the document is (so that importing an edited file again updates the flow,
        keeping its hook URL); else a new flow. A name that several flows share is refused:
        the document must then give the id of the one to update.

        Raises :class:`Invalid` when the file is not YAML at all (with its line and column),
        or holds no flow (it is empty, or comments only).
        """
        docs = load_yaml(text)
        if not docs:
            raise Invalid([_("the file holds no flow")])
        known = await self._connections.names()
        by_name = await self.sync(self._ids_by_name) if match_names else {}
        named_here: set[str] = set()
        results = []
        for doc in docs:
            flow_id = doc.pop("id", None)
            by_id = bool(flow_id)
            name = str(doc.get("name") or "(no name)")
            try:
                document = parse_document(doc, self._registry, known)
            except FlowValidationError as exc:
                results.append(Imported(name, problems=exc.problems))
                continue
            if flow_id is None and match_names:
                if document.name in named_here:
                    problem = f"name: another flow of this file is named {document.name!r}"
                    results.append(Imported(name, problems=[problem]))
                    continue
                named_here.add(document.name)
                ids = by_name.get(document.name, [])
                if len(ids) > 1:
                    problem = (
                        f"name: {len(ids)} flows are named {document.name!r} ({', '.join(ids)}): "
                        "give the id of the one to update"
                    )
                    results.append(Imported(name, problems=[problem]))
                    continue
                flow_id = ids[0] if ids else None
            try:
                view, created = await self._store(
                    document,
                    str(flow_id) if flow_id else None,
                    publish=publish,
                    author=author,
                    note=note,
                )
            except FlowValidationError as exc:
                results.append(Imported(name, problems=exc.problems))
                continue
            results.append(
                Imported(
                    name,
                    view=view,
                    created=created,
                    published=created or publish,
                    by_id=by_id,
                )
            )
        return results

    async def check_document(self, raw: Mapping[str, Any]) -> FlowDocument:
        """Read and check a flow as people write it, without saving it.

        Raises :class:`~maillon.engine.flows.FlowValidationError` listing every problem.
        """
        return parse_document(raw, self._registry, await self._connections.names())

    async def named(self, name: str) -> str | None:
        """The id of the one flow named ``name``, if exactly one is."""

        def read() -> str | None:
            with self.session() as s:
                ids = s.exec(select(FlowRow.id).where(FlowRow.name == name).limit(2)).all()
            return ids[0] if len(ids) == 1 else None

        return await self.sync(read)

    def _ids_by_name(self) -> dict[str, list[str]]:
        with self.session() as s:
            rows = s.exec(select(FlowRow.name, FlowRow.id).order_by(col(FlowRow.created_at)))
            ids: dict[str, list[str]] = {}
            for name, flow_id in rows:
                ids.setdefault(name, []).append(flow_id)
        return ids

    async def export_yaml(self, ref: str | None = None, *, draft: bool = False) -> str:
        """One flow (by id or name), or every flow, as YAML, ready to import again: the
        published versions, or with ``draft`` each flow's draft where it has one."""
        views = [await self.get(ref)] if ref else await self.all()
        return dump_yaml(
            [{"id": v.row.id, **v.document_of(v.editing if draft else v.spec)} for v in views]
        )

    async def set_enabled(self, ref: str, enabled: bool) -> FlowView:
        """Switch a flow (by id or name) on or off (a flow that is off holds its events).

        Either ends a pause: switched on, the flow counts its failures afresh (its held runs
        stay held until released, or use :meth:`resume`); switched off, it is off like any
        other flow.
        """

        def write() -> FlowRow:
            with self.session(write=True) as s:
                row = find_flow(s, ref)
                if enabled and not parse_flow(row.id, row.version, row.definition).steps:
                    unpublished = row.draft is not None and _draft_spec(row).steps
                    raise FlowValidationError(
                        ["steps: " + _(_PUBLISH_STEPS if unpublished else _NO_STEPS)]
                    )
                if enabled and not row.enabled:
                    _switched_on(row)
                row.enabled = enabled
                row.paused_at = None
                row.updated_at = time.time()
                s.add(row)
                s.commit()
                return row

        row = await self.sync(write)
        self._changed()
        await self._refresh(row.source_key)
        return await self._full_view(row)

    async def resume(self, ref: str) -> tuple[FlowView, int]:
        """Switch a flow (paused, or off) on and queue the runs it held; return it and how
        many runs were queued."""
        view = await self.set_enabled(ref, True)
        return view, await self._runs.release_held(view.row.id)

    async def delete(self, ref: str) -> Deleted:
        """Delete a flow (by id or name) and say what it was; its events and runs stay as
        history, the items its digest collected are dropped. Its runs that no worker holds
        (queued, waiting, retrying, held) are cancelled: they would fail whenever they came
        due, maybe days later, with alerts for a flow nobody has any more. A run in progress
        fails at its next step (the flow's versions go with it)."""

        def write() -> Deleted:
            with self.session(write=True) as s:
                row = find_flow(s, ref)
                with use_locale(self._runs.locale):
                    reason = _("cancelled: its flow was deleted")
                cancelled = cancel_runs(s, col(RunRow.flow_id) == row.id, reason)
                s.delete(row)
                s.exec(delete(FlowVersionRow).where(col(FlowVersionRow.flow_id) == row.id))
                forget_digest(s.connection(), row.id)
                s.commit()
                return Deleted(row, cancelled)

        deleted = await self.sync(write)
        if deleted.cancelled:
            self._metrics.run_finished(RunStatus.CANCELLED, deleted.cancelled)
        self._changed()
        await self._refresh(deleted.row.source_key)
        return deleted

    async def resubscribe(self, ref: str) -> FlowView:
        """Try the app registration of a flow's trigger again (after a refusal)."""
        row = await self.sync(self._row, ref)
        await self._refresh(row.source_key)
        return await self._full_view(row)

    async def _refresh(self, *keys: str | None) -> None:
        for key in dict.fromkeys(k for k in keys if k):
            await self._sources.refresh(SourceKey.parse(key))

    def _warnings(self, row: FlowRow) -> list[str]:
        """Fields the templates of the flow as edited (its draft, else its published version)
        read that its sample event does not have, and for an error flow, the flows it names
        that do not exist (a file may create them later).

        The sample is the app's catalog sample for app triggers, an example failure for error
        flows, else the flow's latest event.
        """
        spec = _editing_spec(row)  # what was saved last: the draft, else the published flow
        warnings = []
        if isinstance(spec.trigger, RunFailedTrigger) and spec.trigger.flows:
            with self.session() as s:
                known = {ref for pair in s.exec(select(FlowRow.id, FlowRow.name)) for ref in pair}
            warnings = [
                "trigger.flows: "
                + _("no flow is named %(name)r: its failures would start this flow", name=name)
                for name in spec.trigger.flows
                if name not in known
            ]
        return warnings + field_warnings(spec, self._registry, self._sample(row, spec))

    def _sample(self, row: FlowRow, spec: FlowSpec) -> dict[str, Any] | None:
        """The catalog sample of an app trigger, else the flow's latest event, else a tick of
        its schedule; for a digest flow, a release of it (unless it is a release already)."""
        sample: Any = None
        if isinstance(spec.trigger, RunFailedTrigger):
            return SAMPLE_EVENT
        released = False
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
            released = latest is not None and latest.source == DIGEST_SOURCE
        if sample is None and isinstance(spec.trigger, ScheduleTrigger):
            sample = tick_example(spec.trigger, time.time())
        if spec.digest is not None and sample is not None and not released:
            sample = release_example(spec.digest, sample)
        return dict(sample) if isinstance(sample, Mapping) else None


def _draft_spec(row: FlowRow) -> FlowSpec:
    """The flow's draft, parsed (drafts are read by the editor alone: not cached)."""
    assert row.draft is not None
    return FlowSpec.model_validate_json(row.draft)


def _editing_spec(row: FlowRow) -> FlowSpec:
    """The flow's draft, else its published version: what an edit starts from."""
    return (
        _draft_spec(row)
        if row.draft is not None
        else parse_flow(row.id, row.version, row.definition)
    )


def _keep_draft(s: Session, row: FlowRow, definition: str, author: Actor, now: float) -> None:
    """Keep ``definition`` as the flow's draft; one equal to the published version is none."""
    if definition == row.definition:
        row.draft = row.draft_author = row.draft_saved_at = None
    else:
        row.draft, row.draft_saved_at = definition, now
        row.draft_author = actor_name(s, author)


#: The longest note a published version keeps (the words of its author, so said, not cut).
MAX_NOTE = 2000


def _publish(
    s: Session,
    row: FlowRow,
    definition: str,
    author: Actor,
    note: str | None,
    now: float,
    *,
    first: bool = False,
) -> None:
    """Make ``definition`` the flow's next published version (its first: version 1), with
    everything read from the published version: name, app trigger key, error-flow flag."""
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        # Said, not cut: the note is the author's own words about the version.
        raise Invalid([_("note: %(reason)s", reason=too_long(MAX_NOTE))])
    spec = FlowSpec.model_validate_json(definition)
    if row.enabled and not spec.steps:
        # A flow that is on runs what is published: it must have something to run.
        raise FlowValidationError(["steps: " + _(_NO_STEPS)])
    if not first:
        row.version += 1
    row.definition, row.name = definition, spec.name
    row.source_key = _source_key(s, spec)
    row.error_flow = isinstance(spec.trigger, RunFailedTrigger)
    row.draft = row.draft_author = row.draft_saved_at = None
    row.updated_at = now
    s.add(row)
    s.add(
        FlowVersionRow(
            flow_id=row.id,
            version=row.version,
            definition=definition,
            author=actor_name(s, author),
            note=note,
            published_at=now,
        )
    )


#: The highest version number a flow can have (a 32-bit column's).
_MAX_VERSION = 2**31 - 1


def _version_number(version: VersionRef) -> int:
    """``version`` as a number; :class:`NotFound` for text that is none."""
    if isinstance(version, int):
        return version
    # ASCII digits only: str.isdigit() takes "²" too, which int() refuses.
    if version.isascii() and version.isdigit() and len(version) <= 10:
        return int(version)
    raise NotFound(
        _(
            "no version %(version)r: give a version number, or %(draft)s",
            version=version,
            draft=DRAFT,
        )
    )


def _switched_on(row: FlowRow) -> None:
    """A flow switched on counts its failures in a row afresh (it was fixed, or resumed)."""
    row.failures_in_row = 0
    row.paused_at = None


def _source_key(s: Session, spec: FlowSpec) -> str | None:
    if not isinstance(spec.trigger, AppEventTrigger):
        return None
    conn = s.exec(select(ConnectionRow).where(ConnectionRow.name == spec.trigger.connection)).one()
    return str(SourceKey(conn.id, spec.trigger.event))
