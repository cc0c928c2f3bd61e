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


def test_a_scheduled_flow_runs_now_by_hand_and_its_schedule_goes_on(live: Live) -> None:
    # Once a year: the schedule itself does not tick during the test.
    trigger = {"type": "schedule", "cron": "0 9 1 1 *", "timezone": "Europe/Paris"}
    flow = create_flow(live, trigger=trigger, steps=[_echo("by hand: {{ event.manual }}")])
    before = live.client.get(f"/api/flows/{flow['id']}/timing").json()

    r = live.client.post(f"/api/flows/{flow['id']}/run")
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["held"] is False
    run = wait_run(live.client, started["run_id"])
    assert run["steps"][0]["output"]["text"] == "by hand: True"
    event = live.client.get(f"/api/events/{started['event_id']}").json()
    assert event["source"] == "schedule" and event["body"]["missed"] is False
    assert event["request"]["run_by"] == "API token “tests”"
    # A second run by hand in the same second is not taken for a duplicate of the first.
    again = live.client.post(f"/api/flows/{flow['id']}/run").json()
    assert again["event_id"] != started["event_id"]
    wait_run(live.client, again["run_id"])
    # Runs by hand are not the schedule's ticks: its next and latest tick are unchanged.
    after = live.client.get(f"/api/flows/{flow['id']}/timing").json()
    assert (after["next_tick"], after["last_tick"]) == (before["next_tick"], None)

    live.client.post(f"/api/flows/{flow['id']}/disable")
    held = live.client.post(f"/api/flows/{flow['id']}/run").json()
    assert held["held"] is True
    assert live.client.get(f"/api/runs/{held['run_id']}").json()["status"] == "held"


def test_only_a_flow_on_a_schedule_with_steps_and_no_digest_runs_by_hand(live: Live) -> None:
    flow = create_flow(live, steps=[_echo("x")])
    r = live.client.post(f"/api/flows/{flow['id']}/run")
    assert r.status_code == 409
    assert r.json()["detail"] == "it does not run on a schedule: it runs when its trigger fires"
    trigger = {"type": "schedule", "every": "1d"}
    empty = create_flow(live, name="empty", trigger=trigger, steps=[], enabled=False)
    r = live.client.post(f"/api/flows/{empty['id']}/run")
    assert (r.status_code, r.json()["detail"]) == (409, "it has no step to run yet")
    digest = {"name": "daily", "item": "{{ event.scheduled_at }}"}
    collecting = create_flow(live, name="collecting", trigger=trigger, digest=digest)
    r = live.client.post(f"/api/flows/{collecting['id']}/run")
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "its ticks go to its digest: release the digest to run its steps now"
    )
    assert live.client.post("/api/flows/no-such-flow/run").status_code == 404
    assert live.client.get("/api/runs").json() == []
