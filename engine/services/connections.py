"""Saved connections: credentials and settings of app accounts, secrets sealed at rest.

Secrets are write-only: what leaves this service says which secret fields are set, never their
values (:meth:`Connections.values` is for engine code acting on the account's behalf). Every
change forgets the connection in the resolver's cache, so the next step uses it at once in this
process (other processes within the cache's few seconds).
"""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from maillon.connectors.base import ConnectionCheck, Connector
from maillon.connectors.errors import ConnectorError
from maillon.connectors.registry import Registry
from maillon.engine.connections import ConnectionResolver, split_secrets
from maillon.engine.crypto import SecretBox
from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.flows import AppEventTrigger, parse_flow
from maillon.engine.ids import new_id
from maillon.engine.models import ConnectionRow, FlowRow
from maillon.engine.services.base import Service
from maillon.engine.services.sources import Sources
from maillon.engine.validation import describe

__all__ = ["ConnectionField", "ConnectionView", "Connections", "UnknownField"]


@dataclass(frozen=True)
class ConnectionField:
    """A field of an app's connections, described in one line for people."""

    name: str
    #: The field's title and the first sentence of its description.
    summary: str
    secret: bool
    required: bool
    #: The value used when the field is not given (``None`` also for "no default").
    default: Any = None


class UnknownField(Invalid):
    """A connection was given fields its app does not have; ``choices`` are the ones it has."""

    def __init__(self, problems: list[str], choices: list[ConnectionField]) -> None:
        super().__init__(problems)
        self.choices = choices


@dataclass(frozen=True)
class ConnectionView:
    """A connection as it may be shown: settings, which secrets are set, where events arrive."""

    row: ConnectionRow
    config: dict[str, Any]
    secrets_set: list[str]
    #: Apps with triggers: events are posted to ``<hook_prefix><event name>``.
    hook_prefix: str | None


