"""A JSON array or a scalar is an event like an object: ``event`` is that list or value."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import Live, create_flow, hook, wait_run


@pytest.mark.parametrize(
    ("body", "text", "rendered"),
    [
        ([{"id": "tx-1"}, {"id": "tx-2"}], "{{ event[0].id }}+{{ event | length - 1 }}", "tx-1+1"),
        ("hello", "got {{ event }}", "got hello"),
        (42, "twice: {{ event * 2 }}", "twice: 84"),
    ],
)
def test_a_list_or_a_scalar_body_is_the_event(
    live: Live, body: Any, text: str, rendered: str
) -> None:
    steps = [
        {"key": "echo", "action": "probe.send_echo", "connection": "p1", "input": {"text": text}}
    ]
    flow = create_flow(live, steps=steps)
    answer = httpx.post(hook(live, flow), json=body)
    assert answer.status_code == 200, answer.text
    run = wait_run(live.client, answer.json()["run_ids"][0])
    assert run["steps"][0]["output"]["text"] == rendered
    event = live.client.get(f"/api/events/{answer.json()['event_id']}").json()
    assert event["body"] == body
