"""Signed webhook deliveries over real HTTP: a good signature is stored and run; a missing,
wrong or stale one is answered 401 and listed as a rejected delivery, never dropped silently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from maillon.connectors.registry import Registry
from maillon.connectors.webhook import connector as webhook
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.api import Live, create_flow, hook
from tests.support.probe import probe
from tests.support.server import LiveServer
from tests.support.services import Blocking

SECRET = "shh-its-a-secret"


@pytest.fixture
def live(make_settings: Callable[..., Settings]) -> Iterator[Live]:
    """tests/web's ``live``, with the ``webhook`` app (signing secrets) installed."""
    runtime = Runtime(make_settings(), registry=Registry([probe, webhook]))
    with LiveServer(create_app(runtime=runtime)) as url:
        services = Blocking(runtime.services)
        _, token = services.tokens.create("tests")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            yield Live(url, client, services, runtime)


def _flow(live: Live, signature: dict[str, Any]) -> dict[str, Any]:
    made = live.client.post(
        "/api/connections",
        json={"app": "webhook", "name": "sender", "values": {"secret": SECRET}},
    )
    assert made.status_code == 201, made.text
    return create_flow(live, trigger={"type": "webhook", "signature": signature})


def _mac(message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(SECRET.encode(), message, getattr(hashlib, algorithm)).digest()


BODY = json.dumps({"status": "SIGNED"}).encode()


def _signed(preset: str, body: bytes = BODY, stamp: int | None = None) -> dict[str, str]:
    """Headers as each sender signs ``body``."""
    t = str(stamp if stamp is not None else int(time.time()))
    if preset == "github":
        return {"X-Hub-Signature-256": "sha256=" + _mac(body).hex()}
    if preset == "shopify":
        return {"X-Shopify-Hmac-Sha256": base64.b64encode(_mac(body)).decode()}
    if preset == "slack":
        mac = _mac(f"v0:{t}:".encode() + body).hex()
        return {"X-Slack-Signature": "v0=" + mac, "X-Slack-Request-Timestamp": t}
    assert preset == "stripe"
    return {"Stripe-Signature": f"t={t},v1=deadbeef,v1={_mac(t.encode() + b'.' + body).hex()}"}


def _post(url: str, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    return httpx.post(url, content=body, headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize("preset", ["github", "shopify", "slack", "stripe"])
def test_a_preset_senders_signature_is_checked(live: Live, preset: str) -> None:
    flow = _flow(live, {"preset": preset, "connection": "sender"})
    url = hook(live, flow)
    good = _post(url, _signed(preset))
    assert good.status_code == 200, good.text

    forged = _post(url, _signed(preset), body=b'{"status": "FORGED"}')
    assert forged.status_code == 401
    assert "signature refused" in forged.json()["detail"]
    assert _post(url, {}).status_code == 401

    rejected = live.client.get("/api/rejected-deliveries", params={"flow_id": flow["id"]}).json()
    # Both were refused within the same millisecond, maybe: their order is not the point.
    forged_row, unsigned = sorted(rejected, key=lambda r: r["body"])
    assert forged_row["body"] == '{"status": "FORGED"}'
    assert "does not match" in forged_row["reason"]
    assert forged_row["request"]["method"] == "POST"
    assert unsigned["reason"].startswith("no signature")
    events = live.client.get("/api/events", params={"flow_id": flow["id"]}).json()
    assert len(events) == 1  # only the good one is an event


@pytest.mark.parametrize("preset", ["slack", "stripe"])
def test_a_stale_timestamp_is_refused(live: Live, preset: str) -> None:
    url = hook(live, _flow(live, {"preset": preset, "connection": "sender"}))
    stale = _post(url, _signed(preset, stamp=int(time.time()) - 3600))
    assert stale.status_code == 401
    assert "more than 300s away" in stale.json()["detail"]


@pytest.mark.parametrize("stamp", ["\u00b9", "9" * 400, "-1", "1.5", ""])
def test_a_timestamp_that_is_no_number_of_seconds_is_refused_and_recorded(
    live: Live, stamp: str
) -> None:
    url = hook(live, _flow(live, {"preset": "stripe", "connection": "sender"}))
    # Headers travel as Latin-1: "¹" is a digit to str.isdigit(), not to int().
    headers = [
        (b"content-type", b"application/json"),
        (b"stripe-signature", f"t={stamp},v1=00".encode("latin-1")),
    ]
    answer = httpx.post(url, content=BODY, headers=headers)
    assert answer.status_code == 401, answer.text
    assert "no signing timestamp" in answer.json()["detail"]
    [rejected] = live.client.get("/api/rejected-deliveries").json()
    assert rejected["reason"] == "no signing timestamp with the signature"


def test_a_generic_scheme_sha1_base64_with_a_timestamp(live: Live) -> None:
    spec = {
        "connection": "sender",
        "header": "X-Sig",
        "algorithm": "sha1",
        "encoding": "base64",
        "prefix": "sig ",
        "timestamp_header": "X-Sig-Time",
        "message": "{timestamp}|{body}",
        "tolerance": 60,
    }
    url = hook(live, _flow(live, spec))
    t = str(int(time.time()))
    mac = base64.b64encode(_mac(t.encode() + b"|" + BODY, "sha1")).decode()
    assert _post(url, {"X-Sig": "sig " + mac, "X-Sig-Time": t}).status_code == 200
    assert _post(url, {"X-Sig": "sig " + mac, "X-Sig-Time": str(int(t) + 1)}).status_code == 401


def test_form_bodies_are_checked_on_the_bytes_sent(live: Live) -> None:
    url = hook(live, _flow(live, {"preset": "slack", "connection": "sender"}))
    form = b"command=%2Fdeploy&text=now+please"
    headers = {**_signed("slack", form), "content-type": "application/x-www-form-urlencoded"}
    answer = httpx.post(url, content=form, headers=headers)
    assert answer.status_code == 200, answer.text


def test_a_flow_naming_a_missing_or_wrong_connection_cannot_be_saved(live: Live) -> None:
    trigger = {"type": "webhook", "signature": {"preset": "github", "connection": "nope"}}
    answer = live.client.post("/api/flows", json={"name": "x", "trigger": trigger})
    assert answer.status_code == 422
    assert "no connection named 'nope'" in answer.text


def test_an_empty_signing_secret_is_refused_when_saved(live: Live) -> None:
    made = live.client.post(
        "/api/connections", json={"app": "webhook", "name": "sender", "values": {"secret": ""}}
    )
    assert made.status_code in (400, 422), made.text
    assert "secret" in made.text
