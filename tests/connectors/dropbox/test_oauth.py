"""Dropbox accounts connected with OAuth: the consent asks for offline access, and the engine
renews an expired access token before a step runs (a fake token endpoint and a fake API)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from maillon.connectors.dropbox import connector as dropbox
from maillon.connectors.registry import Registry
from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.flows import deliver, wait_status
from tests.support.services import Blocking

TOKEN = "/oauth2/token"
FOLDER = {"id": "id:D1", "name": "Ada", "path_display": "/Investors/Ada"}


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    rt = Runtime(
        make_settings(public_url="https://maillon.example.com"), registry=Registry([dropbox])
    )
    rt.open()
    yield rt
    rt.close()


def test_the_consent_asks_for_a_refresh_token_and_stores_it(
    runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(runtime.services)
    consent = services.oauth.start(
        "dropbox",
        "team-dropbox",
        {
            "client_id": "appkey",
            "client_secret": "appsecret",
            "token_url": fake_server.url + "oauth2/token",
        },
    )
    parts = urlsplit(consent.authorize_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "www.dropbox.com" and parts.path == "/oauth2/authorize"
    assert query["token_access_type"] == "offline"
    assert set(query["scope"].split()) >= {"files.content.write", "sharing.write"}
    fake_server.on(
        "POST",
        TOKEN,
        (200, {"access_token": "sl.new", "refresh_token": "rt-1", "expires_in": 14400}),
    )

    services.oauth.finish("dropbox", query["state"], "c0de")

    values = services.connections.values("team-dropbox")
    assert values["access_token"] == "sl.new" and values["refresh_token"] == "rt-1"
    assert values["client_id"] == "appkey" and values["expires_at"] > time.time() + 14000
    [exchange] = fake_server.received("POST", TOKEN)
    assert exchange.form()["grant_type"] == ["authorization_code"]


def test_an_expired_access_token_is_renewed_before_the_step(
    runtime: Runtime, fake_server: FakeServer
) -> None:
    services = Blocking(runtime.services)
    services.connections.create(
        "dropbox",
        "team-dropbox",
        {
            "access_token": "sl.old",
            "refresh_token": "rt-1",
            "expires_at": time.time() - 5,
            "client_id": "appkey",
            "client_secret": "appsecret",
            "token_url": fake_server.url + "oauth2/token",
            "api_url": fake_server.url + "2/",
        },
    )
    flow = FlowDocument.model_validate(
        {
            "name": "folder",
            "steps": [
                {
                    "key": "folder",
                    "action": "dropbox.create_folder",
                    "connection": "team-dropbox",
                    "input": {"path": "/Investors/{{ event.name }}"},
                }
            ],
        }
    )
    hook = services.flows.save(flow).row.hook_token
    # Dropbox grants a new access token, and keeps the refresh token (none in the answer).
    fake_server.on("POST", TOKEN, (200, {"access_token": "sl.fresh", "expires_in": 14400}))
    fake_server.on("POST", "/2/files/create_folder_v2", (200, {"metadata": FOLDER}))

    run_id = deliver(runtime, hook, {"name": "Ada"}).run_ids[0]
    _, steps = wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)

    assert json.loads(steps[0].output or "{}")["created"] is True
    [refresh] = fake_server.received("POST", TOKEN)
    form = {k: v[0] for k, v in refresh.form().items()}
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "client_id": "appkey",
        "client_secret": "appsecret",
    }
    [call] = fake_server.received("POST", "/2/files/create_folder_v2")
    assert call.headers["authorization"] == "Bearer sl.fresh"
    assert call.json() == {"path": "/Investors/Ada"}
    values = services.connections.values("team-dropbox")
    assert values["access_token"] == "sl.fresh" and values["refresh_token"] == "rt-1"
