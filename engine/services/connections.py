"""Saved connections: credentials and settings of app accounts, secrets sealed at rest.

Secrets are write-only: what leaves this service says which secret fields are set, never their
values (:meth:`Connections.values` is for engine code acting on the account's behalf). Every
change forgets the connection in the resolver's cache, so the next step uses it at once in this
process (other processes within the cache's few seconds).

A connection as shown (:class:`ConnectionView`) also says what a person deciding about it
needs: which flows use it, how its last test went, and for app accounts with triggers, where
their events arrive and whether the app was told to send them.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from maillon.connectors.base import Connection, Connector
from maillon.connectors.errors import ConnectorError
from maillon.connectors.oauth import OAuth2
from maillon.connectors.registry import Registry
from maillon.engine import secret_inputs
from maillon.engine.connections import (
    ConnectionResolver,
    changed_places,
    destination_fields,
    join_secrets,
    moved_destinations,
    split_secrets,
    url_problems,
)
from maillon.engine.crypto import SecretBox
from maillon.engine.db import storable
from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.flows import AppEventTrigger, FlowSpec, WebhookTrigger, parse_flow
from maillon.engine.i18n import gettext as _
from maillon.engine.ids import looks_like_id, new_id
from maillon.engine.models import ConnectionRow, FlowRow, FlowVersionRow, SubscriptionRow
from maillon.engine.oauth import Refresh
from maillon.engine.redaction import Redactor
from maillon.engine.services.base import Service
from maillon.engine.services.sources import Sources
from maillon.engine.validation import describe, invalid

__all__ = [
    "App",
    "ConnectionField",
    "ConnectionView",
    "Connections",
    "FlowUse",
    "LastCheck",
    "UnknownField",
    "check_name",
]

#: The longest connection name (the column's size).
MAX_NAME = 200


@dataclass(frozen=True)
class LastCheck:
    """The outcome of a connection's test: whether the app took the credentials, and when."""

    #: ``None``: nothing could be tested without a side effect (``message`` says why).
    ok: bool | None
    #: What the app said, in words for people.
    message: str
    at: float
    #: The connection was changed after the test, which may no longer hold.
    stale: bool = False


@dataclass(frozen=True)
class FlowUse:
    """A flow that names a connection (in a step, or as its trigger's app account)."""

    id: str
    name: str
    enabled: bool
    #: Only its unpublished draft names the connection (publishing it will need it).
    draft_only: bool = False


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
    """A connection was given fields its app does not have.

    ``unknown`` maps each such field to what is said about it (a close name, when there is
    one); ``choices`` are the fields the app has, for a caller to show.
    """

    def __init__(
        self,
        problems: list[str],
        fields: dict[str, str],
        unknown: dict[str, str],
        choices: list[ConnectionField],
    ) -> None:
        super().__init__(problems, fields)
        self.unknown = unknown
        self.choices = choices


@dataclass(frozen=True)
class ConnectionView:
    """A connection as it may be shown: settings, which secrets are set, where events arrive."""

    row: ConnectionRow
    config: dict[str, Any]
    secrets_set: list[str]
    #: Apps with triggers: events are posted to ``<hook_prefix><event name>``.
    hook_prefix: str | None
    #: ``None`` until the connection is first tested.
    last_check: LastCheck | None = None
    #: The flows that name it, by name: while there are any, it cannot be deleted or renamed.
    used_by: tuple[FlowUse, ...] = ()
    #: Apps with triggers: what the app was last told (or refused) per event.
    registrations: tuple[SubscriptionRow, ...] = ()
    #: Of a save: the flows whose steps' secret inputs it dropped, as the connection now sends
    #: elsewhere than when they were given (see :mod:`maillon.engine.secret_inputs`); they must
    #: be given again in those flows.
    secret_inputs_dropped: tuple[FlowUse, ...] = ()
    #: Of a save: the flows where only versions kept for replays held such secret inputs:
    #: their runs replay with the current version now (a kept version is never edited).
    older_versions_dropped: tuple[FlowUse, ...] = ()


