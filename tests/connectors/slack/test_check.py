"""Slack's "test connection": auth.test through the real WebClient against a fake Slack."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from maillon.connectors.sdk import PermanentError, TransientError
from maillon.connectors.slack import SlackConnection, connector
from maillon.connectors.testing import FakeServer

AUTH_TEST = "/api/auth.test"


def check(conn: SlackConnection) -> tuple[bool | None, str]:
    assert connector.check is not None
    result = asyncio.run(connector.check(conn))
    return result.ok, result.message


def test_a_working_bot_token_says_which_workspace(fake_server: FakeServer) -> None:
    fake_server.on("POST", AUTH_TEST, (200, {"ok": True, "team": "Acme", "user": "maillon"}))
    conn = SlackConnection(bot_token=SecretStr("xoxb-1"), base_url=fake_server.url + "api/")

    assert check(conn) == (True, "Slack accepts the bot token: workspace Acme, bot user maillon")
    [request] = fake_server.received("POST", AUTH_TEST)
    assert request.headers["authorization"] == "Bearer xoxb-1"


def test_a_refused_token_says_what_to_do(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST",
        AUTH_TEST,
        (200, {"ok": False, "error": "invalid_auth"}),
        (503, {"ok": False, "error": "service_unavailable"}),
    )
    conn = SlackConnection(bot_token=SecretStr("xoxb-2"), base_url=fake_server.url + "api/")

    with pytest.raises(PermanentError, match=r"Slack refused the bot token: invalid_auth \(the"):
        check(conn)
    with pytest.raises(TransientError, match="Slack is unavailable"):
        check(conn)


def test_a_webhook_alone_is_not_tested(fake_server: FakeServer) -> None:
    conn = SlackConnection(webhook_url=SecretStr(fake_server.url + "hook"))

    ok, message = check(conn)

    assert ok is None and message.startswith("There is no bot token to test")
    assert fake_server.requests == []
