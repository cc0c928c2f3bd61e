"""Failure alerts: where they go (one setting for the install), and what is waiting to be told.

The setting names a Slack, SMTP or Google connection and a recipient: a channel, or e-mail
addresses. It is checked when it is set (the connection exists and can carry alerts, and the
recipient is one its action takes), so that a mistake is said then, not found out at 3 a.m.
when the first alert cannot go. Batches and their sending are :mod:`maillon.engine.alerts`'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import Engine, delete
from sqlmodel import col, select

from maillon.connectors.registry import Registry
from maillon.engine.alerts import (
    ALERT_ACTIONS,
    SETTINGS_KEY,
    AlertSender,
    AlertSettings,
    alert_step,
    flow_subject,
    owner_language,
    read_settings,
    test_message,
)
from maillon.engine.errors import Invalid
from maillon.engine.i18n import gettext as _
from maillon.engine.i18n import use_locale
from maillon.engine.models import AlertRow, ConnectionRow, InstallSettingRow
from maillon.engine.services.base import Service
from maillon.engine.validation import describe

__all__ = ["AlertState", "Alerts"]


@dataclass(frozen=True)
class AlertState:
    """The alert setting (``None``: alerts are off) and the batches not told yet or lately."""

    settings: AlertSettings | None
    #: Subjects with failures waiting, or a message that could not be sent, newest first.
    batches: list[AlertRow]


class Alerts(Service):
    """Read and change where alerts go; send a test alert."""

    def __init__(self, db: Engine, registry: Registry, sender: AlertSender) -> None:
        super().__init__(db)
        self._registry = registry
        self._sender = sender

    async def state(self) -> AlertState:
        """The setting and the batches with something to tell (or that could not be told)."""

        def read() -> AlertState:
            with self.session() as s:
                settings = read_settings(s.connection())
                batches = s.exec(
                    select(AlertRow)
                    .where((col(AlertRow.count) > 0) | col(AlertRow.send_error).is_not(None))
                    .order_by(col(AlertRow.last_at).desc())
                    .limit(100)
                ).all()
            return AlertState(settings, list(batches))

        return await self.sync(read)

    async def settings(self) -> AlertSettings | None:
        """Where alerts go (``None``: nowhere, alerts are off)."""
        return (await self.state()).settings

    async def pending(self, flow_id: str) -> AlertRow | None:
        """The alert batch of one flow, if it has one."""

        def read() -> AlertRow | None:
            with self.session() as s:
                return s.get(AlertRow, flow_subject(flow_id))

        return await self.sync(read)

    async def configure(self, settings: AlertSettings) -> AlertSettings:
        """Send alerts as ``settings`` says; raises :class:`Invalid` naming what is wrong."""

        def write() -> None:
            with self.session(write=True) as s:
                conn = s.exec(
                    select(ConnectionRow).where(ConnectionRow.name == settings.connection)
                ).first()
                self._check(settings, conn.app if conn else None)
                row = s.get(InstallSettingRow, SETTINGS_KEY) or InstallSettingRow(
                    key=SETTINGS_KEY, value="", updated_at=0
                )
                row.value, row.updated_at = settings.model_dump_json(), time.time()
                s.add(row)
                s.commit()

        await self.sync(write)
        return settings

    def _check(self, settings: AlertSettings, app: str | None) -> None:
        if app is None:
            reason = _("no connection named %(name)r", name=settings.connection)
            raise Invalid([], {"connection": reason})
        try:
            step = alert_step(settings, app, test_message())
            _connector, action = self._registry.resolve(step.action)
        except (ValueError, LookupError) as exc:
            raise Invalid([], {"connection": str(exc)}) from exc
        try:
            action.Input.model_validate(step.input)
        except ValidationError as exc:
            what = _("give a Slack channel") if app == "slack" else _("give e-mail addresses")
            raise Invalid([], {"to": f"{describe(exc)} ({what})"}) from exc

    async def turn_off(self) -> None:
        """Send no more alerts; failures waiting to be told are forgotten."""

        def write() -> None:
            with self.session(write=True) as s:
                s.exec(delete(InstallSettingRow).where(col(InstallSettingRow.key) == SETTINGS_KEY))
                s.exec(delete(AlertRow))
                s.commit()

        await self.sync(write)

    async def send_test(self) -> str | None:
        """Send a test alert now; return why it could not be sent (``None``: it was)."""
        settings = await self.settings()
        if settings is None:
            raise Invalid([_("alerts are off: say first where they go")])

        def read() -> tuple[str | None, tuple[str | None, str | None]]:
            with self.session() as s:
                app = s.exec(
                    select(ConnectionRow.app).where(ConnectionRow.name == settings.connection)
                ).first()
                return app, owner_language(s.connection())

        app, language = await self.sync(read)
        with use_locale(*language):
            message = test_message()
        error, _transient = await self._sender.deliver(settings, app, message)
        return error

    @staticmethod
    def kinds() -> list[str]:
        """The kinds of connection alerts can go through."""
        return sorted(ALERT_ACTIONS)
