"""Failure alerts: where they go, how failures are batched, and the sender that tells them.

A failure (a run that failed, an app that refused a webhook registration) adds to the batch of
its *subject* (one flow, or one event of one app account) in the transaction that records it
(:func:`add_to_batch`). A batch is due at once when its subject was quiet, else one interval
after the last message; each process's :class:`AlertSender` looks for due batches every few
seconds, takes one under a lease (so that of several processes one sends it), sends one message
with the count and the latest error, and keeps whatever failed meanwhile for the next message.
A storm of a thousand failures is thus one message per interval, and a batch survives restarts.

Messages go through a connector action like any step (Slack, SMTP or Gmail), found through the
registry: :data:`ALERT_ACTIONS` names the action for each kind of connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, or_, select, update

from maillon.engine.db import driver_execute, driver_query, for_writes, write_turns
from maillon.engine.flows import StepSpec
from maillon.engine.i18n import current_time_zone, format_when, ngettext, use_locale
from maillon.engine.i18n import gettext as _
from maillon.engine.links import flow_url, run_url
from maillon.engine.models import AlertRow, ConnectionRow, FlowRow

if TYPE_CHECKING:
    # The executor records failures, which add to alert batches: imported for types only.
    from maillon.engine.executor import Executor

__all__ = [
    "ALERT_ACTIONS",
    "SETTINGS_KEY",
    "AlertMessage",
    "AlertSender",
    "AlertSettings",
    "add_to_batch",
    "alert_step",
    "compose",
    "flow_subject",
    "owner_language",
    "read_settings",
    "source_subject",
    "test_message",
]

log = logging.getLogger(__name__)

#: The action that carries an alert, by kind of connection.
ALERT_ACTIONS = {
    "slack": "slack.send_message",
    "smtp": "smtp.send_email",
    "google": "gmail.send_email",
}
#: Where the alert settings are kept in ``install_settings``.
SETTINGS_KEY = "alerts"
#: Longest latest error kept in a batch (the run's page has all of it).
_MAX_ERROR = 2000


class AlertSettings(BaseModel):
    """Where failure alerts go: a Slack channel, or e-mail addresses, through a connection."""

    connection: str = Field(
        min_length=1,
        max_length=200,
        description="Name of a Slack, SMTP or Google connection that sends the alerts.",
    )
    to: str = Field(
        min_length=1,
        max_length=1000,
        description="A Slack channel (#ops, or its ID) or e-mail addresses, comma-separated.",
        examples=["#ops", "backoffice@example.com"],
    )
    interval: float = Field(
        3600.0,
        ge=1,
        le=7 * 86400,
        description="Seconds between two messages about the same flow: the failures in "
        "between are told together, with their count and the latest error.",
    )


def flow_subject(flow_id: str) -> str:
    """The batch of a flow's failed runs."""
    return f"flow:{flow_id}"


def source_subject(connection_id: str, event: str) -> str:
    """The batch of an app's refusals to post one event to this install."""
    return f"source:{connection_id}:{event}"


def read_settings(conn: Connection) -> AlertSettings | None:
    """The alert settings, read in ``conn``'s transaction (``None``: alerts are off)."""
    rows = driver_query(conn, "SELECT value FROM install_settings WHERE key = ?", [SETTINGS_KEY])
    return AlertSettings.model_validate_json(rows[0][0]) if rows else None


# One statement adds a failure whatever the row's state, so that two processes failing runs of
# the same flow at once never lose a count. Due: at once when nothing was sent in the last
# interval, else one interval after the last message; a batch already due keeps its time.
_ADD = (
    "INSERT INTO alerts (subject, flow_id, label, count, first_at, last_at, latest, "
    "latest_run_id, paused, due_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (subject) DO UPDATE SET count = alerts.count + 1, label = excluded.label, "
    "first_at = COALESCE(alerts.first_at, excluded.first_at), last_at = excluded.last_at, "
    "latest = excluded.latest, latest_run_id = excluded.latest_run_id, "
    "paused = (alerts.paused OR excluded.paused), "
    "due_at = COALESCE(alerts.due_at, CASE WHEN alerts.last_sent_at + ? > excluded.due_at "
    "THEN alerts.last_sent_at + ? ELSE excluded.due_at END)"
)


def add_to_batch(
    conn: Connection,
    settings: AlertSettings,
    subject: str,
    *,
    label: str,
    error: str,
    now: float,
    flow_id: str | None = None,
    run_id: str | None = None,
    paused: bool = False,
) -> None:
    """Count one failure in ``subject``'s batch, in ``conn``'s transaction."""
    interval = settings.interval
    driver_execute(
        conn,
        _ADD,
        [
            subject,
            flow_id,
            label[:300],
            now,
            now,
            error[:_MAX_ERROR],
            run_id,
            paused,
            now,
            interval,
            interval,
        ],
    )


