"""App accounts as event sources: their hook URLs, and their webhook registrations.

A connection of an app that has a trigger (Particeep) owns a secret hook prefix,
``<public url>/hooks/<app>/<token>/``, and one URL per event under it. Whenever flows change,
the flows service calls :meth:`Sources.refresh` so that the app's registration matches:
registered while at least one enabled flow listens to the event, removed when none does. A
refusal by the app never blocks saving the flow: it is recorded on the subscription, shown with
the flow, and can be retried (:meth:`Sources.refresh` again, or :meth:`Sources.sync` to compare
and repair everything an account has registered). A refusal, and drift that a repair found,
are also told by the failure alerts (:mod:`maillon.engine.alerts`).

A paused flow (switched off by Maillon after failing too often) still counts as listening: its
deliveries are held until it is resumed, so the app must keep sending them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlmodel import col, or_, select

from maillon.connectors.base import AppTrigger, Connector, SyncReport
from maillon.connectors.errors import ConnectorError
from maillon.connectors.registry import Registry
from maillon.engine.alerts import add_to_batch, owner_language, read_settings, source_subject
from maillon.engine.connections import ConnectionResolver
from maillon.engine.errors import NotFound
from maillon.engine.hooks import SourceKey, hook_url
from maillon.engine.i18n import gettext as _
from maillon.engine.i18n import use_locale
from maillon.engine.models import ConnectionRow, FlowRow, SubscriptionRow, SubscriptionStatus
from maillon.engine.services.base import Service

__all__ = ["SourceSync", "Sources"]


@dataclass(frozen=True)
class SourceSync:
    """What comparing (or repairing) one account's registrations found."""

    connection: ConnectionRow
    report: SyncReport | None
    #: Why the account could not be compared at all (unreachable, bad keys).
    error: str | None = None


