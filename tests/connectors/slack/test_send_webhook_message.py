"""slack.send_webhook_message through the real slack_sdk WebhookClient against a fake Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import SecretStr

from maillon.connectors.sdk import ActionContext, PermanentError, TransientError
from maillon.connectors.slack import SendWebhookMessage, SlackConnection
from maillon.connectors.testing import FakeServer

HOOK = "/services/T000/B000/secret"


def ctx() -> ActionContext:
    return ActionContext(idempotency_key="r1:s1", attempt=1, timeout=5)


def conn_for(fake: FakeServer) -> SlackConnection:
    return SlackConnection(webhook_url=SecretStr(fake.url + HOOK.lstrip("/")))


def test_webhook_message_is_posted(fake_server: FakeServer) -> None:
    fake_server.on("POST", HOOK, (200, "ok"))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]

    out = SendWebhookMessage().run(
        ctx(), conn_for(fake_server), SendWebhookMessage.Input(text="done", blocks=blocks)
    )

    assert out.model_dump() == {"ok": True, "status": 200}
    (req,) = fake_server.received("POST", HOOK)
    assert req.json() == {"text": "done", "blocks": blocks}
    assert "authorization" not in req.headers


def test_webhook_404_is_permanent(fake_server: FakeServer) -> None:
    fake_server.on("POST", HOOK, (404, "no_service"))

    with pytest.raises(PermanentError, match="no_service") as info:
        SendWebhookMessage().run(ctx(), conn_for(fake_server), SendWebhookMessage.Input(text="x"))
    assert info.value.details == {"error": "no_service", "status": 404}


def test_webhook_rate_limit_is_transient(fake_server: FakeServer) -> None:
    fake_server.on("POST", HOOK, (429, "rate_limited", {"Retry-After": "3"}))

    with pytest.raises(TransientError) as info:
        SendWebhookMessage().run(ctx(), conn_for(fake_server), SendWebhookMessage.Input(text="x"))
    assert info.value.retry_after == 3.0


def test_webhook_retry_after_may_be_an_http_date(fake_server: FakeServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake_server.on("POST", HOOK, (429, "rate_limited", {"Retry-After": when}))

    with pytest.raises(TransientError) as info:
        SendWebhookMessage().run(ctx(), conn_for(fake_server), SendWebhookMessage.Input(text="x"))
    assert info.value.retry_after is not None
    assert 20 < info.value.retry_after <= 30


def test_webhook_500_is_transient(fake_server: FakeServer) -> None:
    fake_server.on("POST", HOOK, (500, "oops"))
    with pytest.raises(TransientError):
        SendWebhookMessage().run(ctx(), conn_for(fake_server), SendWebhookMessage.Input(text="x"))


def test_missing_webhook_url_says_what_to_set() -> None:
    conn = SlackConnection(bot_token=SecretStr("xoxb-t"))
    with pytest.raises(PermanentError, match="webhook_url"):
        SendWebhookMessage().run(ctx(), conn, SendWebhookMessage.Input(text="x"))


def test_a_webhook_url_that_is_not_absolute_is_refused() -> None:
    with pytest.raises(ValueError, match="webhook_url must be an http:// or https:// URL"):
        SlackConnection(webhook_url=SecretStr("services/T000/B000/XXXX"))