@dataclass(frozen=True)
class App:
    """A kind of connection that can be saved, as a person chooses it ("Google", "Slack")."""

    kind: str
    title: str
    description: str
    #: The model of its connections: its fields make the form.
    connection: type[Connection]
    #: Titles of the connectors whose steps use these connections (Gmail, Google Sheets, ...).
    connectors: tuple[str, ...]
    #: How accounts connect with OAuth 2.0, when they can.
    oauth: OAuth2 | None
    #: Whether "test connection" can ask the app about the credentials.
    testable: bool
    #: Whether its accounts send events to flows (they get a hook prefix).
    sends_events: bool


def check_name(name: str) -> str:
    """A connection name as stored (trimmed), or :class:`Invalid` saying what is wrong.

    Flows name connections, and the API and the UI put the name in URLs: one path segment,
    hence no ``/``.
    """
    name = name.strip()
    problem = None
    if not name:
        problem = _("give the connection a name, e.g. team-slack")
    elif len(name) > MAX_NAME:
        problem = _("at most %(max)s characters", max=MAX_NAME)
    elif "/" in name or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        problem = _("a name cannot contain “/” or control characters")
    elif name in (".", "..") or looks_like_id(name):
        # In a URL, or looked up by id or name, such a name would reach something else.
        problem = _("a name cannot be “.”, “..” or shaped like an id")
    if problem:
        raise Invalid([], {"name": problem})
    return name


