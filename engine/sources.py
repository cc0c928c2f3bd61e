"""App accounts as event sources: their hook URLs, and their webhook registrations.

A connection of an app that has a trigger (Particeep) owns a secret hook prefix,
``<public url>/hooks/<app>/<token>/``, and one URL per event under it. Whenever flows change,
:meth:`Sources.refresh` makes the app's registration match: registered while at least one
enabled flow listens to the event, removed when none does. A refusal by the app never blocks
saving the flow: it is recorded on the subscription, shown with the flow, and can be retried.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from maillon.connectors.base import AppTrigger, Connector, SyncReport
from maillon.connectors.errors import ConnectorError
from maillon.connectors.registry import Registry
from maillon.engine.connections import ConnectionResolver
from maillon.engine.db import for_writes
from maillon.engine.intake import source_key
from maillon.engine.models import ConnectionRow, FlowRow, SubscriptionRow

__all__ = ["Sources", "app_trigger"]


def app_trigger(connector: Connector) -> type[AppTrigger[Any]] | None:
    """The connector's webhook trigger: the one its ``/hooks/<app>/…`` URLs deliver to."""
    return connector.triggers[0] if connector.triggers else None


def _source_connector(registry: Registry, kind: str) -> Connector | None:
    """The connector with an app trigger among those using connections of ``kind``."""
    return next((c for c in registry.for_kind(kind) if c.triggers), None)


class Sources:
    """Hook URLs and webhook registrations of app connections."""

    def __init__(
        self, engine: Engine, registry: Registry, resolver: ConnectionResolver, base_url: str
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._resolver = resolver
        self._base_url = base_url.rstrip("/")
        # Apps offer no transaction over their API: never register one (account, event) from two
        # threads at once, or it could be created twice. This lock covers one process; several
        # processes (PostgreSQL scale-out) need a row lock on the connection instead, and
        # `maillon sources repair` removes a duplicate that slips through.
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)

    def prefix(self, row: ConnectionRow) -> str | None:
        """The connection's hook prefix (ends with ``/``), if its app has a trigger."""
        if row.hook_token is None:
            return None
        return f"{self._base_url}/hooks/{row.app}/{row.hook_token}/"

    def url(self, row: ConnectionRow, event: str) -> str | None:
        """The URL the app must post ``event`` to."""
        prefix = self.prefix(row)
        return None if prefix is None else prefix + event

    @staticmethod
    def new_token() -> str:
        """A fresh secret for a connection's hook prefix."""
        return secrets.token_urlsafe(24)

    def _wanted(self, session: Session, key: str) -> bool:
        flows = session.exec(select(FlowRow).where(FlowRow.source_key == key)).all()
        return any(f.enabled for f in flows)

    def refresh(self, connection_id: str, event: str) -> SubscriptionRow | None:
        """Register or remove the app's webhook for ``event`` to match the enabled flows.

        Returns the subscription as recorded (``failed`` with the app's reason on refusal).
        """
        with self._locks[(connection_id, event)]:
            # Read, close, then call the app: no transaction stays open across a remote call.
            with Session(self._engine, expire_on_commit=False) as session:
                row = session.get(ConnectionRow, connection_id)
                wanted = self._wanted(session, source_key(connection_id, event))
                current = session.get(SubscriptionRow, (connection_id, event))
            connector = _source_connector(self._registry, row.app) if row else None
            trigger_cls = app_trigger(connector) if connector else None
            url = self.url(row, event) if row else None
            if row is None or connector is None or trigger_cls is None or url is None:
                return None
            if not wanted and (current is None or current.status == "unregistered"):
                return current
            error: str | None = None
            try:
                conn = self._resolver.resolve(row.name, connector)
                trigger = trigger_cls()
                call = trigger.subscribe if wanted else trigger.unsubscribe
                asyncio.run(call(conn, event, url))
            except (ConnectorError, LookupError, ValueError, OSError) as exc:
                error = exc.message if isinstance(exc, ConnectorError) else str(exc)
            status = "failed" if error else "registered" if wanted else "unregistered"
            return self._record(connection_id, event, url, status, error)

    def _record(
        self, connection_id: str, event: str, url: str, status: str, error: str | None
    ) -> SubscriptionRow:
        """Save what the app last said about one (connection, event) registration."""
        with Session(for_writes(self._engine), expire_on_commit=False) as session:
            sub = session.get(SubscriptionRow, (connection_id, event)) or SubscriptionRow(
                connection_id=connection_id, event=event, url=url, status=status, updated_at=0
            )
            sub.url, sub.status, sub.error, sub.updated_at = url, status, error, time.time()
            session.add(sub)
            session.commit()
            return sub

    def subscription(self, connection_id: str, event: str) -> SubscriptionRow | None:
        """The recorded state of one (connection, event) registration."""
        with Session(self._engine, expire_on_commit=False) as session:
            return session.get(SubscriptionRow, (connection_id, event))

    def sync(self, row: ConnectionRow, *, dry_run: bool) -> SyncReport:
        """Compare (and unless ``dry_run``, repair) everything registered at the app."""
        connector = _source_connector(self._registry, row.app)
        trigger_cls = app_trigger(connector) if connector else None
        prefix = self.prefix(row)
        if connector is None or trigger_cls is None or prefix is None:
            raise ValueError(f"connection {row.name!r} ({row.app}) has no app trigger")
        with Session(self._engine) as session:
            flows = session.exec(
                select(FlowRow).where(
                    col(FlowRow.enabled), col(FlowRow.source_key).startswith(f"{row.id}:")
                )
            ).all()
        events = {f.source_key.split(":", 1)[1] for f in flows if f.source_key}
        wanted = {(e, prefix + e) for e in events}
        conn = self._resolver.resolve(row.name, connector)
        report = asyncio.run(trigger_cls().sync(conn, wanted, prefix, dry_run=dry_run))
        if not dry_run:
            # The report already says what the app now has: record it, without asking again.
            refused = {event: reason for event, _, reason in report.failed}
            for event in events | {e for e, _ in report.deleted}:
                status = "registered" if event in events else "unregistered"
                if event in refused:
                    status = "failed"
                self._record(row.id, event, prefix + event, status, refused.get(event))
        return report
