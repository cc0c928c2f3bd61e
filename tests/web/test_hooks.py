"""The hook endpoint over real HTTP: accepted and refused input; refusals store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from maillon.connectors.registry import Registry
from maillon.engine.intake import Delivery
from maillon.engine.redaction import MASK
from maillon.engine.runtime import Runtime
from maillon.web.app import create_app
from tests.support.api import Live, create_flow, hook, wait_run
from tests.support.probe import calls, probe
from tests.support.server import LiveServer
from tests.support.services import Blocking


def event_count(live: Live) -> int:
    return len(live.client.get("/api/events", params={"limit": 500}).json())


def test_json_delivery_is_stored_and_run(live: Live) -> None:
    flow = create_flow(live)
    r = httpx.post(
        flow["hook_url"].replace("127.0.0.1:8000", live.url[7:]), json={"status": "PENDING"}
    )
    assert r.status_code == 200
    answer = r.json()
    assert answer["status"] == "queued" and not answer["duplicate"] and not answer["held"]
    run = wait_run(live.client, answer["run_ids"][0])
    assert run["steps"][0]["output"]["text"] == "PENDING"
    event = live.client.get(f"/api/events/{answer['event_id']}").json()
    assert event["body"] == {"status": "PENDING"}
    assert event["request"]["method"] == "POST"
    assert [r["id"] for r in event["runs"]] == answer["run_ids"]


def test_form_bodies_and_query_strings_are_events_too(live: Live) -> None:
    flow = create_flow(live)
    r = httpx.post(hook(live, flow), data={"status": "FORM", "tag": ["a", "b"]})
    assert r.status_code == 200
    event = live.client.get(f"/api/events/{r.json()['event_id']}").json()
    assert event["body"] == {"status": "FORM", "tag": ["a", "b"]}

    r = httpx.get(hook(live, flow), params={"status": "QUERY"})
    assert r.status_code == 200
    run = wait_run(live.client, r.json()["run_ids"][0])
    assert run["steps"][0]["output"]["text"] == "QUERY"

    r = httpx.put(hook(live, flow), json={"status": "PUT"}, params={"src": "x"})
    event = live.client.get(f"/api/events/{r.json()['event_id']}").json()
    assert event["request"]["query"] == {"src": "x"}
    assert event["request"]["method"] == "PUT"


@pytest.mark.parametrize(
    ("content", "headers", "status", "reason"),
    [
        (b'{"status": ', {"content-type": "application/json"}, 400, "malformed JSON"),
        (b"\xff\xfe", {"content-type": "application/json"}, 400, "malformed JSON"),
        (b"<xml/>", {"content-type": "application/xml"}, 415, "unsupported content type"),
        (b"{}", {"idempotency-key": "k" * 501}, 400, "Idempotency-Key"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_not_stored(
    live: Live, content: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    flow = create_flow(live)
    r = httpx.post(hook(live, flow), content=content, headers=headers)
    assert r.status_code == status
    assert reason in r.json()["detail"]
    assert event_count(live) == 0


def test_oversized_body_is_refused(live: Live) -> None:
    flow = create_flow(live)
    big = json.dumps({"x": "a" * (64 * 1024)}).encode()
    r = httpx.post(hook(live, flow), content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "larger than" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size shows only while reading
        yield b'{"x": "'
        for _ in range(64):
            yield b"a" * 1024
        yield b'"}'

    r = httpx.post(hook(live, flow), content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert event_count(live) == 0


@pytest.mark.parametrize("path", ["/hooks/nope", "/hooks/", "/hooks/a/b", "/hooks/nope/t/event"])
def test_unknown_hook_is_404(live: Live, path: str) -> None:
    r = httpx.post(live.url + path, json={})
    assert r.status_code == 404
    assert r.json()["detail"] == "unknown hook"
    assert event_count(live) == 0


def test_other_methods_are_refused(live: Live) -> None:
    flow = create_flow(live)
    r = httpx.delete(hook(live, flow))
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST, PUT"
    assert event_count(live) == 0


def test_duplicate_delivery_answers_the_original(live: Live) -> None:
    flow = create_flow(live)
    headers = {"Idempotency-Key": "delivery-1"}
    first = httpx.post(hook(live, flow), json={"status": "A"}, headers=headers).json()
    again = httpx.post(hook(live, flow), json={"status": "A"}, headers=headers)
    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True, "status": "duplicate"}
    assert event_count(live) == 1


def test_disabled_flow_holds_events_until_released(live: Live) -> None:
    flow = create_flow(live)
    assert live.client.post(f"/api/flows/{flow['id']}/disable").json()["enabled"] is False
    answer = httpx.post(hook(live, flow), json={"status": "HELD"}).json()
    assert answer["held"] and answer["status"] == "held"
    [held] = answer["run_ids"]
    # A run queued after the held one has run: the workers have claimed since, and left it.
    later = httpx.post(hook(live, create_flow(live)), json={"status": "LATER"}).json()
    wait_run(live.client, later["run_ids"][0])
    assert live.client.get(f"/api/runs/{held}").json()["status"] == "held"
    assert [c["text"] for c in calls.log] == ["LATER"]

    r = live.client.post(f"/api/flows/{flow['id']}/release-held")
    assert r.json() == {"released": 1}
    run = wait_run(live.client, held)
    assert run["steps"][0]["output"]["text"] == "HELD" and run["claims"] == 1
    assert [c["text"] for c in calls.log] == ["LATER", "HELD"]


def test_sender_credentials_are_masked_before_the_event_is_stored(live: Live) -> None:
    flow = create_flow(live)
    secrets = ["Basic c2VjcmV0", "xak-1", "ak-2", "qt-3", "qk-4", "sess=5"]
    r = httpx.post(
        hook(live, flow),
        json={"status": "ok"},
        params={"token": "qt-3", "API_KEY": "qk-4", "page": "2"},
        headers={
            "Authorization": "Basic c2VjcmV0",
            "X-Api-Key": "xak-1",
            "Api-Key": "ak-2",
            "Cookie": "sess=5",
        },
    )
    event = live.client.get(f"/api/events/{r.json()['event_id']}").json()
    headers, query = event["request"]["headers"], event["request"]["query"]
    for name in ("authorization", "x-api-key", "api-key", "cookie"):
        assert headers[name] == MASK
    assert query == {"token": MASK, "API_KEY": MASK, "page": "2"}
    # A body made of the query (a GET) is masked too.
    r = httpx.get(hook(live, flow), params={"status": "GET", "access_token": "qa-6"})
    event = live.client.get(f"/api/events/{r.json()['event_id']}").json()
    assert event["body"] == {"status": "GET", "access_token": MASK}
    stored = json.dumps(live.client.get("/api/events").json())
    for secret in [*secrets, "qa-6"]:
        assert secret not in stored


def test_more_fields_to_mask_can_be_configured(make_settings: Any) -> None:
    runtime = Runtime(make_settings(masked_fields=["X-Partner-Key"]), registry=Registry([probe]))
    with LiveServer(create_app(runtime=runtime)) as url:
        _, token = Blocking(runtime.services).tokens.create("tests")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            live = Live(url, client, Blocking(runtime.services), runtime)
            flow = create_flow(live)
            r = httpx.post(
                hook(live, flow),
                json={},
                headers={"X-Partner-Key": "pk-7"},
                params={"x-partner-key": "pk-8"},
            )
            event = client.get(f"/api/events/{r.json()['event_id']}").json()
    assert event["request"]["headers"]["x-partner-key"] == MASK
    assert event["request"]["query"]["x-partner-key"] == MASK


@pytest.mark.parametrize("depth", [65, 300, 1000, 30_000])
def test_a_body_nested_too_deeply_is_refused(live: Live, depth: int) -> None:
    # 300-900 levels were stored and then broke every page showing them; from 1,000 levels
    # the hook itself answered 500.
    flow = create_flow(live)
    body = "[" * depth + "]" * depth
    r = httpx.post(hook(live, flow), content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "deep" in r.json()["detail"]
    assert event_count(live) == 0
    ok = "[" * 64 + "]" * 64
    r = httpx.post(hook(live, flow), content=ok, headers={"content-type": "application/json"})
    assert r.status_code == 200
    # More brackets than the limit, but shallow.
    wide = "[" + ",".join(['{"a": [1]}'] * 100) + "]"
    r = httpx.post(hook(live, flow), content=wide, headers={"content-type": "application/json"})
    assert r.status_code == 200


def test_deep_events_stored_before_the_limit_break_no_answer(live: Live) -> None:
    # What older versions stored (or a delivery that bypassed the hook) is shown as text.
    flow = create_flow(live)
    token = flow["hook_url"].rsplit("/", 1)[1]
    run_ids = []
    for depth in (300, 900):
        text = "[" * depth + "]" * depth
        op = Delivery(token, json.loads(text), text, {"method": "POST", "headers": {}, "query": {}})
        run_ids += live.runtime.writer.submit_sync(op).run_ids
    for run_id in run_ids:
        wait_run(live.client, run_id)
    events = live.client.get("/api/events")
    assert events.status_code == 200
    assert all(isinstance(e["body"], str) for e in events.json())
    for e in events.json():
        assert live.client.get(f"/api/events/{e['id']}").status_code == 200
    for run_id in run_ids:
        assert live.client.get(f"/api/runs/{run_id}").status_code == 200


def test_the_token_must_be_a_path_segment_of_its_own(live: Live) -> None:
    # The /hooks mount matched any path that starts with "/hooks", so /hooks<token>
    # (no slash) delivered to the flow.
    flow = create_flow(live)
    token = flow["hook_url"].rsplit("/", 1)[1]
    r = httpx.post(live.url + "/hooks" + token, json={})
    assert r.status_code == 404
    assert event_count(live) == 0
