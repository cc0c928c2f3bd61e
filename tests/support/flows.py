"""Engine tests' flows and deliveries: a flow of probe steps saved through the store, and an
event delivered to its hook as the hook endpoint would, without HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from maillon.engine.flows import FlowSpec
from maillon.engine.intake import Accepted, Delivery
from maillon.engine.runtime import Runtime
from maillon.engine.store import Store

__all__ = ["ECHO", "TRANSACTION", "deliver", "make_flow"]

#: A Particeep-like transaction: the default event body.
TRANSACTION = {
    "id": "0f6c1c9e-5d1b-4f7e-9a55-2b8f5c0e1d11",
    "amount": 150000,
    "currency": "EUR",
    "status": "PENDING",
}

#: A probe step whose input renders templates from the event.
ECHO = {
    "key": "notify",
    "action": "probe.send_echo",
    "connection": "p1",
    "input": {"text": "{{ event.amount | money(event.currency) }} {{ event.status }}"},
}


def make_flow(store: Store, *steps: dict[str, Any], **extra: Any) -> tuple[str, str]:
    """Save a flow (and the probe connection ``p1`` its steps use); return (flow id, hook token)."""
    if "p1" not in store.connection_apps():
        store.save_connection("probe", "p1", {"label": "conn-label", "api_key": "k"})
    spec = FlowSpec.model_validate({"name": "test", "steps": list(steps), **extra})
    row = store.save_flow(spec)
    return row.id, row.hook_token


def deliver(runtime: Runtime, token: str, body: Any = None, key: str | None = None) -> Accepted:
    """Deliver ``body`` (default :data:`TRANSACTION`) to the hook ``token``; return once stored."""
    body = TRANSACTION if body is None else body
    delivery = Delivery(token, body, json.dumps(body), {"method": "POST"}, key)
    return asyncio.run(runtime.deliver(delivery))
