"""Receiving deliveries: what the hook endpoints hand over, turned into stored events and runs.

The web layer reads the request (size limit, content type, JSON or form) and gives the parsed
body and its metadata to one of these methods; everything else is decided here: which flow or
app trigger a URL belongs to, the delivery's dedup key, and which flows run. The answer comes
once the event and its runs are committed by the writer thread (:mod:`maillon.engine.intake`).

This is the hot path: no thread hop, no database read outside the writer's batches. The one
exception is a flow whose trigger renders a dedup key: its template is rendered in a worker
thread before the delivery goes to the writer (the writer says which template, once; it is
remembered per hook with its flow version).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import msgspec

from maillon.connectors.registry import Registry
from maillon.engine.errors import Invalid
from maillon.engine.intake import (
    Accepted,
    DedupNeeded,
    Delivery,
    SourceDelivery,
    UnknownHook,
    render_dedup,
)
from maillon.engine.payloads import nesting_depth
from maillon.engine.redaction import mask_credentials, mask_fields
from maillon.engine.templating import DEFAULT_BUDGET, Budget
from maillon.engine.wakeup import Wakeup
from maillon.engine.writer import Op, Writer

__all__ = ["Hooks"]

_MAX_IDEMPOTENCY_KEY = 500
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
#: Hooks whose dedup template is remembered (flow version, template); past it, forgotten.
_DEDUP_MEMORY = 4096
#: Deliveries again after the flow changed while one was being received.
_DEDUP_TRIES = 3


class Hooks:
    """The engine side of ``/hooks/<token>`` and ``/hooks/<app>/<token>/<event>``."""

    def __init__(
        self,
        writer: Writer,
        wakeup: Wakeup,
        registry: Registry,
        source_dedup_window: float,
        budget: Budget = DEFAULT_BUDGET,
        *,
        max_depth: int = 64,
        masked: Sequence[str] = (),
    ) -> None:
        self._writer = writer
        self._wakeup = wakeup
        self._registry = registry
        self._window = source_dedup_window
        self._budget = budget
        self._dedup: dict[str, tuple[int, str]] = {}
        self._max_depth = max_depth
        self._masked = tuple(masked)

    def _screen(
        self, body: Any, body_text: str, meta: dict[str, Any]
    ) -> tuple[Any, str, dict[str, Any]]:
        """Refuse a body nested too deeply; mask the sender's credentials before anything is
        stored (in the headers and the query, and in a body made of the query)."""
        if nesting_depth(body, self._max_depth) > self._max_depth:
            raise Invalid(
                [f"the body nests objects and lists deeper than {self._max_depth} levels"]
            )
        masked_meta, masked = mask_credentials(meta, self._masked)
        if masked and isinstance(body, dict) and body == meta.get("query"):
            body = mask_fields(body, masked)
            body_text = msgspec.json.encode(body).decode()
        return body, body_text, masked_meta

    async def webhook(
        self, token: str, body: Any, body_text: str, meta: dict[str, Any]
    ) -> Accepted:
        """A delivery to a flow's webhook URL.

        An ``Idempotency-Key`` header (in ``meta["headers"]``, names lower-cased) seen before
        for the flow makes it a duplicate. Raises :class:`UnknownHook` or :class:`Invalid`.
        """
        body, body_text, meta = self._screen(body, body_text, meta)
        key = meta["headers"].get("idempotency-key")
        if key is not None and not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY:
            raise Invalid([f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters"])
        known = self._dedup.get(token) if key is None else None
        for _ in range(_DEDUP_TRIES):
            rendered = None
            if known is not None:
                version, template = known
                value = await anyio.to_thread.run_sync(
                    render_dedup, template, body, meta, self._budget
                )
                rendered = (version, value)
            try:
                return await self._deliver(Delivery(token, body, body_text, meta, key, rendered))
            except DedupNeeded as needed:
                known = (needed.version, needed.template)
                if len(self._dedup) >= _DEDUP_MEMORY:
                    self._dedup.clear()
                self._dedup[token] = known
        raise Invalid(["the flow changed while the delivery was received: send it again"])

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
        body, body_text, meta = self._screen(body, body_text, meta)
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