class Connections(Service):
    """List, save, delete and test connections."""

    def __init__(
        self,
        db: Engine,
        registry: Registry,
        box: SecretBox,
        resolver: ConnectionResolver,
        sources: Sources,
        fresh: Refresh,
    ) -> None:
        super().__init__(db)
        self.registry = registry
        self._box = box
        self._resolver = resolver
        self._sources = sources
        self._fresh = fresh

    def _view(
        self,
        row: ConnectionRow,
        used_by: Iterable[FlowUse] = (),
        registrations: Iterable[SubscriptionRow] = (),
        dropped: tuple[FlowUse, ...] = (),
        older: tuple[FlowUse, ...] = (),
    ) -> ConnectionView:
        last_check = None
        if row.checked_at is not None:
            last_check = LastCheck(
                ok=row.check_ok,
                message=row.check_message or "",
                at=row.checked_at,
                stale=row.updated_at > row.checked_at,
            )
        return ConnectionView(
            row=row,
            config=json.loads(row.config),
            secrets_set=sorted(self._box.open(row.secrets)),
            hook_prefix=self._sources.prefix(row),
            last_check=last_check,
            used_by=tuple(used_by),
            registrations=tuple(registrations),
            secret_inputs_dropped=dropped,
            older_versions_dropped=older,
        )

    async def _views(
        self, rows: list[ConnectionRow], uses: dict[str, list[FlowUse]]
    ) -> list[ConnectionView]:
        registered = await self._sources.registrations(r.id for r in rows if r.hook_token)
        return [self._view(r, uses.get(r.name, ()), registered.get(r.id, ())) for r in rows]

    def _find(self, s: Session, ref: str) -> ConnectionRow:
        row = (
            s.get(ConnectionRow, ref)
            or s.exec(select(ConnectionRow).where(ConnectionRow.name == ref)).first()
        )
        if row is None:
            raise NotFound(_("no connection %(name)r", name=ref))
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

    def app(self, kind: str) -> App:
        """The kind of connection ``kind`` as people choose it (raises :class:`Invalid`)."""
        main = self.connector(kind)
        connectors = self.registry.for_kind(kind)
        return App(
            kind=kind,
            # A kind that several connectors share is named by its model ("Google"), else the
            # connector's title does.
            title=str(main.connection.model_config.get("title") or main.title),
            # A connector's description speaks of its own steps ("Send email"): a shared kind
            # has none of its own.
            description=main.description if len(connectors) == 1 else "",
            connection=main.connection,
            connectors=tuple(c.title for c in connectors),
            oauth=main.oauth,
            testable=any(c.check for c in connectors),
            sends_events=any(c.triggers for c in connectors),
        )

    def apps(self) -> list[App]:
        """Every kind of connection that can be saved, by title."""
        return sorted((self.app(k) for k in self.registry.kinds()), key=lambda a: a.title)

    async def all(self) -> list[ConnectionView]:
        """Every connection, by name, with its flows, last test and registrations."""

        def read() -> tuple[list[ConnectionRow], dict[str, list[FlowUse]]]:
            with self.session() as s:
                rows = s.exec(select(ConnectionRow).order_by(col(ConnectionRow.name))).all()
                return list(rows), _flow_uses(s)

        return await self._views(*await self.sync(read))

    async def get(self, ref: str) -> ConnectionView:
        """One connection by id or name, with its flows, last test and registrations."""

        def read() -> tuple[list[ConnectionRow], dict[str, list[FlowUse]]]:
            with self.session() as s:
                return [self._find(s, ref)], _flow_uses(s)

        [view] = await self._views(*await self.sync(read))
        return view

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
            return join_secrets(json.loads(row.config), self._box.open(row.secrets))

        return await self.sync(read)

    async def create(self, app: str, name: str, values: dict[str, Any]) -> ConnectionView:
        """Save a new connection (raises :class:`Invalid` or :class:`Conflict`)."""
        return await self.sync(self._save, app, name, values, None, True)

    async def update(
        self,
        ref: str,
        values: dict[str, Any],
        *,
        name: str | None = None,
        replace: bool = False,
        unset: Iterable[str] = (),
    ) -> ConnectionView:
        """Change a connection: values not given are kept, unless ``replace``; the fields named
        in ``unset`` go back to their defaults (a setting emptied, a secret removed)."""
        return await self.sync(self._save, None, name, values, ref, replace, False, set(unset))

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
        unset: set[str] | None = None,
    ) -> ConnectionView:
        now = time.time()
        refused: Invalid | None = None  # reported with the values' problems, all at once
        if name is not None:
            try:
                name = check_name(name)
            except Invalid as exc:
                refused = exc
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
                stored_secrets = self._box.open(row.secrets)
                stored = join_secrets(json.loads(row.config), stored_secrets)
                _check_destinations(connector, stored, stored_secrets, values, unset or set())
                merged = {**stored, **values}
            merged = {k: v for k, v in merged.items() if k not in (unset or ())}
            bad_urls = url_problems(connector.connection, values)
            if bad_urls:
                raise Invalid([], {f"values.{k}": v for k, v in sorted(bad_urls.items())})
            try:
                public, secret = split_secrets(connector, merged)
            except ValidationError as exc:
                raise _refusal(kind, connector, exc, refused) from exc
            if refused is not None:
                raise refused
            new_name = name or (row.name if row is not None else "")
            clash = s.exec(select(ConnectionRow).where(ConnectionRow.name == new_name)).first()
            if clash is not None and (row is None or clash.id != row.id):
                raise Conflict(_("a connection named %(name)r exists", name=new_name))
            old_name = row.name if row is not None else None
            moved = _moved(connector, row, new_name, join_secrets(public, secret), self._box)
            dropped: tuple[tuple[FlowUse, ...], tuple[FlowUse, ...]] = ((), ())
            if moved is not None:
                dropped = _drop_secret_inputs(s, new_name, moved)
            if row is None:
                row = ConnectionRow(
                    id=new_id(), name=new_name, app=kind, created_at=now, updated_at=now
                )
            elif new_name != row.name and _flow_uses(s).get(row.name):
                raise Conflict(
                    _(
                        "connection %(name)r is used by flows: keep its name, or change them "
                        "to use another connection first",
                        name=row.name,
                    )
                )
            row.name, row.updated_at = new_name, now
            if connector.triggers and row.hook_token is None:
                row.hook_token = self._sources.new_token()
            row.config = json.dumps(public)
            row.secrets = self._box.seal(secret) if secret else ""
            s.add(row)
            s.commit()
        for changed in {old_name, new_name} - {None}:
            self._resolver.invalidate(changed)
        # A view of what was saved: no flows or registrations read.
        return self._view(row, dropped=dropped[0], older=dropped[1])

    async def delete(self, ref: str) -> None:
        """Delete a connection that no flow uses (raises :class:`Conflict` naming them)."""

        def write() -> str:
            with self.session(write=True) as s:
                row = self._find(s, ref)
                flows = _flow_uses(s).get(row.name)
                if flows:
                    names = ", ".join(repr(f.name) for f in flows)
                    if len(flows) == 1:
                        raise Conflict(
                            _(
                                "flow %(flow)s (%(id)s) uses connection %(name)r: change it to "
                                "use another connection, or delete it, first",
                                flow=names,
                                id=flows[0].id,
                                name=row.name,
                            )
                        )
                    raise Conflict(
                        _(
                            "flows %(flows)s use connection %(name)r: change them to use "
                            "another connection, or delete them, first",
                            flows=names,
                            name=row.name,
                        )
                    )
                s.delete(row)
                s.commit()
                return row.name

        self._resolver.invalidate(await self.sync(write))

    async def test(self, ref: str) -> LastCheck:
        """Ask the app whether the connection's credentials work, and keep the outcome.

        An app that offers no test is said so, and nothing is kept.
        """

        def read() -> ConnectionRow:
            with self.session() as s:
                return self._find(s, ref)

        row = await self.sync(read)
        connector = next((c for c in self.registry.for_kind(row.app) if c.check), None)
        if connector is None or connector.check is None:
            return LastCheck(False, f"{row.app} offers no connection test", time.time())
        ok: bool | None
        # An app that echoes the credentials back must not have them kept in the message.
        redactor = Redactor()
        try:
            conn = connector.connection.model_validate(await self.values(row.id))
            redactor.add_model(conn)
            # An OAuth account idle for a while has an expired access token: renew it first,
            # as a step would, so that the test says whether the account works.
            conn = await self._fresh(row.name, connector, conn)
            redactor.add_model(conn)
            with redactor.active():
                check = await connector.check(conn)
            ok, message = check.ok, check.message
        except ValidationError as exc:
            ok, message = False, f"incomplete connection: {describe(exc)}"
        except ConnectorError as exc:
            ok, message = False, exc.message
        message = storable(redactor.text(message))
        done = LastCheck(ok, message, time.time())
        await self.sync(self._keep_check, row.id, done)
        return done

    def _keep_check(self, connection_id: str, check: LastCheck) -> None:
        # Not a change of the connection: its updated_at stays, and so does the resolver's cache.
        with self.session(write=True) as s:
            s.exec(
                update(ConnectionRow)
                .where(col(ConnectionRow.id) == connection_id)
                .values(checked_at=check.at, check_ok=check.ok, check_message=check.message)
            )
            s.commit()


