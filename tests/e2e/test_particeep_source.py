"""Particeep as a source, end to end: the app served for real, a fake Particeep API that checks
PTP signatures, automatic webhook registration, fan-out to several flows, and deduplication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from examples.particeep.entities import make_transaction
from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.testing import FakeServer
from maillon.engine.settings import Settings
from maillon.web.cli import main as cli_main
from tests.support.server import serve_at_public_url
from tests.support.services import Blocking
from tests.support.wait import wait_for

KEY, SECRET = "key-77", "secret-88"


@dataclass
class Scene:
    url: str
    api: httpx.Client
    particeep: FakeParticeep
    sink: FakeServer
    settings: Settings

    def connect(self, name: str = "particeep-prod", secret: str = SECRET) -> dict[str, Any]:
        values = {"api_key": KEY, "api_secret": secret, "environment": "custom"}
        values["base_url"] = self.particeep.url
        r = self.api.post(
            "/api/connections", json={"app": "particeep", "name": name, "values": values}
        )
        assert r.status_code == 201, r.text
        return r.json()

    def flow(
        self,
        name: str,
        event: str = "transaction_created",
        path: str = "/sink",
        extra_input: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        doc = {
            "name": name,
            "trigger": {"type": "particeep.event", "connection": "particeep-prod", "event": event},
            "steps": [
                {
                    "key": "post",
                    "action": "http.send_request",
                    "input": {
                        "method": "POST",
                        "url": self.sink.url.rstrip("/") + path,
                        "json_body": {
                            "flow": name,
                            "amount": "{{ event.amount }}",
                            **(extra_input or {}),
                        },
                    },
                }
            ],
            **extra,
        }
        r = self.api.post("/api/flows", json=doc)
        assert r.status_code == 201, r.text
        return r.json()

    def hooks(self, event: str) -> list[str]:
        return [w["url"] for w in self.particeep.webhooks(event)]


@pytest.fixture
def scene(make_settings: Callable[..., Settings], fake_server: FakeServer) -> Iterator[Scene]:
    fake_server.on("POST", "/sink", (200, {"ok": True}))
    for i in range(3):
        fake_server.on("POST", f"/sink{i}", (200, {"ok": True}))
    with (
        FakeParticeep(KEY, SECRET) as particeep,
        serve_at_public_url(make_settings) as (url, settings, app),
    ):
        _, token = Blocking(app.state.runtime.services).tokens.create("e2e")
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as api:
            yield Scene(url, api, particeep, fake_server, settings)


def test_enabling_registers_once_and_disabling_the_last_flow_removes(scene: Scene) -> None:
    conn = scene.connect()
    url = conn["hook_prefix"] + "transaction_created"
    assert url.startswith(scene.url + "/hooks/particeep/")

    first = scene.flow("first")
    assert first["subscription"]["status"] == "registered" and first["hook_url"] is None
    assert scene.hooks("transaction_created") == [url]
    second = scene.flow("second")
    assert scene.hooks("transaction_created") == [url]  # shared, never registered twice
    assert second["subscription"]["url"] == url

    scene.api.post(f"/api/flows/{first['id']}/disable")
    assert scene.hooks("transaction_created") == [url]  # "second" still listens
    r = scene.api.post(f"/api/flows/{second['id']}/disable")
    assert r.json()["subscription"]["status"] == "unregistered"
    assert scene.hooks("transaction_created") == []

    scene.api.post(f"/api/flows/{first['id']}/enable")
    assert scene.hooks("transaction_created") == [url]
    scene.api.delete(f"/api/flows/{first['id']}")
    assert scene.hooks("transaction_created") == []
    # Every call Maillon made was signed correctly (the fake answers 401 otherwise).
    assert all(c.status != 401 for c in scene.particeep.received())


def test_the_limit_is_shown_plainly_and_registration_can_be_retried(scene: Scene) -> None:
    scene.connect()
    taken = [
        scene.particeep.add_webhook("transaction_created", f"https://crm.example/{i}")
        for i in range(5)
    ]
    flow = scene.flow("over the limit")
    assert flow["enabled"] is True  # saved all the same
    sub = flow["subscription"]
    assert sub["status"] == "failed"
    assert "at most 5 per event" in sub["error"]
    out = CliRunner().invoke(cli_main, ["flows", "list"], env=_env(scene.settings))
    assert "REFUSED" in out.output and "at most 5 per event" in out.output

    scene.particeep.remove_webhook(taken[0]["id"])  # the customer frees a slot in the back office
    retried = scene.api.post(f"/api/flows/{flow['id']}/subscribe").json()
    assert retried["subscription"]["status"] == "registered"
    assert retried["subscription"]["error"] is None


def test_bad_keys_are_reported_on_the_flow_and_by_the_connection_test(scene: Scene) -> None:
    scene.connect(secret="wrong")
    flow = scene.flow("bad keys")
    assert flow["subscription"]["status"] == "failed"
    assert "Particeep refused the API keys" in flow["subscription"]["error"]
    test = scene.api.post("/api/connections/particeep-prod/test").json()
    assert test["ok"] is False and "refused" in test["message"]


def test_drift_is_listed_then_repaired(scene: Scene) -> None:
    conn = scene.connect()
    flow = scene.flow("tx")
    prefix = conn["hook_prefix"]
    # Someone deletes Maillon's webhook in the back office, and a stale one of ours lingers.
    [ours] = scene.particeep.webhooks("transaction_created")
    scene.particeep.remove_webhook(ours["id"])
    scene.particeep.add_webhook("user_deleted", prefix + "user_deleted")
    scene.particeep.add_webhook("user_deleted", "https://crm.example/theirs")

    env = _env(scene.settings)
    status = CliRunner().invoke(cli_main, ["sources", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert f"missing   transaction_created  {prefix}transaction_created" in status.output
    assert f"extra     user_deleted  {prefix}user_deleted" in status.output
    assert scene.hooks("transaction_created") == []  # status changes nothing

    repair = CliRunner().invoke(cli_main, ["sources", "repair", "particeep-prod"], env=env)
    assert repair.exit_code == 0, repair.output
    assert scene.hooks("transaction_created") == [prefix + "transaction_created"]
    assert scene.hooks("user_deleted") == ["https://crm.example/theirs"]  # not ours: kept
    repaired = scene.api.get(f"/api/flows/{flow['id']}").json()["subscription"]
    assert repaired["status"] == "registered" and repaired["error"] is None
    again = CliRunner().invoke(cli_main, ["sources", "status"], env=env)
    assert "missing" not in again.output and "extra" not in again.output


def test_a_delivery_fans_out_to_every_flow_once(scene: Scene) -> None:
    conn = scene.connect()
    for i in range(3):
        scene.flow(f"flow {i}", path=f"/sink{i}")
    scene.flow("other event", event="user_created")
    disabled = scene.flow("disabled", path="/sink")
    scene.api.post(f"/api/flows/{disabled['id']}/disable")

    tx = make_transaction()
    hook = conn["hook_prefix"] + "transaction_created"
    answer = httpx.post(hook, json=tx).json()
    assert len(answer["run_ids"]) == 3
    wait_for(lambda: len(scene.sink.received("POST")) == 3)
    assert sorted(r.path for r in scene.sink.received("POST")) == ["/sink0", "/sink1", "/sink2"]
    assert {r.json()["amount"] for r in scene.sink.received("POST")} == {tx["amount"]}

    flow_events = scene.api.get("/api/events", params={"flow_id": disabled["id"]}).json()
    assert flow_events == []  # the disabled flow got no run
    some_flow = scene.api.get("/api/flows").json()[0]["id"]
    [event] = scene.api.get("/api/events", params={"flow_id": some_flow}).json()
    assert event["id"] == answer["event_id"] and event["flow_id"] is None

    dup = httpx.post(hook, json=tx).json()
    assert dup["duplicate"] is True and sorted(dup["run_ids"]) == sorted(answer["run_ids"])
    changed = httpx.post(hook, json={**tx, "amount": tx["amount"] + 100}).json()
    assert changed["duplicate"] is False and len(changed["run_ids"]) == 3

    # Once every run has finished, the sink has all it will ever get: one POST per run, and
    # the runs are those of the two distinct deliveries only.
    def finished() -> list[dict[str, Any]] | None:
        runs: list[dict[str, Any]] = scene.api.get("/api/runs").json()
        return runs if all(r["status"] in ("succeeded", "failed") for r in runs) else None

    runs = wait_for(finished, what="the runs to finish")
    assert sorted(r["id"] for r in runs) == sorted(answer["run_ids"] + changed["run_ids"])
    assert {r["status"] for r in runs} == {"succeeded"}
    assert len(scene.sink.received("POST")) == 6

    # An event nobody listens to is kept, with no run; an unknown token is refused.
    nobody = httpx.post(conn["hook_prefix"] + "document_created", json={"id": "d1"}).json()
    assert nobody["run_ids"] == [] and nobody["event_id"] and nobody["status"] == "stored"
    bad = httpx.post(scene.url + "/hooks/particeep/not-a-token/transaction_created", json=tx)
    assert bad.status_code == 404
    # An app posts its events: a GET (a link preview opening the address) starts nothing.
    opened = httpx.get(hook, params={"id": "t-9"})
    assert opened.status_code == 405 and opened.headers["allow"] == "POST, PUT"
    assert len(scene.api.get("/api/runs").json()) == len(runs)


def test_particeep_itself_delivers_and_the_flow_runs(scene: Scene) -> None:
    scene.connect()
    scene.flow("live")
    scene.particeep.emit("transaction_created", make_transaction())
    assert scene.particeep.wait_idle()
    wait_for(lambda: len(scene.sink.received("POST", "/sink")) == 1)


def test_templates_are_checked_against_the_event_sample(scene: Scene) -> None:
    scene.connect()
    flow = scene.flow("typo", extra_input={"text": "{{ event.amout }}"})
    assert flow["warnings"] == [
        "steps[0] (post).input.json_body.text: the sample event has no field 'amout'"
    ]
    assert scene.api.get(f"/api/flows/{flow['id']}").json()["warnings"] == flow["warnings"]


def test_the_catalog_lists_events_with_samples(scene: Scene) -> None:
    catalog = scene.api.get("/api/connectors").json()
    particeep = next(c for c in catalog if c["key"] == "particeep")
    [trigger] = particeep["triggers"]
    assert trigger["key"] == "particeep.event"
    events = {e["name"]: e for e in trigger["events"]}
    assert {"transaction_created", "user_created", "user_deleted"} <= set(events)
    assert events["transaction_created"]["sample"]["currency"] == "EUR"


def _env(settings: Settings) -> dict[str, str]:
    return {
        "MAILLON_DATA_DIR": str(settings.data_dir),
        "MAILLON_DATABASE_URL": settings.resolved_database_url,
        "MAILLON_SECRET_KEY": settings.secret_key or "",
        "MAILLON_PUBLIC_URL": settings.public_url or "",
    }
