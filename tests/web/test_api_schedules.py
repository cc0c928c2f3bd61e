"""Schedules and digests through the REST API: a served app fires a flow's schedule, shows
when it fires next, and releases a digest by hand."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import FLOW, Live, create_flow, hook, wait_run
from tests.support.probe import calls
from tests.support.wait import wait_for


def _echo(text: str) -> dict[str, Any]:
    """A probe step echoing ``text``."""
    return {"key": "echo", "action": "probe.send_echo", "connection": "p1", "input": {"text": text}}


def test_a_served_app_fires_a_schedule_and_says_when_next(live: Live) -> None:
    step = _echo("{{ event.scheduled_at }}")
    trigger = {"type": "schedule", "every": "1s", "timezone": "Europe/Paris"}
    flow = create_flow(live, trigger=trigger, steps=[step])
    assert flow["trigger"] == {**trigger, "cron": None, "missed": "run_once"}
    assert flow["hook_url"] is None  # nothing is delivered to a flow on a schedule

    runs = wait_for(lambda: live.client.get("/api/runs").json(), what="a tick's run")
    run = wait_run(live.client, runs[-1]["id"])
    assert run["steps"][0]["output"]["text"].endswith("+01:00")
    timing = live.client.get(f"/api/flows/{flow['id']}/timing").json()
    assert timing["schedule"] == "every 1s (Europe/Paris)"
    assert timing["next_tick"] > timing["last_tick"]
    assert timing["digest"] is None and timing["waiting"] == 0

    live.client.post(f"/api/flows/{flow['id']}/disable")
    assert live.client.get(f"/api/flows/{flow['id']}/timing").json()["next_tick"] is None


def test_a_digest_is_released_by_hand(live: Live) -> None:
    step = _echo("{{ event['items'] | join(', ') }}")
    digest = {"name": "daily", "item": "{{ event.status }}"}
    flow = create_flow(live, steps=[step], digest=digest)
    release = f"/api/flows/{flow['id']}/digest/release"
    empty = live.client.post(release)
    assert empty.status_code == 409
    assert empty.json()["detail"] == "nothing to release: its digest is empty"

    for status in ("PENDING", "SUCCEEDED", "REFUNDED"):
        answer = httpx.post(hook(live, flow), json={"status": status}).json()
        wait_run(live.client, answer["run_ids"][0])
    timing = live.client.get(f"/api/flows/{flow['id']}/timing").json()
    assert timing["digest"] == "daily" and timing["waiting"] == 3
    assert not calls.log  # collected, not run

    released = live.client.post(release).json()
    assert released["count"] == 3 and released["held"] is False
    run = wait_run(live.client, released["run_id"])
    assert run["steps"][0]["output"]["text"] == "PENDING, SUCCEEDED, REFUNDED"
    assert live.client.get(f"/api/flows/{flow['id']}/timing").json()["waiting"] == 0


def test_a_schedule_that_cannot_be_read_says_every_reason(live: Live) -> None:
    bad = {
        **FLOW,
        "trigger": {"type": "schedule", "cron": "0 18 * * 8", "timezone": "Paris"},
        "digest": {"name": "daily", "release": {"count": 0}},
    }
    r = live.client.post("/api/flows", json=bad)
    # A body that is not a flow at all is refused before the save checks, as any such body is.
    assert r.status_code == 400
    assert [(e["key"], e["message"].removeprefix("Value error, ")) for e in r.json()["extra"]] == [
        (
            "trigger.schedule.cron",
            "'0 18 * * 8' is not a cron expression: '8' is not a day of week (0-7, Sunday being "
            "0 or 7, or sun-sat)",
        ),
        (
            "trigger.schedule.timezone",
            "unknown time zone 'Paris' (an IANA name such as Europe/Paris or UTC)",
        ),
        ("digest.release.count", "Input should be greater than or equal to 1"),
    ]