def _check_destinations(
    connector: Connector,
    stored: dict[str, Any],
    stored_secrets: dict[str, Any],
    given: dict[str, Any],
    unset: set[str],
) -> None:
    """Refuse a change of where the connection sends its credentials that does not give
    them again: otherwise whoever may edit a connection could have its secrets, write-only
    everywhere else, sent to a host of their own."""
    moved = moved_destinations(connector.connection, stored, given, unset)
    secret_names = connector.connection.secret_fields()
    missing = sorted(
        n for n in stored_secrets if n in secret_names and n not in given and n not in unset
    )
    if moved and missing:
        where = ", ".join(moved)
        raise Invalid(
            [f"changing {where} needs the secrets again, in the same request"],
            {
                f"values.{name}": f"give it again: {where} changed, and this secret would be "
                "sent there"
                for name in missing
            },
        )


def _moved(
    connector: Connector,
    row: ConnectionRow | None,
    name: str,
    values: dict[str, Any],
    box: SecretBox,
) -> str | None:
    """How the connection ``name``, saved over ``row`` (``None``: a new one) with ``values``,
    comes to send elsewhere than the steps naming it did, in words (``None``: it does not):
    saved new, under a new name, or with a field saying where it sends changed (a secret one,
    such as a webhook URL, too)."""
    if row is None:
        return f"connection {name!r} was created"
    if row.name != name:
        return f"connection {row.name!r} was renamed {name!r}"
    stored = join_secrets(json.loads(row.config), box.open(row.secrets))
    moved = changed_places(destination_fields(connector.connection), stored, values)
    return f"connection {name!r} changed {' and '.join(moved)}" if moved else None


