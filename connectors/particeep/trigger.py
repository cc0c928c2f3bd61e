"""The ``particeep.event`` trigger: one URL per event, registered on Particeep automatically."""

from __future__ import annotations

from collections.abc import Sequence

from maillon.connectors.particeep.connection import ParticeepConnection
from maillon.connectors.particeep.events import load_events
from maillon.connectors.particeep.webhooks import (
    ensure_registered,
    ensure_unregistered,
    plan_drift,
    repair_drift,
)
from maillon.connectors.sdk import AppTrigger, ConnectionCheck, SyncReport, TriggerEvent

__all__ = ["ParticeepEvent", "check_connection"]


class ParticeepEvent(AppTrigger[ParticeepConnection]):
    """Runs flows when Particeep posts an event (a bare entity: user, transaction, ...).

    Particeep puts no event name in the body, so the URL says which event it is; deliveries are
    deduplicated on the entity id and its content (the default of
    :class:`~maillon.connectors.AppTrigger`).
    """

    key = "event"
    title = "Particeep event"
    description = "A user, transaction, fundraise or document event on a Particeep account."
    custom_events = True

    def events(self) -> Sequence[TriggerEvent]:
        return [
            TriggerEvent(
                name=e.name,
                description=e.description,
                sample=e.sample_payload(),
                entity=e.entity,
                confirmed=not e.inferred,
                title=e.title,
                translations={
                    locale: {"title": text.title, "description": text.description}
                    for locale, text in e.translations.items()
                },
            )
            for e in load_events()
        ]

    async def subscribe(self, conn: ParticeepConnection, event: str, url: str) -> None:
        async with conn.client() as client:
            await ensure_registered(client, event, url)

    async def unsubscribe(self, conn: ParticeepConnection, event: str, url: str) -> None:
        async with conn.client() as client:
            await ensure_unregistered(client, event, url)

    async def sync(
        self,
        conn: ParticeepConnection,
        wanted: set[tuple[str, str]],
        url_prefix: str,
        *,
        dry_run: bool,
    ) -> SyncReport:
        async with conn.client() as client:
            existing = await client.list_webhooks()
            plan = plan_drift(existing, wanted, url_prefix)
            report = SyncReport(
                registered=sorted({(w.name, w.url) for w in existing if (w.name, w.url) in wanted})
            )
            if dry_run:
                report.created = list(plan.to_create)
                report.deleted = [(w.name, w.url) for w in plan.to_delete]
                return report
            repaired = await repair_drift(client, wanted, url_prefix)
        report.created = [(w.name, w.url) for w in repaired.created]
        report.deleted = [(w.name, w.url) for w in repaired.deleted]
        report.failed = list(repaired.failed)
        return report


async def check_connection(conn: ParticeepConnection) -> ConnectionCheck:
    """Make one authenticated call and say whether the keys work."""
    async with conn.client() as client:
        result = await client.check_connection()
    return ConnectionCheck(ok=result.ok, message=result.message)
