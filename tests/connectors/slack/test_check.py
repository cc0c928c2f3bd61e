"""Slack's "test connection": auth.test for the bot token, and a dry call for an incoming
webhook, through the real slack_sdk clients against a fake Slack."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from maillon.connectors.sdk import ConnectionCheck
from maillon.connectors.slack import SlackConnection, connector
from maillon.connectors.testing import FakeServer

AUTH_TEST = "/api/auth.test"
HOOK = "/services/T1/B1/XYZ"


def check(conn: SlackConnection) -> ConnectionCheck:
    assert connector.check is not None
    return asyncio.run(connector.check(conn))


def bot(server: FakeServer, token: str = "xoxb-1") -> SlackConnection:
    return SlackConnection(bot_token=SecretStr(token), base_url=server.url + "api/")


def hook(server: FakeServer) -> SlackConnection:
    return SlackConnection(webhook_url=SecretStr(server.url + HOOK.lstrip("/")))


def test_a_working_bot_token_says_which_workspace(fake_server: FakeServer) -> None:
    fake_server.on("POST", AUTH_TEST, (200, {"ok": True, "team": "Acme", "user": "maillon"}))

    assert check(bot(fake_server)) == ConnectionCheck(
        ok=True, message="Slack accepts the bot token: workspace Acme, bot user maillon."
    )
    [request] = fake_server.received("POST", AUTH_TEST)
    assert request.headers["authorization"] == "Bearer xoxb-1"


def test_a_refused_bot_token_says_what_to_do(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST",
        AUTH_TEST,
        (200, {"ok": False, "error": "invalid_auth"}),
        (503, {"ok": False, "error": "service_unavailable"}),
    )
    result = check(bot(fake_server))
    assert result.ok is False
    assert result.message.startswith("Slack refused the bot token: invalid_auth (the bot token")
    unavailable = check(bot(fake_server))
    assert unavailable.ok is False
    assert unavailable.message.startswith("Slack is unavailable: service_unavailable")


@pytest.mark.parametrize("code", ["no_text", "missing_text_or_fallback_or_attachments"])
def test_an_existing_webhook_is_recognised_without_posting(
    fake_server: FakeServer, code: str
) -> None:
    fake_server.on("POST", HOOK, (400, code))

    result = check(hook(fake_server))

    assert result.ok and f"refused an empty test message with {code}" in result.message
    [request] = fake_server.received("POST", HOOK)
    assert request.json() == {"text": ""}  # nothing a channel would show


def test_a_removed_webhook_fails_with_slacks_reason(fake_server: FakeServer) -> None:
    fake_server.on("POST", HOOK, (404, "no_service"))
    result = check(hook(fake_server))
    assert not result.ok
    assert "no_service (the webhook was removed or its URL is wrong)" in result.message


def test_both_credentials_are_tested(fake_server: FakeServer) -> None:
    fake_server.on("POST", AUTH_TEST, (200, {"ok": True, "team": "Acme", "user": "maillon"}))
    fake_server.on("POST", HOOK, (404, "no_service"))
    conn = bot(fake_server).model_copy(
        update={"webhook_url": SecretStr(fake_server.url + HOOK.lstrip("/"))}
    )

    result = check(conn)

    assert not result.ok
    assert result.message.startswith("Slack accepts the bot token: workspace Acme")
    assert "no_service" in result.message


def test_nothing_to_test_says_which_fields_to_set(fake_server: FakeServer) -> None:
    result = check(SlackConnection(base_url=fake_server.url + "api/"))
    assert result == ConnectionCheck(
        ok=None,
        message="The connection has neither a bot token nor an incoming webhook URL to test.",
    )
    assert fake_server.requests == []


def test_an_unreachable_slack_is_reported(fake_server: FakeServer) -> None:
    conn = bot(fake_server)
    fake_server.stop()
    result = check(conn)
    assert not result.ok and result.message.startswith("Could not reach Slack")
