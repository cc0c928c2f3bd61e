"""Receiving deliveries: what the hook endpoints hand over, turned into stored events and runs.

The web layer reads the request (size limit, content type, JSON or form) and gives the parsed
body and its metadata to one of these methods; everything else is decided here: which flow or
app trigger a URL belongs to, the delivery's dedup key, and which flows run. The answer comes
once the event and its runs are committed by the writer thread (:mod:`maillon.engine.intake`).

This is the hot path: no thread hop, no database read outside the writer's batches.
"""

from __future__ import annotations

import re
from typing import Any

from maillon.connectors.registry import Registry
from maillon.engine.errors import Invalid
from maillon.engine.intake import Accepted, Delivery, SourceDelivery, UnknownHook
from maillon.engine.wakeup import Wakeup
from maillon.engine.writer import Op, Writer

__all__ = ["Hooks"]

_MAX_IDEMPOTENCY_KEY = 500
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


class Hooks:
    """The engine side of ``/hooks/<token>`` and ``/hooks/<app>/<token>/<event>``."""

    def __init__(
        self, writer: Writer, wakeup: Wakeup, registry: Registry, source_dedup_window: float
    ) -> None:
        self._writer = writer
        self._wakeup = wakeup
        self._registry = registry
        self._window = source_dedup_window

    async def webhook(
        self, token: str, body: Any, body_text: str, meta: dict[str, Any]
    ) -> Accepted:
        """A delivery to a flow's webhook URL.

        An ``Idempotency-Key`` header (in ``meta["headers"]``, names lower-cased) seen before
        for the flow makes it a duplicate. Raises :class:`UnknownHook` or :class:`Invalid`.
        """
        key = meta["headers"].get("idempotency-key")
        if key is not None and not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY:
            raise Invalid([f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters"])
        return await self._deliver(Delivery(token, body, body_text, meta, key))

    async def app_event(
        self, app: str, token: str, event: str, body: Any, body_text: str, meta: dict[str, Any]
    ) -> Accepted:
        """A delivery of ``event`` to an app account's URL, for every enabled flow on it.

        The app's trigger for that event names the dedup key (by default the entity id and a
        digest of its content). Raises :class:`UnknownHook` for an app, account or event name
        that no URL of this install has.
        """
        connector = self._registry.get(app)
        trigger = connector.trigger_for(event) if connector and _EVENT_NAME.match(event) else None
        if trigger is None:
            raise UnknownHook(token)
        op = SourceDelivery(
            token=token,
            body=body,
            body_text=body_text,
            meta=meta,
            app=app,
            event=event,
            dedup_key=trigger().dedup_key(event, body),
            dedup_window=self._window,
        )
        return await self._deliver(op)

    async def _deliver(self, op: Op[Accepted]) -> Accepted:
        accepted = await self._writer.submit(op)
        if accepted.run_ids and not accepted.held and not accepted.duplicate:
            self._wakeup.notify()
        return accepted