class Sources(Service):
    """Hook URLs and webhook registrations of app connections."""

    def __init__(
        self, db: Engine, registry: Registry, resolver: ConnectionResolver, base_url: str
    ) -> None:
        super().__init__(db)
        self._registry = registry
        self._resolver = resolver
        self._base_url = base_url
        # Apps offer no transaction over their API: never register one (account, event) from
        # two tasks at once, or it could be created twice. The tasks of this process queue on
        # these locks (without holding a database connection each); processes sharing
        # PostgreSQL then take an advisory lock on the same key.
        self._locks: defaultdict[SourceKey, threading.Lock] = defaultdict(threading.Lock)

    def source_connector(self, app: str) -> Connector | None:
        """The connector with app triggers among those using connections of ``app``."""
        return next((c for c in self._registry.for_kind(app) if c.triggers), None)

    def prefix(self, row: ConnectionRow) -> str | None:
        """The connection's hook prefix (ends with ``/``), if its app has a trigger."""
        if row.hook_token is None:
            return None
        return hook_url(self._base_url, row.hook_token, app=row.app)

    @staticmethod
    def new_token() -> str:
        """A fresh secret for a connection's hook prefix."""
        return secrets.token_urlsafe(24)

    async def refresh(self, key: SourceKey) -> SubscriptionRow | None:
        """Register or remove the app's webhook for one event to match the enabled flows.

        Returns the subscription as recorded (``failed`` with the app's reason on refusal).
        """
        lock = self._locks[key]
        # Waiting for the locks in a thread keeps the event loop free while another task or
        # process registers the same event.
        await anyio.to_thread.run_sync(lock.acquire)
        try:
            async with self.across_processes(f"subscription {key}"):
                return await self._refresh(key)
        finally:
            lock.release()

    async def _refresh(self, key: SourceKey) -> SubscriptionRow | None:
        # Read, close, then call the app: no transaction stays open across a remote call.
        row, wanted, current = await self.sync(self._state, key)
        target = self._target(row, key.event) if row else None
        if row is None or target is None:
            return None
        connector, trigger, url = target
        if not wanted and (current is None or current.status == SubscriptionStatus.UNREGISTERED):
            return current
        error: str | None = None
        try:
            conn = await self.sync(self._resolver.resolve, row.name, connector)
            call = trigger().subscribe if wanted else trigger().unsubscribe
            await call(conn, key.event, url)
        except (ConnectorError, LookupError, ValueError, OSError) as exc:
            error = exc.message if isinstance(exc, ConnectorError) else str(exc)
        if error:
            status = SubscriptionStatus.FAILED
        else:
            status = SubscriptionStatus.REGISTERED if wanted else SubscriptionStatus.UNREGISTERED
        return await self.sync(self._record, key, url, status, error)

    def _state(self, key: SourceKey) -> tuple[ConnectionRow | None, bool, SubscriptionRow | None]:
        with self.session() as s:
            row = s.get(ConnectionRow, key.connection_id)
            flows = s.exec(
                select(FlowRow.enabled, FlowRow.paused_at).where(FlowRow.source_key == str(key))
            ).all()
            current = s.get(SubscriptionRow, (key.connection_id, key.event))
        return row, any(on or paused is not None for on, paused in flows), current

    def _target(
        self, row: ConnectionRow, event: str
    ) -> tuple[Connector, type[AppTrigger[Any]], str] | None:
        """The connector and trigger that receive ``event`` for this connection, and its URL."""
        connector = self.source_connector(row.app)
        trigger = connector.trigger_for(event) if connector else None
        prefix = self.prefix(row)
        if connector is None or trigger is None or prefix is None:
            return None
        return connector, trigger, prefix + event

    def _record(
        self, key: SourceKey, url: str, status: SubscriptionStatus, error: str | None
    ) -> SubscriptionRow:
        """Save what the app last said about one (connection, event) registration; a refusal
        is added to the alerts in the same transaction."""
        with self.session(write=True) as s:
            if status == SubscriptionStatus.FAILED and error:
                account = s.get(ConnectionRow, key.connection_id)
                words = {
                    "app": account.app if account else "?",
                    "name": account.name if account else key.connection_id,
                    "event": key.event,
                }
                self._alert(
                    s.connection(),
                    source_subject(key.connection_id, key.event),
                    lambda: _(
                        "%(app)s refused to send %(event)s to Maillon (connection “%(name)s”)",
                        **words,
                    ),
                    lambda: (
                        error
                        + "\n"
                        + _(
                            "Until this is fixed, %(app)s does not send %(event)s to Maillon. Then "
                            "`maillon sources repair %(name)s`, or Try again on a flow's page, "
                            "registers it.",
                            **words,
                        )
                    ),
                )
            sub = s.get(SubscriptionRow, (key.connection_id, key.event)) or SubscriptionRow(
                connection_id=key.connection_id,
                event=key.event,
                url=url,
                status=status,
                updated_at=0,
            )
            sub.url, sub.status, sub.error, sub.updated_at = url, status, error, time.time()
            s.add(sub)
            s.commit()
            return sub

    async def subscriptions(self, keys: Iterable[SourceKey]) -> dict[SourceKey, SubscriptionRow]:
        """The recorded state of these registrations (those that have one)."""
        wanted = set(keys)
        if not wanted:
            return {}

        def read() -> dict[SourceKey, SubscriptionRow]:
            ids = {k.connection_id for k in wanted}
            with self.session() as s:
                rows = s.exec(
                    select(SubscriptionRow).where(col(SubscriptionRow.connection_id).in_(ids))
                ).all()
            found = {SourceKey(r.connection_id, r.event): r for r in rows}
            return {k: v for k, v in found.items() if k in wanted}

        return await self.sync(read)

    async def registrations(
        self, connection_ids: Iterable[str]
    ) -> dict[str, list[SubscriptionRow]]:
        """Every recorded registration of these connections, by connection id, by event."""
        ids = set(connection_ids)
        if not ids:
            return {}

        def read() -> dict[str, list[SubscriptionRow]]:
            with self.session() as s:
                rows = s.exec(
                    select(SubscriptionRow)
                    .where(col(SubscriptionRow.connection_id).in_(ids))
                    .order_by(col(SubscriptionRow.event))
                ).all()
            found: dict[str, list[SubscriptionRow]] = {}
            for row in rows:
                found.setdefault(row.connection_id, []).append(row)
            return found

        return await self.sync(read)

    async def sync_accounts(self, connection: str | None, *, dry_run: bool) -> list[SourceSync]:
        """Compare (and unless ``dry_run``, repair) what each app account has registered.

        ``connection``: one connection by name or id; ``None``: every account with a trigger.
        """
        rows = await self.sync(self._accounts, connection)
        return [await self._sync_one(row, dry_run=dry_run) for row in rows]

    def _accounts(self, ref: str | None) -> list[ConnectionRow]:
        with self.session() as s:
            if ref is None:
                rows = list(s.exec(select(ConnectionRow).order_by(col(ConnectionRow.name))))
                return [r for r in rows if self.prefix(r) is not None]
            row = (
                s.get(ConnectionRow, ref)
                or s.exec(select(ConnectionRow).where(ConnectionRow.name == ref)).first()
            )
        if row is None:
            raise NotFound(_("no connection %(name)r", name=ref))
        if self.prefix(row) is None:
            raise NotFound(
                _(
                    "connection %(name)r (%(app)s) receives no app events",
                    name=row.name,
                    app=row.app,
                )
            )
        return [row]

    async def _sync_one(self, row: ConnectionRow, *, dry_run: bool) -> SourceSync:
        connector = self.source_connector(row.app)
        prefix = self.prefix(row)
        if connector is None or prefix is None:
            return SourceSync(row, None, f"no installed connector receives {row.app} events")

        def wanted_events() -> set[str]:
            with self.session() as s:
                keys = s.exec(
                    select(FlowRow.source_key).where(
                        or_(col(FlowRow.enabled), col(FlowRow.paused_at).is_not(None)),
                        col(FlowRow.source_key).startswith(f"{row.id}:"),
                    )
                ).all()
            return {SourceKey.parse(k).event for k in keys if k}

        events = await self.sync(wanted_events)
        report = SyncReport()
        try:
            conn = await self.sync(self._resolver.resolve, row.name, connector)
            for trigger in connector.triggers:
                # Each trigger reconciles the events it receives.
                mine = {(e, prefix + e) for e in events if connector.trigger_for(e) is trigger}
                part = await trigger().sync(conn, mine, prefix, dry_run=dry_run)
                for name in ("registered", "created", "deleted", "failed"):
                    getattr(report, name).extend(getattr(part, name))
        except (ConnectorError, LookupError, ValueError, OSError) as exc:
            message = exc.message if isinstance(exc, ConnectorError) else str(exc)
            return SourceSync(row, None, message)
        if not dry_run:
            # The report already says what the app now has: record it, without asking again.
            refused = {event: reason for event, _url, reason in report.failed}
            for event in events | {e for e, _url in report.deleted}:
                if event in refused:
                    status = SubscriptionStatus.FAILED
                elif event in events:
                    status = SubscriptionStatus.REGISTERED
                else:
                    status = SubscriptionStatus.UNREGISTERED
                key = SourceKey(row.id, event)
                await self.sync(self._record, key, prefix + event, status, refused.get(event))
            if report.created or report.deleted:
                await self.sync(self._drift_found, row, report)
        return SourceSync(row, report)

    def _drift_found(self, row: ConnectionRow, report: SyncReport) -> None:
        """Tell the alerts what a repair found out of line (and put right) at the app."""

        def changes() -> str:
            lines = [_("A repair put them in line with the enabled flows:")]
            lines += [
                _("registered again: %(event)s (%(url)s)", event=e, url=u)
                for e, u in report.created
            ]
            lines += [_("removed: %(event)s (%(url)s)", event=e, url=u) for e, u in report.deleted]
            return "\n".join(lines)

        with self.session(write=True) as s:
            self._alert(
                s.connection(),
                source_subject(row.id, "*"),
                lambda: _(
                    "the webhooks registered at %(app)s for “%(name)s” had drifted",
                    app=row.app,
                    name=row.name,
                ),
                changes,
            )
            s.commit()

    @staticmethod
    def _alert(
        conn: Connection, subject: str, label: Callable[[], str], error: Callable[[], str]
    ) -> None:
        """Add to ``subject``'s alert batch, its words written in the owner's language (the
        batch keeps them as they are: written now, they are the app's words of the moment)."""
        settings = read_settings(conn)
        if settings is not None:
            with use_locale(*owner_language(conn)):
                said, why = label(), error()
            add_to_batch(conn, settings, subject, label=said, error=why, now=time.time())