@dataclass(frozen=True)
class AlertMessage:
    """An alert in words: a title (an e-mail's subject) and its text."""

    title: str
    text: str


def owner_language(conn: Connection) -> tuple[str | None, str | None]:
    """The owner's language and time zone (alerts are written for them), read in ``conn``."""
    rows = driver_query(conn, "SELECT locale, time_zone FROM users WHERE role = 'owner'")
    return (rows[0][0], rows[0][1]) if rows else (None, None)


def compose(row: AlertRow, name: str | None, base_url: str) -> AlertMessage:
    """The message telling ``row``'s batch, in the language of the moment (the sender sets the
    owner's); ``name``: its flow's name now (``None`` once the flow is gone).

    Times have their seconds (failures told together are often a minute's), and the last one
    its time zone: the message is read in a mailbox or a channel, away from the UI's settings.
    """
    last = f"{format_when(row.last_at or 0, seconds=True)} ({current_time_zone()})"
    if row.subject.startswith("source:"):
        # Its words were written, in the owner's language, when the app refused.
        what = row.label[:1].upper() + row.label[1:]
        head = ngettext(
            "%(what)s (at %(when)s).",
            "%(what)s (%(num)s times, the last at %(when)s).",
            row.count,
            what=what,
            when=last,
        )
        return AlertMessage(_("Maillon: %(what)s", what=row.label), f"{head}\n{row.latest}")
    flow = name or row.label
    lines = [
        ngettext(
            "The flow “%(flow)s” failed at %(last)s.",
            "The flow “%(flow)s” failed %(num)s times between %(first)s and %(last)s.",
            row.count,
            flow=flow,
            first=format_when(row.first_at or row.last_at or 0, seconds=True),
            last=last,
        ),
        _("Latest error: %(error)s", error=row.latest),
    ]
    if row.latest_run_id:
        lines.append(_("The run: %(url)s", url=run_url(base_url, row.latest_run_id)))
    if row.paused and row.flow_id:
        lines.append(
            _(
                "Maillon paused the flow after too many failed runs in a row: its new "
                "deliveries are held, not lost. Once the cause is fixed, resume it (its held "
                "runs then run) on %(url)s, or with `maillon flows resume %(id)s`.",
                url=flow_url(base_url, row.flow_id),
                id=row.flow_id,
            )
        )
    title = ngettext(
        "Maillon: “%(flow)s” failed",
        "Maillon: “%(flow)s” failed %(num)s times",
        row.count,
        flow=flow,
    )
    return AlertMessage(title, "\n".join(lines))


def test_message() -> AlertMessage:
    """A test alert, in the language of the moment, so that whoever receives it knows."""
    return AlertMessage(
        _("Maillon: test alert"),
        _("This is a test: failure alerts of Maillon reach this address. Nothing failed."),
    )


def alert_step(settings: AlertSettings, app: str, message: AlertMessage) -> StepSpec:
    """The step that sends ``message`` through the settings' connection (of kind ``app``).

    Its input is given as it is, never rendered: an error's words may hold ``{{``.
    """
    action = ALERT_ACTIONS.get(app)
    if action is None:
        raise ValueError(
            _(
                "connection %(name)r is a %(app)s connection: alerts go through a %(kinds)s "
                "connection",
                name=settings.connection,
                app=app,
                kinds=", ".join(sorted(ALERT_ACTIONS)),
            )
        )
    if app == "slack":
        data: dict[str, Any] = {
            "channel": settings.to,
            "text": f"*{message.title}*\n{message.text}",
        }
    else:
        data = {"to": settings.to, "subject": message.title, "text": message.text}
    return StepSpec(key="alert", action=action, connection=settings.connection, input=data)


_alerts = AlertRow.__table__  # type: ignore[attr-defined]
_flows = FlowRow.__table__  # type: ignore[attr-defined]
_connections = ConnectionRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Claim:
    """Batches taken to be told, and what their messages need: the settings, the kind of
    their connection, the flows' names now, and the owner's language and time zone."""

    rows: list[AlertRow]
    settings: AlertSettings | None
    app: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    language: tuple[str | None, str | None] = (None, None)


