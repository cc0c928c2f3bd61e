"""Keep the webhooks registered on a Particeep account in line with what Maillon listens to.

Maillon gives each Particeep account one secret URL per event (``<prefix><event>``), shared by
every flow that listens to that event. The functions here compare what Particeep has with what
is wanted and fix the difference, touching only webhooks whose URL starts with this install's
hook prefix: a customer's other webhooks (their CRM, their own servers) are never deleted.

Who calls what (through :class:`~maillon.connectors.particeep.trigger.ParticeepEvent`):

- an enabled flow on event ``E`` is saved, a flow on ``E`` is enabled, or
  ``POST /api/flows/{id}/subscribe`` retries a refused registration → :func:`ensure_registered`
  (``E``, ``hook_url(prefix, E)``);
- the last enabled flow on ``E`` is disabled, deleted or moved to another event →
  :func:`ensure_unregistered` (same arguments);
- ``maillon sources repair`` → :func:`repair_drift` with the set of ``(event, url)`` that enabled
  flows need; ``maillon sources status`` → :func:`plan_drift` alone (a dry run). Nothing runs
  them on its own: drift (a webhook deleted in Particeep's back office) stays until then.

Particeep offers no transaction over its API, so two processes registering the same event at
the same moment could both create it. The engine serialises registration per account and event
(across processes too, on PostgreSQL); :func:`repair_drift` removes a duplicate made any other
way (by hand in Particeep's back office, say).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from maillon.connectors.particeep.models import Webhook
from maillon.connectors.sdk import PermanentError

if TYPE_CHECKING:
    from maillon.connectors.particeep.client import ParticeepClient

__all__ = [
    "MAX_WEBHOOKS_PER_EVENT",
    "DriftPlan",
    "DriftRepair",
    "ensure_registered",
    "ensure_unregistered",
    "hook_url",
    "plan_drift",
    "repair_drift",
]

#: Particeep's published limit. Only used to explain a refusal; Particeep enforces it.
MAX_WEBHOOKS_PER_EVENT = 5


class DriftPlan(NamedTuple):
    """What to change on Particeep: ``(event, url)`` pairs to create, webhooks to delete."""

    to_create: list[tuple[str, str]]
    to_delete: list[Webhook]


@dataclass
class DriftRepair:
    """What :func:`repair_drift` did, and what Particeep refused (``(event, url, message)``)."""

    created: list[Webhook] = field(default_factory=list)
    deleted: list[Webhook] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def hook_url(url_prefix: str, event: str) -> str:
    """The URL for ``event`` under a source's hook prefix (``.../hooks/particeep/<token>/``)."""
    return url_prefix.rstrip("/") + "/" + event


async def ensure_registered(client: ParticeepClient, event: str, url: str) -> Webhook:
    """Make sure Particeep posts ``event`` to ``url``; return that webhook.

    Lists first and creates only when no webhook has exactly this event and URL, so calling it
    again (a retry, a second flow on the same event) never registers a second copy.

    Raises :class:`~maillon.connectors.sdk.PermanentError` with Particeep's message when it
    refuses (for example when the event already has its maximum of webhooks).
    """
    existing = await client.list_webhooks()
    for webhook in existing:
        if webhook.name == event and webhook.url == url:
            return webhook
    try:
        return await client.create_webhook(event, url)
    except PermanentError as exc:
        taken = sum(1 for w in existing if w.name == event)
        if taken >= MAX_WEBHOOKS_PER_EVENT:
            # Name the likely cause in words a back-office user can act on, after Particeep's.
            raise type(exc)(
                f"{exc.message} ({taken} webhooks already exist for {event}; Particeep accepts"
                f" at most {MAX_WEBHOOKS_PER_EVENT} per event: remove one in Particeep's back"
                " office, menu Webhook)",
                details={**exc.details, "webhooks_for_event": taken},
            ) from exc
        raise


async def ensure_unregistered(client: ParticeepClient, event: str, url: str) -> list[Webhook]:
    """Remove every webhook with exactly this event and URL; return the ones removed.

    Idempotent: nothing registered is not an error, and a webhook deleted meanwhile by someone
    else (404) counts as removed.
    """
    removed: list[Webhook] = []
    for webhook in await client.list_webhooks():
        if webhook.name == event and webhook.url == url:
            await _delete(client, webhook)
            removed.append(webhook)
    return removed


def plan_drift(
    existing: Iterable[Webhook], wanted: Set[tuple[str, str]], url_prefix: str
) -> DriftPlan:
    """Compare Particeep's webhooks with the ``(event, url)`` pairs that should exist.

    Only webhooks whose URL starts with ``url_prefix`` are this install's to manage: those not
    wanted, and second copies of wanted ones, are to delete; wanted pairs missing are to create.
    End the prefix with ``/`` (``https://host/hooks/particeep/<token>/``) so that one token
    cannot be a prefix of another.
    """
    outside = sorted(url for _, url in wanted if not url.startswith(url_prefix))
    if outside:
        # Such a webhook could be created but never cleaned up again: refuse the plan.
        raise ValueError(f"wanted URLs outside the prefix {url_prefix!r}: {outside}")
    seen: set[tuple[str, str]] = set()
    to_delete: list[Webhook] = []
    for webhook in existing:
        if not webhook.url.startswith(url_prefix):
            continue
        pair = (webhook.name, webhook.url)
        if pair in wanted and pair not in seen:
            seen.add(pair)
        else:
            to_delete.append(webhook)
    return DriftPlan(to_create=sorted(wanted - seen), to_delete=to_delete)


async def repair_drift(
    client: ParticeepClient, wanted: Set[tuple[str, str]], url_prefix: str
) -> DriftRepair:
    """Apply :func:`plan_drift` to the account: delete first (freeing slots), then create.

    A refusal of one webhook (a permanent error) is recorded in ``failed`` and the rest goes on;
    a transient error (Particeep down) is raised, since trying later is the only fix.
    """
    plan = plan_drift(await client.list_webhooks(), wanted, url_prefix)
    report = DriftRepair()
    for webhook in plan.to_delete:
        try:
            await _delete(client, webhook)
        except PermanentError as exc:
            report.failed.append((webhook.name, webhook.url, exc.message))
        else:
            report.deleted.append(webhook)
    for event, url in plan.to_create:
        try:
            report.created.append(await client.create_webhook(event, url))
        except PermanentError as exc:
            report.failed.append((event, url, exc.message))
    return report


async def _delete(client: ParticeepClient, webhook: Webhook) -> None:
    try:
        await client.delete_webhook(webhook.id)
    except PermanentError as exc:
        if exc.details.get("status") != 404:
            raise
