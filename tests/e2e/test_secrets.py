"""End to end: every secret used in a full scenario stays out of what the install keeps.

The app is served for real on SQLite; connections are saved through the API, flows call a fake
API that echoes back every header and query it receives (as many real APIs do in their errors),
a sender posts credentials of its own. Then the captured logs, every answer of the API and the
bytes of the database files are searched for each secret value.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from maillon.connectors.testing import FakeServer
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.api import wait_run
from tests.support.server import LiveServer
from tests.support.services import Blocking

#: Every secret the scenario uses, by what it is.
SECRETS = {
    "connection bearer token": "tok-bearer-7f3a91",
    "connection API key": "key-api-55c2e0",
    "password in a base URL": "pw-in-url-90b1",
    "step's secret input": "tok-step-3d8e44",
    "Slack webhook URL path": "hook-path-b7c2d1",
    "sender's API key": "sender-key-a41f",
    "sender's query token": "sender-token-6e09",
}


def _echo(request: Any) -> tuple[int, Any]:
    """Everything the request carried, sent back: a 400 for paths ending in /fail."""
    echoed = {"headers": request.headers, "query": request.query, "path": request.raw_path}
    return (400 if request.path.endswith("/fail") else 200), echoed


def test_no_secret_reaches_the_logs_the_answers_or_the_database(
    fake_server: FakeServer,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = fake_server.url.rstrip("/")
    for path in (
        "/v1/echo",
        "/v1/fail",
        "/v2/echo",
        "/open/echo",
        "/hooks/T1/B1/" + SECRETS["Slack webhook URL path"],
    ):
        fake_server.on("POST", path, _echo)
    # SQLite, whose files are read back byte for byte below.
    settings = Settings(
        data_dir=tmp_path, secret_key="scenario-key", retry_base_delay=0.01, poll_interval=0.2
    )
    app = create_app(settings)
    runtime = app.state.runtime
    with LiveServer(app) as url:
        _, token = Blocking(runtime.services).tokens.create("scenario")
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        answers: list[str] = []

        def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = client.request(method, path, **kwargs)
            answers.append(response.text)
            assert response.status_code < 500, response.text
            return response

        call(
            "POST",
            "/api/connections",
            json={
                "app": "http",
                "name": "bearer",
                "values": {
                    "base_url": f"{api}/v1/",
                    "bearer_token": SECRETS["connection bearer token"],
                    "api_key": SECRETS["connection API key"],
                },
            },
        )
        host = api.removeprefix("http://")
        call(
            "POST",
            "/api/connections",
            json={
                "app": "http",
                "name": "basic",
                "values": {"base_url": f"http://me:{SECRETS['password in a base URL']}@{host}/v2/"},
            },
        )
        call(
            "POST",
            "/api/connections",
            json={
                "app": "slack",
                "name": "hook",
                "values": {"webhook_url": f"{api}/hooks/T1/B1/{SECRETS['Slack webhook URL path']}"},
            },
        )
        # Moving a connection elsewhere without its secrets is refused, secrets unsaid.
        moved = call(
            "PATCH", "/api/connections/bearer", json={"values": {"base_url": "http://127.0.0.1:9/"}}
        )
        assert moved.status_code == 400

        steps = [
            {"key": "ok", "action": "http.send_request", "connection": "bearer",
             "input": {"method": "POST", "url": "echo", "json_body": {"n": 1}}},
            {"key": "basic", "action": "http.send_request", "connection": "basic",
             "input": {"method": "POST", "url": "echo"}},
            {"key": "own", "action": "http.send_request",
             "input": {"method": "POST", "url": f"{api}/open/echo",
                       "bearer_token": SECRETS["step's secret input"]}},
            {"key": "slack", "action": "slack.send_webhook_message", "connection": "hook",
             "input": {"text": "hello"}},
            {"key": "fails", "action": "http.send_request", "connection": "bearer",
             "input": {"method": "POST", "url": "fail"}},
        ]  # fmt: skip
        flow = call("POST", "/api/flows", json={"name": "secrets", "steps": steps}).json()
        hook = url + "/hooks/" + flow["hook_url"].rsplit("/", 1)[1]
        delivered = httpx.post(
            hook,
            json={"amount": 1},
            params={"token": SECRETS["sender's query token"]},
            headers={"X-Api-Key": SECRETS["sender's API key"]},
        )
        answers.append(delivered.text)
        run_id = delivered.json()["run_ids"][0]
        run = wait_run(client, run_id, "failed")
        # The scenario went where it should: every step reached the fake API, the last one
        # failed with the echo of its credentials in its error.
        assert [s["status"] for s in run["steps"]] == ["succeeded"] * 4 + ["failed"]
        assert run["steps"][0]["output"]["body"]["headers"]["authorization"] == "Bearer ••••••"
        sent = fake_server.received("POST", "/v1/echo")[0]
        assert sent.headers["authorization"] == f"Bearer {SECRETS['connection bearer token']}"
        call("POST", "/api/connections/bearer/test")
        for path in (
            "/api/runs",
            f"/api/runs/{run_id}",
            "/api/events",
            f"/api/events/{run['event_id']}",
            "/api/connections",
            "/api/connections/bearer",
            "/api/connections/basic",
            "/api/connections/hook",
            f"/api/flows/{flow['id']}",
            "/api/flows",
        ):
            call("GET", path)
        client.close()
    runtime.close()

    # The server's records: this thread's are the test's own client saying what it sent.
    here = threading.get_ident()
    logs = "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records if r.thread != here
    )
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("maillon.db*"))
    assert fake_server.received("POST", "/v1/fail")  # the failing step did run
    for what, secret in SECRETS.items():
        assert secret not in logs, f"the {what} is in the logs"
        for answer in answers:
            assert secret not in answer, f"the {what} is in an answer: {answer[:300]}"
        assert secret.encode() not in stored, f"the {what} is in the database files"