class AlertSender:
    """Sends the due batches of failures; one per process, safe with several processes.

    ``lease_seconds`` must outlast the sending of a message (a step's timeout), or another
    process could take the batch and tell it twice.
    """

    def __init__(
        self,
        db: Engine,
        executor: Executor,
        base_url: str,
        *,
        poll_interval: float,
        lease_seconds: float,
        retry_delay: float,
    ) -> None:
        self._db = db
        self._executor = executor
        self._base_url = base_url
        self._poll = poll_interval
        self._lease = lease_seconds
        self._retry = retry_delay
        self.name = f"{socket.gethostname()}:{os.getpid()}:alerts:{id(self):x}"

    async def run(self, stop: asyncio.Event) -> None:
        """Send due batches every ``poll_interval`` seconds until ``stop`` is set."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll)
            if stop.is_set():
                return
            try:
                await self.send_due()
            except Exception:
                # A database hiccup must not end the loop: the batches wait for the next look.
                log.exception("sending failure alerts failed; trying again shortly")

    async def send_due(self, now: float | None = None) -> int:
        """Send every batch due at ``now`` (default: the time); return how many were sent."""
        now = time.time() if now is None else now
        claim = await asyncio.to_thread(self._claim, now)
        sent = 0
        for row in claim.rows:
            assert claim.settings is not None
            with use_locale(*claim.language):
                message = compose(row, claim.names.get(row.flow_id or ""), self._base_url)
            error, transient = await self.deliver(claim.settings, claim.app, message)
            await asyncio.to_thread(self._settle, row, claim.settings, now, error, transient)
            sent += error is None
        return sent

    async def deliver(
        self, settings: AlertSettings, app: str | None, message: AlertMessage
    ) -> tuple[str | None, bool]:
        """Send one message; return why it could not be sent (``None``: sent) and whether that
        is worth another try soon."""
        if app is None:
            return _("no connection named %(name)r", name=settings.connection), False
        try:
            step = alert_step(settings, app, message)
        except ValueError as exc:
            return str(exc), False
        trial = await self._executor.call_once(step, f"alert:{time.time_ns()}")
        return trial.error, trial.transient

    def _claim(self, now: float) -> _Claim:
        """Take the due batches under a lease, with what their messages need."""
        with write_turns(self._db), for_writes(self._db).begin() as conn:
            settings = read_settings(conn)
            if settings is None:
                return _Claim([], None)
            pick = (
                select(_alerts.c.subject)
                .where(
                    _alerts.c.due_at <= now,
                    _alerts.c.count > 0,
                    or_(_alerts.c.lease_expires_at.is_(None), _alerts.c.lease_expires_at < now),
                )
                .order_by(_alerts.c.due_at)
                .limit(50)
            )
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            subjects = list(conn.execute(pick).scalars())
            if not subjects:
                return _Claim([], settings)
            conn.execute(
                update(_alerts)
                .where(_alerts.c.subject.in_(subjects))
                .values(lease_owner=self.name, lease_expires_at=now + self._lease)
            )
            rows = [
                AlertRow.model_validate(r._mapping)
                for r in conn.execute(select(_alerts).where(_alerts.c.subject.in_(subjects)))
            ]
            app = conn.execute(
                select(_connections.c.app).where(_connections.c.name == settings.connection)
            ).scalar()
            flow_ids = [r.flow_id for r in rows if r.flow_id]
            found = conn.execute(
                select(_flows.c.id, _flows.c.name).where(_flows.c.id.in_(flow_ids))
            )
            names = {flow_id: name for flow_id, name in found}
            return _Claim(rows, settings, app, names, owner_language(conn))

    def _settle(
        self,
        row: AlertRow,
        settings: AlertSettings,
        now: float,
        error: str | None,
        transient: bool,
    ) -> None:
        """Record the outcome: failures told are taken off the batch (those that came while
        the message was sent stay for the next one, due an interval later); a message that
        could not be sent is tried again later, the batch still growing meanwhile."""
        mine = (_alerts.c.subject == row.subject) & (_alerts.c.lease_owner == self.name)
        with write_turns(self._db), for_writes(self._db).begin() as conn:
            if error is None:
                left = _alerts.c.count - row.count
                # A pause told is cleared; one that came while the message was sent stays
                # for the next message.
                told = conn.execute(
                    update(_alerts)
                    .where(mine)
                    .values(
                        count=left,
                        paused=_alerts.c.paused if not row.paused else False,
                        last_sent_at=now,
                        send_error=None,
                        first_at=None,
                        due_at=None,
                        lease_owner=None,
                        lease_expires_at=None,
                    )
                )
                if told.rowcount:
                    # Failures added meanwhile: the next message, an interval from now.
                    conn.execute(
                        update(_alerts)
                        .where(_alerts.c.subject == row.subject, _alerts.c.count > 0)
                        .values(first_at=_alerts.c.last_at, due_at=now + settings.interval)
                    )
                return
            log.warning("alert about %s not sent: %s", row.subject, error)
            delay = min(self._retry, settings.interval) if transient else settings.interval
            conn.execute(
                update(_alerts)
                .where(mine)
                .values(
                    send_error=error[:_MAX_ERROR],
                    due_at=now + delay,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
