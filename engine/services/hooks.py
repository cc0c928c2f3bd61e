"""Receiving deliveries: what the hook endpoints hand over, turned into stored events and runs.

The web layer reads the request (size limit, content type, JSON or form) and gives the parsed
body and its metadata to one of these methods; everything else is decided here: which flow or
app trigger a URL belongs to, the delivery's dedup key, and which flows run. The answer comes
once the event and its runs are committed by the writer thread (:mod:`maillon.engine.intake`).

This is the hot path: no thread hop, no database read outside the writer's batches. The one
exception is a flow whose trigger renders a dedup key: its template is rendered in a worker
thread before the delivery goes to the writer (the writer says which template, once; it is
remembered per hook with its flow version).

A client address that keeps posting to hook URLs that do not exist is answered 429 for a
while (:mod:`maillon.engine.limits`); every refusal, here or in the web layer (which reports
its own through :meth:`Hooks.refused`), is counted by reason for the metrics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from maillon.connectors.registry import Registry
from maillon.engine.crypto import SecretBox
from maillon.engine.errors import Invalid, RateLimited
from maillon.engine.intake import (
    Accepted,
    DedupNeeded,
    Delivery,
    SignatureRejected,
    SourceDelivery,
    UnknownHook,
    render_dedup,
)
from maillon.engine.limits import FailureLimit
from maillon.engine.metrics import Metrics, Refusal
from maillon.engine.payloads import nests_deeper
from maillon.engine.redaction import mask_credentials
from maillon.engine.templating import DEFAULT_BUDGET, Budget, render_unblocking
from maillon.engine.wakeup import Wakeup
from maillon.engine.writer import Op, Writer, WriterStopped

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
        unknown_limit: FailureLimit,
        metrics: Metrics,
        box: SecretBox,
    ) -> None:
        self._writer = writer
        self._wakeup = wakeup
        self._registry = registry
        self._window = source_dedup_window
        self._budget = budget
        self._dedup: dict[str, tuple[int, str]] = {}
        self._max_depth = max_depth
        self._masked = tuple(masked)
        self._unknown = unknown_limit
        self._metrics = metrics
        self._delivered = metrics.delivered
        self._box = box

    def _screen(
        self, body: Any, body_text: str, meta: dict[str, Any]
    ) -> tuple[Any, str, dict[str, Any]]:
        """Refuse a body nested too deeply; mask the sender's credentials before anything is
        stored (in the headers and the query, and in a body made of the query)."""
        if nests_deeper(body, body_text, self._max_depth):
            raise Invalid(
                [f"the body nests objects and lists deeper than {self._max_depth} levels"]
            )
        masked_meta, masked = mask_credentials(meta, self._masked)
        if masked and isinstance(body, dict) and body == meta.get("query"):
            body = masked_meta["query"]  # the body is the query: masked the same
            body_text = msgspec.json.encode(body).decode()
        return body, body_text, masked_meta

    def refused(self, reason: str) -> None:
        """Count a delivery the web layer refused before handing it over (one of
        :class:`~maillon.engine.metrics.Refusal`)."""
        self._metrics.refused(reason)

    def admit(self, client: str) -> None:
        """Raise :class:`RateLimited` for a client that posted to too many unknown hooks.

        Called before the request's body is read, so that a refused client costs nothing
        more; its refusal is counted.
        """
        try:
            self._unknown.check(client)
        except RateLimited:
            self._metrics.refused(Refusal.RATE_LIMITED)
            raise

    async def webhook(
        self,
        token: str,
        body: Any,
        body_text: str,
        meta: dict[str, Any],
        client: str = "",
        raw: bytes = b"",
    ) -> Accepted:
        """A delivery to a flow's webhook URL from the address ``client``; ``raw`` is the body
        as posted (what a signature signs).

        An ``Idempotency-Key`` header (in ``meta["headers"]``, names lower-cased) seen before
        for the flow makes it a duplicate. Raises :class:`UnknownHook`, :class:`Invalid`, or
        :class:`SignatureRejected` when the flow checks signatures and this one does not hold
        (the delivery is then recorded as rejected, and counts against ``client`` as an
        unknown hook does).
        """
        body, body_text, meta = self._screen(body, body_text, meta)
        key = meta["headers"].get("idempotency-key")
        if key is not None and not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY:
            self._metrics.refused(Refusal.INVALID)
            raise Invalid([f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters"])
        known = self._dedup.get(token) if key is None else None
        for _ in range(_DEDUP_TRIES):
            rendered = None
            if known is not None:
                version, template = known
                value = await render_unblocking(
                    template, render_dedup, template, body, meta, self._budget
                )
                rendered = (version, value)
            delivery = Delivery(token, body, body_text, meta, key, rendered, raw=raw, box=self._box)
            try:
                return await self._deliver(delivery, client)
            except DedupNeeded as needed:
                known = (needed.version, needed.template)
                if len(self._dedup) >= _DEDUP_MEMORY:
                    self._dedup.clear()
                self._dedup[token] = known
        raise Invalid(["the flow changed while the delivery was received: send it again"])

    async def app_event(
        self,
        app: str,
        token: str,
        event: str,
        body: Any,
        body_text: str,
        meta: dict[str, Any],
        client: str = "",
    ) -> Accepted:
        """A delivery of ``event`` to an app account's URL, for every enabled flow on it.

        The app's trigger for that event names the dedup key (by default the entity id and a
        digest of its content). Raises :class:`UnknownHook` for an app, account or event name
        that no URL of this install has.
        """
        connector = self._registry.get(app)
        trigger = connector.trigger_for(event) if connector and _EVENT_NAME.match(event) else None
        if trigger is None:
            self._unknown_hook(client)
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
        return await self._deliver(op, client)

    async def _deliver(self, op: Op[Accepted], client: str) -> Accepted:
        try:
            accepted = await self._writer.submit(op)
        except UnknownHook:
            self._unknown_hook(client)
            raise
        except SignatureRejected:
            self._unknown.fail(client)
            self._metrics.refused(Refusal.SIGNATURE)
            raise
        except WriterStopped:
            self._metrics.refused(Refusal.UNAVAILABLE)
            raise
        self._delivered(accepted.status)
        if accepted.status == "queued":
            self._wakeup.notify()
        return accepted

    def _unknown_hook(self, client: str) -> None:
        self._unknown.fail(client)
        self._metrics.refused(Refusal.UNKNOWN_HOOK)