class Connections(Service):
    """List, save, delete and test connections."""

    def __init__(
        self,
        db: Engine,
        registry: Registry,
        box: SecretBox,
        resolver: ConnectionResolver,
        sources: Sources,
    ) -> None:
        super().__init__(db)
        self.registry = registry
        self._box = box
        self._resolver = resolver
        self._sources = sources

    def _view(self, row: ConnectionRow) -> ConnectionView:
        return ConnectionView(
            row=row,
            config=json.loads(row.config),
            secrets_set=sorted(self._box.open(row.secrets)),
            hook_prefix=self._sources.prefix(row),
        )

    def _find(self, s: Session, ref: str) -> ConnectionRow:
        row = (
            s.get(ConnectionRow, ref)
            or s.exec(select(ConnectionRow).where(ConnectionRow.name == ref)).first()
        )
        if row is None:
            raise NotFound(f"no connection {ref!r}")
        return row

    def connector(self, app: str) -> Connector:
        """The connector that defines connections of ``app`` (raises :class:`Invalid`)."""
        connectors = self.registry.for_kind(app)
        if not connectors:
            other = self.registry.get(app)
            if other is not None and other.connection_kind != app:
                raise Invalid(
                    [
                        f"{app} uses {other.connection_kind} connections: save the connection as "
                        f"app {other.connection_kind!r}"
                    ]
                )
            known = ", ".join(self.registry.kinds())
            raise Invalid([f"unknown app {app!r} (installed: {known})"])
        # Several connectors may share a kind (Gmail, Sheets, Calendar): one with triggers or
        # OAuth knows the most about the account.
        return next((c for c in connectors if c.triggers or c.oauth), connectors[0])

    async def fields(self, app: str) -> list[ConnectionField]:
        """The fields a connection of ``app`` takes, in the model's order."""
        return _fields(self.connector(app))

    def catalog(self) -> list[Connector]:
        """Every installed connector (the apps a connection or a step can use)."""
        return self.registry.all()

    async def all(self) -> list[ConnectionView]:
        """Every connection, by name."""

        def read() -> list[ConnectionView]:
            with self.session() as s:
                rows = s.exec(select(ConnectionRow).order_by(col(ConnectionRow.name))).all()
            return [self._view(r) for r in rows]

        return await self.sync(read)

    async def get(self, ref: str) -> ConnectionView:
        """One connection by id or name."""

        def read() -> ConnectionView:
            with self.session() as s:
                return self._view(self._find(s, ref))

        return await self.sync(read)

    async def names(self) -> dict[str, str]:
        """Connection name → app, for checking flows."""

        def read() -> dict[str, str]:
            with self.session() as s:
                return {r.name: r.app for r in s.exec(select(ConnectionRow))}

        return await self.sync(read)

    async def values(self, ref: str) -> dict[str, Any]:
        """A connection's settings and decrypted secrets, for engine code acting for it."""

        def read() -> dict[str, Any]:
            with self.session() as s:
                row = self._find(s, ref)
            return {**json.loads(row.config), **self._box.open(row.secrets)}

        return await self.sync(read)

    async def create(self, app: str, name: str, values: dict[str, Any]) -> ConnectionView:
        """Save a new connection (raises :class:`Invalid` or :class:`Conflict`)."""
        return await self.sync(self._save, app, name, values, None, True)

    async def update(
        self, ref: str, values: dict[str, Any], *, name: str | None = None, replace: bool = False
    ) -> ConnectionView:
        """Change a connection: values not given are kept, unless ``replace``."""
        return await self.sync(self._save, None, name, values, ref, replace)

    async def put(
        self, app: str, name: str, values: dict[str, Any], *, replace: bool = False
    ) -> ConnectionView:
        """Create the connection ``name``, or update it if it exists: values not given are
        kept, unless ``replace``."""
        return await self.sync(self._save, app, name, values, name, replace, True)

    def _save(
        self,
        app: str | None,
        name: str | None,
        values: dict[str, Any],
        ref: str | None,
        replace: bool,
        create_missing: bool = False,
    ) -> ConnectionView:
        now = time.time()
        with self.session(write=True) as s:
            row: ConnectionRow | None = None
            if ref is not None:
                try:
                    row = self._find(s, ref)
                except NotFound:
                    if not create_missing:
                        raise
            if row is not None and app is not None and app != row.app:
                raise Conflict(f"connection {row.name!r} is for {row.app}, not {app}")
            kind = row.app if row is not None else app
            assert kind is not None  # a new connection always names its app
            connector = self.connector(kind)
            merged = dict(values)
            if row is not None and not replace:
                merged = {**json.loads(row.config), **self._box.open(row.secrets), **values}
            try:
                public, secret = split_secrets(connector, merged)
            except ValidationError as exc:
                raise _refusal(kind, connector, exc) from exc
            new_name = name or (row.name if row is not None else "")
            clash = s.exec(select(ConnectionRow).where(ConnectionRow.name == new_name)).first()
            if clash is not None and (row is None or clash.id != row.id):
                raise Conflict(f"a connection named {new_name!r} exists")
            old_name = row.name if row is not None else None
            if row is None:
                row = ConnectionRow(
                    id=new_id(), name=new_name, app=kind, created_at=now, updated_at=now
                )
            elif new_name != row.name and _flows_using(s, row.name):
                raise Conflict(f"connection {row.name!r} is used by flows: cannot rename it")
            row.name, row.updated_at = new_name, now
            if connector.triggers and row.hook_token is None:
                row.hook_token = self._sources.new_token()
            row.config = json.dumps(public)
            row.secrets = self._box.seal(secret) if secret else ""
            s.add(row)
            s.commit()
        for changed in {old_name, new_name} - {None}:
            self._resolver.invalidate(changed)
        return self._view(row)

    async def delete(self, ref: str) -> None:
        """Delete a connection that no flow uses (raises :class:`Conflict` otherwise)."""

        def write() -> str:
            with self.session(write=True) as s:
                row = self._find(s, ref)
                for flow in _flows_using(s, row.name):
                    raise Conflict(f"flow {flow.name!r} ({flow.id}) uses connection {row.name!r}")
                s.delete(row)
                s.commit()
                return row.name

        self._resolver.invalidate(await self.sync(write))

    async def test(self, ref: str) -> ConnectionCheck:
        """Ask the app whether the connection's credentials work."""
        view = await self.get(ref)
        connector = next((c for c in self.registry.for_kind(view.row.app) if c.check), None)
        if connector is None or connector.check is None:
            return ConnectionCheck(ok=False, message=f"{view.row.app} offers no connection test")
        try:
            conn = connector.connection.model_validate(await self.values(view.row.id))
            return await connector.check(conn)
        except ValidationError as exc:
            return ConnectionCheck(ok=False, message=f"incomplete connection: {describe(exc)}")
        except ConnectorError as exc:
            return ConnectionCheck(ok=False, message=exc.message)


def _fields(connector: Connector) -> list[ConnectionField]:
    model = connector.connection
    secret = model.secret_fields()
    out = []
    for name, info in model.model_fields.items():
        description = re.split(r"(?<=[.!?])\s+(?=[A-Z])", (info.description or "").strip())[0]
        summary = ": ".join(part for part in (info.title, description) if part) or name
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        out.append(ConnectionField(name, summary, name in secret, required, default or None))
    return out


def _refusal(app: str, connector: Connector, exc: ValidationError) -> Invalid:
    """Why values do not make a connection; fields the app lacks come with the ones it has."""
    choices = _fields(connector)
    names = [f.name for f in choices]
    unknown = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"]
    if not unknown:
        return Invalid([describe(exc)])
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{app} connections have no field {name!r}{hint}")
    return UnknownField([*problems, f"the fields are: {', '.join(names)}"], choices)


def _flows_using(s: Session, name: str) -> list[FlowRow]:
    using = []
    for flow in s.exec(select(FlowRow)):
        spec = parse_flow(flow.id, flow.version, flow.definition)
        names = {step.connection for step in spec.steps}
        if isinstance(spec.trigger, AppEventTrigger):
            names.add(spec.trigger.connection)
        if name in names:
            using.append(flow)
    return using
