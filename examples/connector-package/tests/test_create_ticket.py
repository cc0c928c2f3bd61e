"""helpdesk.create_ticket through httpx on a real socket, against Maillon's fake server.

``run_action`` runs the action as Maillon's engine does: the input and the connection validated
by their models, the output returned as the JSON the engine records.
"""

from __future__ import annotations

import asyncio
import socket
from importlib.metadata import entry_points
from typing import Any

import pytest

from maillon.connectors.sdk import ENTRY_POINT_GROUP, PermanentError, TransientError
from maillon.connectors.testing import FakeServer, run_action
from maillon_example import CreateTicket, HelpdeskConnection, connector
from maillon_example.connection import check_connection

TICKET = {"subject": "KYC documents missing", "requester_email": "ada@example.com"}


def account(server: FakeServer) -> dict[str, str]:
    """The connection as a user saves it."""
    return {"base_url": server.url + "api", "api_token": "tok-1"}


def create(server: FakeServer, **overrides: Any) -> Any:
    return asyncio.run(
        run_action(CreateTicket, account(server), {**TICKET, **overrides}, idempotency_key="r1:s1")
    )


def test_the_installed_package_offers_the_connector() -> None:
    found = entry_points(group=ENTRY_POINT_GROUP, name="helpdesk")
    assert len(found) == 1, "the entry point exists once the package is installed (pip install)"
    assert found["helpdesk"].load() is connector
    assert connector.action("create_ticket") is CreateTicket
    assert HelpdeskConnection.secret_fields() == {"api_token"}


def test_a_ticket_is_opened(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST",
        "/api/tickets",
        (201, {"id": "T-1", "url": "https://support.example.com/t/T-1", "status": "open"}),
    )

    out = create(fake_server, priority="high", tags=["kyc"])

    assert out == {"ticket_id": "T-1", "url": "https://support.example.com/t/T-1", "status": "open"}
    [sent] = fake_server.received("POST", "/api/tickets")
    assert sent.headers["authorization"] == "Bearer tok-1"
    assert sent.headers["idempotency-key"] == "r1:s1"
    assert sent.json() == {**TICKET, "description": "", "priority": "high", "tags": ["kyc"]}


def test_input_is_checked_before_any_request(fake_server: FakeServer) -> None:
    with pytest.raises(ValueError, match="priority"):
        create(fake_server, priority="whenever")
    assert fake_server.requests == []


def test_rate_limits_and_outages_are_retried(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST", "/api/tickets", (429, {"message": "slow down"}, {"Retry-After": "30"}), (503, "")
    )
    with pytest.raises(TransientError, match="429") as limited:
        create(fake_server)
    assert limited.value.retry_after == 30
    with pytest.raises(TransientError, match="503"):
        create(fake_server)


def test_refusals_say_what_to_do(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST",
        "/api/tickets",
        (401, {"message": "bad token"}),
        (422, {"message": "requester_email is not a known customer"}),
    )
    with pytest.raises(PermanentError, match="create a new one and update the connection"):
        create(fake_server)
    with pytest.raises(PermanentError, match="not a known customer") as refused:
        create(fake_server)
    assert refused.value.details["status"] == 422


def test_an_unreadable_answer_is_not_retried(fake_server: FakeServer) -> None:
    # The ticket may exist: a retry could open a second one.
    fake_server.on("POST", "/api/tickets", (201, "<html>Created</html>"), (502, ["bad", "gateway"]))
    with pytest.raises(PermanentError, match="answered 201 with a body that is not JSON"):
        create(fake_server)
    with pytest.raises(TransientError, match=r"answered 502: \[\"bad\""):
        create(fake_server)


def test_an_unreachable_help_desk_is_retried() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/"
    saved = {"base_url": url, "api_token": "tok-1"}
    with pytest.raises(TransientError, match="ConnectError"):
        asyncio.run(run_action(CreateTicket, saved, TICKET))


def test_check_connection(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/api/me", (200, {"email": "bot@example.com"}), (401, {}))
    conn = HelpdeskConnection.model_validate(account(fake_server))
    ok = asyncio.run(check_connection(conn))
    assert (ok.ok, ok.message) == (True, "connected as bot@example.com")
    refused = asyncio.run(check_connection(conn))
    assert not refused.ok
    assert "API token is not valid" in refused.message
