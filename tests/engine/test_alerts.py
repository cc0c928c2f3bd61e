"""Failure alerts: where they go, checked when set; failures batched per flow and interval, so
that a storm is one message; what could not be sent is tried again later."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator

import pytest

from maillon.connectors.registry import Registry
from maillon.connectors.slack import connector as slack
from maillon.connectors.smtp import connector as smtp
from maillon.connectors.testing import FakeServer
from maillon.engine.alerts import AlertSettings
from maillon.engine.errors import Invalid
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.accounts import OWNER
from tests.support.db import run_until
from tests.support.flows import ECHO, deliver, make_flow, wait_status
from tests.support.probe import calls, probe
from tests.support.services import Blocking

FAILING = {**ECHO, "input": {"text": "x", "fail": "permanent"}}
POST = ("POST", "/api/chat.postMessage")
OK = (200, {"ok": True, "channel": "C1", "ts": "1.2"})


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """Slack and SMTP to send alerts; the sender's own loop looks once, when workers start
    (tests send what is due themselves, at the moments they choose)."""
    calls.clear()
    settings = make_settings(alert_poll_interval=3600)
    rt = Runtime(settings, registry=Registry([probe, slack, smtp]))
    rt.open()
    yield rt
    rt.close()


@pytest.fixture
def services(runtime: Runtime) -> Blocking:
    return Blocking(runtime.services)


def alerts_to_slack(services: Blocking, slack_url: str, interval: float = 60) -> None:
    services.connections.create(
        "slack", "team-slack", {"bot_token": "xoxb-t", "base_url": slack_url + "api/"}
    )
    services.alerts.configure(AlertSettings(connection="team-slack", to="#ops", interval=interval))


def send_due(runtime: Runtime, now: float | None = None) -> int:
    return asyncio.run(runtime.alert_sender.send_due(now))


def test_a_hundred_failures_are_one_alert_with_their_count(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on(*POST, OK)
    alerts_to_slack(services, fake_server.url)
    flow_id, token = make_flow(services, FAILING, name="confirm investment")
    run_ids = [deliver(runtime, token, {"n": i}).run_ids[0] for i in range(100)]
    run_until(
        runtime,
        lambda: len(services.runs.list_runs(flow_id, RunStatus.FAILED, limit=200)) == 100,
        timeout=60,
    )

    assert send_due(runtime) == 1
    [message] = fake_server.received(*POST)
    body = message.json()
    assert body["channel"] == "#ops"
    assert "“confirm investment” failed 100 times" in body["text"]
    # To the second, in the owner's time zone (UTC: none is set), named.
    assert re.search(r" between .*\d:\d\d:\d\d.* and .*\d:\d\d:\d\d.* \(UTC\)\.", body["text"])
    assert "Latest error: step notify: probe refused" in body["text"]
    # The link goes to the run that failed last (runs fail concurrently: any of them).
    linked = re.search(r"The run: http://127.0.0.1:8000/runs/(\S+)$", body["text"])
    assert linked is not None and linked.group(1) in run_ids
    assert send_due(runtime) == 0  # told: nothing more to say

    # A failure within the interval waits for it to end, then is told alone.
    run_id = deliver(runtime, token, {"n": "late"}).run_ids[0]
    wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert send_due(runtime) == 0
    assert send_due(runtime, time.time() + 61) == 1
    later = fake_server.received(*POST)[-1].json()["text"]
    assert "“confirm investment” failed at" in later and run_id in later


def test_a_paused_flow_s_alert_says_so_and_how_to_resume(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on(*POST, OK)
    alerts_to_slack(services, fake_server.url)
    flow_id, token = make_flow(services, FAILING, on_failure={"pause_after": 2})
    for i in range(2):
        wait_status(runtime, services, deliver(runtime, token, {"n": i}).run_ids[0], "failed")
    assert send_due(runtime) == 1
    text = fake_server.received(*POST)[0].json()["text"]
    assert "failed 2 times" in text
    assert "Maillon paused the flow" in text and "held, not lost" in text
    assert f"http://127.0.0.1:8000/flows/{flow_id}" in text
    assert f"maillon flows resume {flow_id}" in text


def test_a_flow_may_keep_its_failures_to_itself(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    alerts_to_slack(services, fake_server.url)
    _, token = make_flow(services, FAILING, on_failure={"alert": False})
    wait_status(runtime, services, deliver(runtime, token).run_ids[0], "failed")
    assert send_due(runtime) == 0
    assert services.alerts.state().batches == []


def test_an_alert_that_cannot_be_sent_is_kept_and_tried_again(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on(*POST, (200, {"ok": False, "error": "channel_not_found"}))
    alerts_to_slack(services, fake_server.url, interval=300)
    flow_id, token = make_flow(services, FAILING)
    wait_status(runtime, services, deliver(runtime, token).run_ids[0], "failed")
    assert send_due(runtime) == 0
    [batch] = services.alerts.state().batches
    assert batch.count == 1 and "channel_not_found" in (batch.send_error or "")

    fake_server.on(*POST, OK)  # the bot was invited to the channel
    assert send_due(runtime, time.time() + 10) == 0  # not before the interval
    assert send_due(runtime, time.time() + 301) == 1
    assert services.alerts.pending(flow_id).count == 0
    assert services.alerts.state().batches == []


def test_where_alerts_go_is_checked_when_set(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    services.connections.create("probe", "p1", {"label": "x"})
    services.connections.create(
        "smtp", "mail", {"host": "127.0.0.1", "port": 25, "from_address": "m@example.com"}
    )

    def refused(connection: str, to: str) -> dict[str, str]:
        with pytest.raises(Invalid) as caught:
            services.alerts.configure(AlertSettings(connection=connection, to=to))
        return caught.value.fields

    assert refused("nowhere", "#ops") == {"connection": "no connection named 'nowhere'"}
    assert (
        "alerts go through a google, slack, smtp connection" in refused("p1", "#ops")["connection"]
    )
    assert "give e-mail addresses" in refused("mail", "not an address")["to"]
    services.connections.create("slack", "team", {"bot_token": "xoxb-1"})
    wrong = refused("team", "ops@example.com")["to"]
    assert "an e-mail address is not a Slack channel" in wrong and "give a Slack channel" in wrong
    assert services.alerts.settings() is None

    services.alerts.configure(AlertSettings(connection="mail", to="ops@example.com"))
    assert services.alerts.settings() == AlertSettings(connection="mail", to="ops@example.com")
    services.alerts.turn_off()
    assert services.alerts.settings() is None


def test_a_test_alert_goes_at_once(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on(*POST, OK)
    with pytest.raises(Invalid):
        services.alerts.send_test()
    alerts_to_slack(services, fake_server.url)
    assert services.alerts.send_test() is None
    [message] = fake_server.received(*POST)
    assert "test alert" in message.json()["text"]


def test_alerts_are_written_in_the_owner_s_language_and_time_zone(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on(*POST, OK)
    owner = services.accounts.set_up(*OWNER).user
    services.accounts.set_preferences(owner, "fr", "Europe/Paris")
    alerts_to_slack(services, fake_server.url)
    flow_id, token = make_flow(services, FAILING, name="confirmer", on_failure={"pause_after": 2})
    for i in range(2):
        wait_status(runtime, services, deliver(runtime, token, {"n": i}).run_ids[0], "failed")
    assert send_due(runtime) == 1
    text = fake_server.received(*POST)[0].json()["text"]
    assert text.startswith("*Maillon\u00a0: «\u00a0confirmer\u00a0» a échoué 2 fois*")
    assert "Dernière erreur\u00a0: step notify: probe refused" in text
    assert f"maillon flows resume {flow_id}" in text and "retenues, pas perdues" in text
    assert services.alerts.send_test() is None
    assert "alerte de test" in fake_server.received(*POST)[-1].json()["text"]