def _drop_secret_inputs(
    s: Session, connection: str, why: str
) -> tuple[tuple[FlowUse, ...], tuple[FlowUse, ...]]:
    """Drop the sealed secret inputs of the steps naming ``connection`` in every flow's
    definition, draft and kept versions (a replay runs its version): the connection now sends
    elsewhere (``why``), and so would they (see :mod:`maillon.engine.secret_inputs`). A flow's
    secrets are not the connection's to give again; its steps fail until they are given again.
    Returns the flows whose definition or draft held any, then those where only versions kept
    for replays did (their runs replay only with the current version now), by name."""
    rows: list[FlowRow | FlowVersionRow] = [
        *s.exec(select(FlowRow).where(col(FlowRow.definition).contains("$sealed"))),
        *s.exec(select(FlowRow).where(col(FlowRow.draft).contains("$sealed"))),
        *s.exec(select(FlowVersionRow).where(col(FlowVersionRow.definition).contains("$sealed"))),
    ]
    current: set[str] = set()  # flows whose definition or draft lost some
    older: set[str] = set()  # flows whose kept versions did
    for row in rows:
        for column in ("definition", "draft"):
            text = getattr(row, column, None)
            if text is not None:
                new = secret_inputs.dropped(text, connection, why)
                if new != text:
                    setattr(row, column, new)
                    s.add(row)
                    if isinstance(row, FlowRow):
                        current.add(row.id)
                    else:
                        older.add(row.flow_id)
    return _uses(s, current), _uses(s, older - current)


def _uses(s: Session, flow_ids: set[str]) -> tuple[FlowUse, ...]:
    """The flows of ``flow_ids`` that exist, by name."""
    flows = [s.get(FlowRow, flow_id) for flow_id in flow_ids]
    return tuple(
        sorted((FlowUse(f.id, f.name, f.enabled) for f in flows if f), key=lambda u: u.name)
    )


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


def _refusal(
    app: str, connector: Connector, exc: ValidationError, refused: Invalid | None
) -> Invalid:
    """Why values do not make a connection, each reason tied to its input as the API's body
    and the UI's form name it (``values.<field>``), with the name's own problem if any; a
    field the app lacks is said with the fields it has."""
    problems = invalid(exc, "values.")
    general = [*(refused.general if refused else []), *problems.general]
    fields = {**(refused.fields if refused else {}), **problems.fields}
    unknown_names = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"]
    if not unknown_names:
        return Invalid(general, fields)
    choices = _fields(connector)
    names = [f.name for f in choices]
    unknown = {}
    for name in unknown_names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        unknown[name] = fields[f"values.{name}"] = f"{app} connections have no field {name!r}{hint}"
    general.append(f"the fields of {app} connections are: {', '.join(names)}")
    return UnknownField(general, fields, unknown, choices)


def _flow_uses(s: Session) -> dict[str, list[FlowUse]]:
    """Connection name → the flows that name it, in their published version or their draft
    (which must find it when it is published), each definition read once."""
    uses: dict[str, list[FlowUse]] = {}
    for flow in s.exec(select(FlowRow).order_by(col(FlowRow.name))):
        live = _named(parse_flow(flow.id, flow.version, flow.definition))
        drafted = _named(FlowSpec.model_validate_json(flow.draft)) if flow.draft else set()
        for name in live | drafted:
            use = FlowUse(flow.id, flow.name, flow.enabled, draft_only=name not in live)
            uses.setdefault(name, []).append(use)
    return uses


def _named(spec: FlowSpec) -> set[str]:
    """The connections a flow names: its steps', its app trigger's, its signing secret's."""
    names = {step.connection for step in spec.actions() if step.connection}
    if isinstance(spec.trigger, AppEventTrigger):
        names.add(spec.trigger.connection)
    elif isinstance(spec.trigger, WebhookTrigger) and spec.trigger.signature is not None:
        names.add(spec.trigger.signature.connection)
    return names
