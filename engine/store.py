"""Reading and editing flows, connections, events, runs and API tokens (the non-hot paths).

These are plain synchronous functions over a SQLModel session, shared by the REST API and the
CLI. The hot paths (intake, claiming, step records) go through :mod:`maillon.engine.writer` instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, delete, or_, update
from sqlmodel import Session, col, select

from maillon.connectors.base import ConnectionCheck
from maillon.connectors.errors import ConnectorError
from maillon.connectors.registry import Registry
from maillon.engine.connections import split_secrets
from maillon.engine.crypto import SecretBox
from maillon.engine.db import for_writes
from maillon.engine.errors import Conflict, NotFound
from maillon.engine.flows import AppEventTrigger, FlowSpec, field_warnings
from maillon.engine.ids import new_id
from maillon.engine.intake import source_key
from maillon.engine.models import (
    ApiToken,
    ConnectionRow,
    EventRow,
    FlowRow,
    OAuthStateRow,
    RunRow,
    RunStatus,
    StepRow,
    SubscriptionRow,
)
from maillon.engine.sources import Sources
from maillon.engine.validation import describe

__all__ = ["NotFound", "Store"]


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """Data access for the API and the CLI."""

    def __init__(
        self, engine: Engine, registry: Registry, box: SecretBox, sources: Sources
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.box = box
        self.sources = sources

    def session(self, *, write: bool = False) -> Session:
        """A new session; use as a context manager. ``write=True`` for one that will write."""
        return Session(for_writes(self.engine) if write else self.engine, expire_on_commit=False)

    # -- API tokens ------------------------------------------------------------------------

    def create_token(self, name: str) -> tuple[ApiToken, str]:
        """Create a token; the plaintext is returned once and never stored."""
        plaintext = "mlt_" + secrets.token_urlsafe(32)
        row = ApiToken(
            id=new_id(), name=name, token_hash=_hash_token(plaintext), created_at=time.time()
        )
        with self.session(write=True) as s:
            s.add(row)
            s.commit()
        return row, plaintext

    def check_token(self, plaintext: str) -> ApiToken | None:
        """The token row if ``plaintext`` is a valid token."""
        with self.session() as s:
            return s.exec(
                select(ApiToken).where(ApiToken.token_hash == _hash_token(plaintext))
            ).first()

    def list_tokens(self) -> list[ApiToken]:
        with self.session() as s:
            return list(s.exec(select(ApiToken).order_by(col(ApiToken.created_at))))

    def revoke_token(self, token_id: str) -> None:
        with self.session(write=True) as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token {token_id}")
            s.delete(row)
            s.commit()

    # -- connections -----------------------------------------------------------------------

    def connection_apps(self) -> dict[str, str]:
        """Connection name → connector key, for flow validation."""
        with self.session() as s:
            return {r.name: r.app for r in s.exec(select(ConnectionRow))}

    def list_connections(self) -> list[ConnectionRow]:
        with self.session() as s:
            return list(s.exec(select(ConnectionRow).order_by(col(ConnectionRow.name))))

    def get_connection(self, ref: str) -> ConnectionRow:
        """By id or by name."""
        with self.session() as s:
            row = (
                s.get(ConnectionRow, ref)
                or s.exec(select(ConnectionRow).where(ConnectionRow.name == ref)).first()
            )
        if row is None:
            raise NotFound(f"no connection {ref!r}")
        return row

    def secret_names(self, row: ConnectionRow) -> list[str]:
        """Which secret fields are set (their values are never returned)."""
        return sorted(self.box.open(row.secrets))

    def connection_values(self, ref: str) -> dict[str, Any]:
        """A connection's settings and decrypted secrets, for code that acts on its behalf."""
        row = self.get_connection(ref)
        return {**json.loads(row.config), **self.box.open(row.secrets)}

    def save_connection(
        self,
        app: str,
        name: str,
        values: dict[str, Any],
        existing: ConnectionRow | None = None,
        *,
        replace: bool = False,
    ) -> ConnectionRow:
        """Create, or update ``existing``: values not given are kept unless ``replace``.

        Raises ``ValueError`` (unknown app, invalid values) or :class:`Conflict` (name taken).
        """
        connectors = self.registry.for_kind(app)
        if not connectors:
            known = ", ".join(self.registry.kinds())
            raise ValueError(f"unknown app {app!r} (installed: {known})")
        connector = connectors[0]
        if existing is not None and not replace:
            merged = {**json.loads(existing.config), **self.box.open(existing.secrets), **values}
        else:
            merged = dict(values)
        try:
            public, secret = split_secrets(connector, merged)
        except ValidationError as exc:
            raise ValueError(describe(exc)) from exc
        now = time.time()
        with self.session(write=True) as s:
            clash = s.exec(select(ConnectionRow).where(ConnectionRow.name == name)).first()
            if clash is not None and (existing is None or clash.id != existing.id):
                raise Conflict(f"a connection named {name!r} exists")
            if existing is None:
                row = ConnectionRow(id=new_id(), name=name, app=app, created_at=now, updated_at=now)
            else:
                row = s.get(ConnectionRow, existing.id) or existing
                if name != row.name and self._flows_using(s, row.name):
                    raise Conflict(f"connection {row.name!r} is used by flows: cannot rename it")
                row.name, row.updated_at = name, now
            if any(c.triggers for c in connectors) and row.hook_token is None:
                row.hook_token = self.sources.new_token()
            row.config = json.dumps(public)
            row.secrets = self.box.seal(secret) if secret else ""
            s.add(row)
            s.commit()
            return row

    @staticmethod
    def _flows_using(s: Session, name: str) -> list[FlowRow]:
        using = []
        for flow in s.exec(select(FlowRow)):
            spec = FlowSpec.model_validate_json(flow.definition)
            names = {step.connection for step in spec.steps}
            if isinstance(spec.trigger, AppEventTrigger):
                names.add(spec.trigger.connection)
            if name in names:
                using.append(flow)
        return using

    def delete_connection(self, ref: str) -> None:
        row = self.get_connection(ref)
        with self.session(write=True) as s:
            for flow in self._flows_using(s, row.name):
                raise Conflict(f"flow {flow.name!r} ({flow.id}) uses connection {row.name!r}")
            s.delete(s.get(ConnectionRow, row.id))
            s.commit()

    def test_connection(self, ref: str) -> ConnectionCheck:
        """Ask the app whether the connection's credentials work."""
        row = self.get_connection(ref)
        connector = next((c for c in self.registry.for_kind(row.app) if c.check), None)
        if connector is None or connector.check is None:
            return ConnectionCheck(ok=False, message=f"{row.app} offers no connection test")
        values = {**json.loads(row.config), **self.box.open(row.secrets)}
        try:
            conn = connector.connection.model_validate(values)
            return asyncio.run(connector.check(conn))
        except ValidationError as exc:
            return ConnectionCheck(ok=False, message=f"incomplete connection: {describe(exc)}")
        except ConnectorError as exc:
            return ConnectionCheck(ok=False, message=exc.message)

    # -- flows -----------------------------------------------------------------------------

    def list_flows(self) -> list[FlowRow]:
        with self.session() as s:
            return list(s.exec(select(FlowRow).order_by(col(FlowRow.created_at))))

    def get_flow(self, flow_id: str) -> FlowRow:
        with self.session() as s:
            row = s.get(FlowRow, flow_id)
        if row is None:
            raise NotFound(f"no flow {flow_id}")
        return row

    def save_flow(self, spec: FlowSpec, flow_id: str | None = None) -> FlowRow:
        """Validate and create (``flow_id`` unknown or ``None``) or update a flow.

        Raises :class:`maillon.engine.flows.FlowValidationError` listing every problem.
        """
        spec.check(self.registry, self.connection_apps())
        now = time.time()
        definition = spec.model_dump_json()
        with self.session(write=True) as s:
            key = self._source_key(s, spec)
            row = s.get(FlowRow, flow_id) if flow_id else None
            before = row.source_key if row else None
            if row is None:
                row = FlowRow(
                    id=flow_id or new_id(),
                    name=spec.name,
                    enabled=spec.enabled,
                    hook_token=secrets.token_urlsafe(24),
                    source_key=key,
                    definition=definition,
                    created_at=now,
                    updated_at=now,
                )
            else:
                row.name, row.enabled, row.definition = spec.name, spec.enabled, definition
                row.source_key = key
                row.version += 1
                row.updated_at = now
            s.add(row)
            s.commit()
        self._refresh_sources(before, key)
        return row

    @staticmethod
    def _source_key(s: Session, spec: FlowSpec) -> str | None:
        if not isinstance(spec.trigger, AppEventTrigger):
            return None
        conn = s.exec(
            select(ConnectionRow).where(ConnectionRow.name == spec.trigger.connection)
        ).one()
        return source_key(conn.id, spec.trigger.event)

    def _refresh_sources(self, *keys: str | None) -> None:
        """Bring the app registrations of these (connection, event) keys in line."""
        for key in dict.fromkeys(k for k in keys if k):
            connection_id, event = key.split(":", 1)
            self.sources.refresh(connection_id, event)

    def flow_warnings(self, row: FlowRow) -> list[str]:
        """Fields the flow's templates read that its sample event does not have.

        The sample is the app's catalog sample for app triggers, else the flow's latest event.
        """
        spec = FlowSpec.model_validate_json(row.definition)
        sample: Any = None
        if isinstance(spec.trigger, AppEventTrigger):
            connector = self.registry.get(spec.trigger.type.partition(".")[0])
            trigger = connector.trigger(spec.trigger.type.partition(".")[2]) if connector else None
            events = {e.name: e for e in trigger().events()} if trigger else {}
            if spec.trigger.event in events:
                sample = events[spec.trigger.event].sample
        else:
            latest = self.list_events(row.id, limit=1)
            sample = json.loads(latest[0].body) if latest else None
        return field_warnings(spec, self.registry, sample if isinstance(sample, dict) else None)

    def subscription(self, row: FlowRow) -> SubscriptionRow | None:
        """The app registration that feeds a flow on an app trigger."""
        if row.source_key is None:
            return None
        connection_id, event = row.source_key.split(":", 1)
        return self.sources.subscription(connection_id, event)

    def resubscribe(self, flow_id: str) -> SubscriptionRow | None:
        """Try the app registration of a flow's trigger again (after a refusal)."""
        row = self.get_flow(flow_id)
        self._refresh_sources(row.source_key)
        return self.subscription(row)

    def set_enabled(self, flow_id: str, enabled: bool) -> FlowRow:
        row = self.get_flow(flow_id)
        spec = FlowSpec.model_validate_json(row.definition)
        spec.enabled = enabled
        with self.session(write=True) as s:
            row = s.get(FlowRow, flow_id) or row
            row.enabled = enabled
            row.definition = spec.model_dump_json()
            row.version += 1
            row.updated_at = time.time()
            s.add(row)
            s.commit()
        self._refresh_sources(row.source_key)
        return row

    def delete_flow(self, flow_id: str) -> None:
        """Delete a flow; its events and runs stay as history, queued runs fail."""
        with self.session(write=True) as s:
            row = s.get(FlowRow, flow_id)
            if row is None:
                raise NotFound(f"no flow {flow_id}")
            s.delete(row)
            s.commit()
        self._refresh_sources(row.source_key)

    # -- OAuth consent flows ---------------------------------------------------------------

    def put_oauth_state(self, state: str, provider: str, payload: dict[str, Any]) -> None:
        """Remember a consent flow until its callback (the payload is sealed: it has secrets)."""
        row = OAuthStateRow(
            state=state, provider=provider, payload=self.box.seal(payload), created_at=time.time()
        )
        with self.session(write=True) as s:
            s.add(row)
            s.commit()

    def take_oauth_state(self, state: str, provider: str, max_age: float) -> dict[str, Any]:
        """The payload of a consent flow, once: a state cannot be replayed.

        Raises ``LookupError`` for an unknown, used or expired state.
        """
        with self.session(write=True) as s:
            # Expired states of abandoned consent flows are swept here, when someone comes back.
            s.exec(
                delete(OAuthStateRow).where(col(OAuthStateRow.created_at) < time.time() - max_age)
            )
            row = s.get(OAuthStateRow, state)
            if row is None or row.provider != provider:
                s.commit()
                raise LookupError("unknown or expired state: start connecting again")
            s.delete(row)
            s.commit()
        return self.box.open(row.payload)

    # -- events and runs -------------------------------------------------------------------

    def list_events(
        self, flow_id: str | None = None, limit: int = 50, before: str | None = None
    ) -> list[EventRow]:
        with self.session() as s:
            q = select(EventRow).order_by(col(EventRow.id).desc()).limit(limit)
            if flow_id:
                # App events are shared by several flows (no flow_id): find them by their runs.
                ran = select(RunRow.event_id).where(RunRow.flow_id == flow_id)
                q = q.where(or_(col(EventRow.flow_id) == flow_id, col(EventRow.id).in_(ran)))
            if before:
                q = q.where(col(EventRow.id) < before)
            return list(s.exec(q))

    def get_event(self, event_id: str) -> tuple[EventRow, list[RunRow]]:
        with self.session() as s:
            row = s.get(EventRow, event_id)
            if row is None:
                raise NotFound(f"no event {event_id}")
            runs = list(s.exec(select(RunRow).where(RunRow.event_id == event_id)))
        return row, runs

    def list_runs(
        self,
        flow_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RunRow]:
        with self.session() as s:
            q = select(RunRow).order_by(col(RunRow.id).desc()).limit(limit)
            if flow_id:
                q = q.where(RunRow.flow_id == flow_id)
            if status:
                q = q.where(RunRow.status == status)
            if before:
                q = q.where(col(RunRow.id) < before)
            return list(s.exec(q))

    def get_run(self, run_id: str) -> tuple[RunRow, list[StepRow]]:
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise NotFound(f"no run {run_id}")
            steps = list(
                s.exec(
                    select(StepRow).where(StepRow.run_id == run_id).order_by(col(StepRow.position))
                )
            )
        return row, steps

    def replay_run(self, run_id: str) -> RunRow:
        """Queue a failed or held run again; it resumes at its first unfinished step.

        The failed step's attempt count restarts, so a replay gets the full retry budget.
        """
        with self.session(write=True) as s:
            result = s.exec(
                update(RunRow)
                .where(
                    col(RunRow.id) == run_id,
                    col(RunRow.status).in_([RunStatus.FAILED, RunStatus.HELD]),
                )
                .values(status=RunStatus.QUEUED, available_at=time.time(), error=None)
            )
            if result.rowcount != 1:
                row = s.get(RunRow, run_id)
                if row is None:
                    raise NotFound(f"no run {run_id}")
                raise Conflict(f"run {run_id} is {row.status}; only failed or held runs replay")
            s.exec(
                update(StepRow)
                .where(col(StepRow.run_id) == run_id, col(StepRow.status) != RunStatus.SUCCEEDED)
                .values(attempts=0)
            )
            s.commit()
            row = s.get(RunRow, run_id)
            assert row is not None
            return row

    def release_held(self, flow_id: str) -> int:
        """Queue every held run of a flow; return how many."""
        with self.session(write=True) as s:
            result = s.exec(
                update(RunRow)
                .where(col(RunRow.flow_id) == flow_id, col(RunRow.status) == RunStatus.HELD)
                .values(status=RunStatus.QUEUED, available_at=time.time())
            )
            s.commit()
            return int(result.rowcount)
