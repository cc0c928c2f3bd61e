"""Driving a served app the way a client does: a probe flow created over the REST API, its hook
URL, and waiting for one of its runs to reach a status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from maillon.engine.runtime import Runtime
from tests.support.services import Blocking
from tests.support.wait import wait_for

__all__ = ["FLOW", "Live", "create_flow", "hook", "wait_run"]


@dataclass
class Live:
    """The app served on 127.0.0.1 (the ``live`` fixture of tests/web)."""

    url: str
    client: httpx.Client  # authenticated
    services: Blocking
    runtime: Runtime


#: A webhook flow with one probe step that echoes the event's ``status`` (or the query's).
FLOW = {
    "name": "hook test",
    "steps": [
        {
            "key": "echo",
            "action": "probe.send_echo",
            "connection": "p1",
            "input": {"text": "{{ event.status | default(request.query.status | default('-')) }}"},
        }
    ],
}


def create_flow(live: Live, **extra: Any) -> dict[str, Any]:
    """Create :data:`FLOW` (with ``extra`` fields), and the probe connection it uses."""
    if not live.client.get("/api/connections/p1").is_success:
        live.client.post("/api/connections", json={"app": "probe", "name": "p1", "values": {}})
    r = live.client.post("/api/flows", json={**FLOW, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def hook(live: Live, flow: dict[str, Any]) -> str:
    """The flow's hook URL on the live server (the API builds it from the public URL)."""
    return live.url + "/hooks/" + flow["hook_url"].rsplit("/", 1)[1]


def wait_run(client: httpx.Client, run_id: str, status: str = "succeeded") -> dict[str, Any]:
    """The run as the API shows it, once it has ``status``."""
    seen: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        seen.update(client.get(f"/api/runs/{run_id}").json())
        return seen if seen["status"] == status else None

    return wait_for(
        reached, what=lambda: f"run {run_id} to be {status} (it is {seen.get('status')}: {seen})"
    )
