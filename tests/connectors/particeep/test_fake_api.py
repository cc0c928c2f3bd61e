"""The fake Particeep API delivers events as Particeep does, so demos work end to end."""

from __future__ import annotations

import httpx
import pytest

from examples.particeep.entities import make_user
from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.particeep import ParticeepClient, ensure_registered, hook_url
from maillon.connectors.particeep.signing import PTPAuth
from maillon.connectors.testing import FakeServer
from tests.connectors.particeep.conftest import API_KEY, API_SECRET


@pytest.mark.anyio
async def test_creating_a_user_delivers_user_created_to_the_registered_url(
    particeep: FakeParticeep, client: ParticeepClient, fake_server: FakeServer
) -> None:
    prefix = fake_server.url + "hooks/particeep/tok/"
    fake_server.on("POST", "/hooks/particeep/tok/user_created", (200, {"ok": True}))
    fake_server.on("POST", "/hooks/particeep/tok/user_updated", (200, {"ok": True}))
    await ensure_registered(client, "user_created", hook_url(prefix, "user_created"))
    await ensure_registered(client, "user_updated", hook_url(prefix, "user_updated"))

    async with httpx.AsyncClient(base_url=particeep.url, auth=PTPAuth(API_KEY, API_SECRET)) as http:
        created = (await http.put("/user", json=make_user())).json()
        await http.post(f"/user/{created['id']}", json={"tag": "vip"})
    assert particeep.wait_idle()

    [delivered] = fake_server.received("POST", "/hooks/particeep/tok/user_created")
    assert delivered.json() == created  # the bare entity, no envelope
    assert delivered.headers["content-type"] == "application/json"
    [updated] = fake_server.received("POST", "/hooks/particeep/tok/user_updated")
    assert updated.json()["tag"] == "vip"
    assert [(d.event, d.status) for d in particeep.deliveries] == [
        ("user_created", 200),
        ("user_updated", 200),
    ]


def test_a_failed_delivery_is_recorded_not_retried(
    particeep: FakeParticeep, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/h/transaction_created", (503, "busy"))
    particeep.add_webhook("transaction_created", fake_server.url + "h/transaction_created")
    particeep.emit("transaction_created", {"id": "t1", "amount": 100})
    assert particeep.wait_idle()
    [delivery] = particeep.deliveries
    assert (delivery.entity_id, delivery.status) == ("t1", 503)
    assert len(fake_server.received("POST")) == 1


def test_the_fake_runs_without_deliveries_and_answers_unknown_routes(
    fake_server: FakeServer,
) -> None:
    with FakeParticeep(API_KEY, API_SECRET, deliver=False) as fake:
        fake.add_webhook("transaction_created", fake_server.url + "h")
        with httpx.Client(base_url=fake.url, auth=PTPAuth(API_KEY, API_SECRET)) as http:
            created = http.put("/transaction", json={"amount": 5000}).json()
            missing = http.get("/fundraise/x")
        assert fake.wait_idle()
    assert (created["currency"], created["status"]) == ("EUR", "PENDING")
    assert missing.status_code == 404
    assert fake_server.received() == []
