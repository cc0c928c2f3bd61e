from __future__ import annotations

import asyncio

import pytest

from examples.particeep import simulate
from examples.particeep.simulate import percentile
from maillon.connectors.testing import FakeServer


def test_simulator_sends_bare_entities_to_each_event_url(
    fake_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for event in ("user_created", "transaction_created"):
        fake_server.on("POST", f"/hooks/particeep/tok/{event}", (200, {"ok": True}))
    base = fake_server.url + "hooks/particeep/tok/"
    code = simulate.main(
        [
            "--url", f"user_created={base}user_created",
            "--url", f"transaction_created={base}transaction_created",
            "--count", "6", "--rate", "0", "--seed", "7",
        ]
    )  # fmt: skip
    assert code == 0

    users = [r.json() for r in fake_server.received("POST", "/hooks/particeep/tok/user_created")]
    transactions = [
        r.json() for r in fake_server.received("POST", "/hooks/particeep/tok/transaction_created")
    ]
    assert (len(users), len(transactions)) == (3, 3)
    assert len({u["id"] for u in users}) == 3
    assert all(u["email"].split("@")[1].startswith("example.") for u in users)
    for t in transactions:
        assert isinstance(t["amount"], int)
        assert t["amount"] % 100 == 0  # cents of whole euros
        assert (t["currency"], t["status"]) == ("EUR", "PENDING")
        assert t["issuer_id"] in {u["id"] for u in users}  # investors seen before
        assert "event" not in t
    out = capsys.readouterr().out
    assert "sent 6" in out
    assert "2xx 6" in out
    assert "p50" in out
    assert "p99" in out


def test_simulator_simple_form_and_failures_set_the_exit_status(
    fake_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.on("POST", "/h", (200, "ok"), (500, "boom"))
    code = simulate.main(
        ["--hook-url", fake_server.url + "h", "--event", "user_deleted", "--count", "2",
         "--rate", "50"]
    )  # fmt: skip
    assert code == 1
    assert len(fake_server.received("POST", "/h")) == 2
    assert "500: 1" in capsys.readouterr().out


def test_simulator_paces_at_the_chosen_rate(fake_server: FakeServer) -> None:
    fake_server.on("POST", "/h", (200, "ok"))
    summary = asyncio.run(
        simulate.simulate([("fundraise_updated", fake_server.url + "h")], count=4, rate=40)
    )
    assert summary.ok == 4
    assert summary.duration >= 3 / 40  # the 4th left 75 ms after the 1st
    body = fake_server.received("POST", "/h")[0].json()
    assert body["status"] == "SUCCEEDED"  # from the catalog sample, with a fresh id
    assert body["id"] != "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"


def test_simulator_refuses_unknown_events(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        simulate.main(["--hook-url", "http://127.0.0.1:9/h", "--event", "nope_nope"])
    assert "unknown Particeep event" in capsys.readouterr().err


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile([3.0], 99)) == (50, 99, 3)
