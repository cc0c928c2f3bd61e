"""The fake Particeep API emits an event when told to, and ``examples.particeep.emit`` tells
it, so a demo needs no script of its own."""

from __future__ import annotations

import httpx
import pytest

from examples.particeep.emit import main as emit
from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.testing import FakeServer
from tests.support.server import free_port


def test_the_emit_route_delivers_to_the_registered_webhooks(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/hooks/tx", (200, {"status": "queued"}))
    with FakeParticeep("k", "s") as particeep:
        particeep.add_webhook("transaction_created", fake_server.url + "hooks/tx")
        base = particeep.url.removesuffix("/v1")
        answer = httpx.post(base + "/fake/emit/transaction_created").json()
        given = httpx.post(base + "/fake/emit/transaction_created", json={"id": "t1", "amount": 5})
        unknown = httpx.post(base + "/fake/emit/nothing_happened")

    assert answer["deliveries"] == [
        {"url": fake_server.url + "hooks/tx", "status": 200, "error": None}
    ]
    first, second = fake_server.received("POST", "/hooks/tx")
    assert first.json() == answer["entity"] and first.json()["amount"] > 0  # made up, realistic
    assert second.json() == {"id": "t1", "amount": 5}
    assert given.json()["deliveries"][0]["status"] == 200
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["message"] == "unknown Particeep event 'nothing_happened'"


def test_the_emit_command_prints_each_delivery(
    fake_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.on("POST", "/hooks/tx", (200, {"status": "queued"}))
    with FakeParticeep("k", "s") as particeep:
        api = particeep.url.removesuffix("/v1")
        assert emit(["transaction_created", "--api", api]) == 1  # nobody listens yet
        assert "no webhook is registered for transaction_created" in capsys.readouterr().err
        particeep.add_webhook("transaction_created", fake_server.url + "hooks/tx")
        assert emit(["transaction_created", "--api", api, "--set", "amount=250000"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("transaction_created ") and out[0].endswith(
        "delivered to 1 webhook(s)"
    )
    assert out[1] == f"  200  {fake_server.url}hooks/tx"
    assert fake_server.received("POST", "/hooks/tx")[0].json()["amount"] == 250000


def test_an_unreachable_fake_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    assert emit(["transaction_created", "--api", api]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"cannot reach the fake Particeep API at {api}: ")
