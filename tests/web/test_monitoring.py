"""``/healthz``, ``/readyz`` and ``/metrics`` over real HTTP: what an operator's tools see."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text

from maillon.connectors.registry import Registry
from maillon.engine.flows import FlowDocument
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.api import FLOW, Live, create_flow, hook, wait_run
from tests.support.probe import probe
from tests.support.server import LiveServer
from tests.support.services import Blocking
from tests.support.wait import wait_for

TOKEN = "metrics-secret-token"


@pytest.fixture
def metered(make_settings: Callable[..., Settings]) -> Iterator[Live]:
    """The app with metrics on (a token), the probe connector, and one worker."""
    runtime = Runtime(make_settings(metrics_token=TOKEN), registry=Registry([probe]))
    with LiveServer(create_app(runtime=runtime)) as url:
        services = Blocking(runtime.services)
        _, token = services.tokens.create("tests")
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            yield Live(url, client, services, runtime)


def test_health_and_readiness_are_public_and_say_ready(live: Live) -> None:
    assert httpx.get(live.url + "/healthz").json() == {"status": "ok"}
    assert httpx.head(live.url + "/healthz").status_code == 200
    assert httpx.head(live.url + "/readyz").status_code == 200
    answer = httpx.get(live.url + "/readyz")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready",
        "checks": {"writer": "ok", "database": "ok", "schema": "ok", "queue": "ok"},
    }


def test_not_ready_with_a_stale_queue_an_old_schema_or_no_writer(
    make_settings: Callable[..., Settings],
) -> None:
    runtime = Runtime(make_settings(), registry=Registry([probe]))
    with LiveServer(create_app(runtime=runtime, workers=False)) as url:
        _not_ready(url, runtime)


def _not_ready(url: str, runtime: Runtime) -> None:
    services = Blocking(runtime.services)
    services.connections.create("probe", "p1", {})
    flow = services.flows.save(FlowDocument.model_validate(FLOW)).row
    # A run due an hour ago that no worker claimed (none runs here): the workers are stuck.
    run_id = httpx.post(f"{url}/hooks/{flow.hook_token}", json={"status": "x"}).json()["run_ids"][0]
    assert httpx.get(url + "/readyz").status_code == 200
    with runtime.db.begin() as conn:
        conn.execute(
            text("UPDATE runs SET status = 'queued', available_at = :t WHERE id = :id"),
            {"t": time.time() - 3600, "id": run_id},
        )
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    backlog = services.monitoring.queue()
    assert backlog.queued == 1 and 3600 <= backlog.oldest_due_age < 3660
    answer = httpx.get(url + "/readyz")
    assert answer.status_code == 503
    assert httpx.head(url + "/readyz").status_code == 503
    checks = answer.json()["checks"]
    assert checks["queue"].startswith("the oldest due run has waited 3600s")
    assert checks["schema"].startswith("schema at 0001")
    runtime.writer.stop()
    checks = httpx.get(url + "/readyz").json()["checks"]
    assert checks["writer"] == "the writer thread is not running"


def test_metrics_are_off_without_a_token(live: Live) -> None:
    assert httpx.get(live.url + "/metrics").status_code == 404
    # Not even with an API token: the API's credentials are not the scraper's.
    assert live.client.get("/metrics").status_code == 404


def test_metrics_need_their_token(metered: Live) -> None:
    assert httpx.get(metered.url + "/metrics").status_code == 401
    wrong = httpx.get(metered.url + "/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"


def _scrape(live: Live) -> dict[str, float]:
    answer = httpx.get(live.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, float] = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_count_deliveries_refusals_runs_steps_and_the_writer(metered: Live) -> None:
    flow = create_flow(metered)
    url = hook(metered, flow)
    run_id = httpx.post(url, json={"status": "ok"}).json()["run_ids"][0]
    wait_run(metered.client, run_id)
    malformed = httpx.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert httpx.post(metered.url + "/hooks/unknown", json={}).status_code == 404
    samples = _scrape(metered)
    assert samples['maillon_deliveries_total{status="queued"}'] == 1
    assert samples['maillon_deliveries_refused_total{reason="malformed"}'] == 1
    assert samples['maillon_deliveries_refused_total{reason="unknown_hook"}'] == 1
    assert samples['maillon_runs_finished_total{status="succeeded"}'] == 1
    assert samples['maillon_step_duration_seconds_count{action="probe.send_echo"}'] == 1
    assert samples["maillon_writer_batch_size_count"] >= 3  # delivery, claim, step
    assert samples["maillon_writer_commit_seconds_count"] >= 3
    assert samples["maillon_queue_depth"] == 0
    assert samples["maillon_queue_oldest_due_seconds"] == 0


def test_cancelled_runs_are_counted_as_they_end(metered: Live) -> None:
    """One cancelled by hand, two with their flow's deletion."""
    flow = create_flow(metered, steps=[{"key": "wait", "delay": {"duration": "1h"}}])
    url = hook(metered, flow)
    run_ids = [httpx.post(url, json={}).json()["run_ids"][0] for _ in range(3)]
    wait_for(
        lambda: all(
            metered.client.get(f"/api/runs/{run_id}").json()["state"] == "waiting"
            for run_id in run_ids
        ),
        what="the delay to park the runs",
    )
    assert metered.client.post(f"/api/runs/{run_ids[0]}/cancel").status_code == 200
    assert _scrape(metered)['maillon_runs_finished_total{status="cancelled"}'] == 1
    assert metered.client.delete(f"/api/flows/{flow['id']}").status_code in (200, 204)
    assert _scrape(metered)['maillon_runs_finished_total{status="cancelled"}'] == 3
