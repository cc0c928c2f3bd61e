"""slack.send_message through the real slack_sdk WebClient against a local fake Slack."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr, ValidationError

from maillon.connectors.registry import Registry
from maillon.connectors.sdk import ActionContext, PermanentError, TransientError
from maillon.connectors.slack import SendMessage, SlackConnection, connector
from maillon.connectors.slack._client import web_client
from maillon.connectors.testing import FakeServer

POST_MESSAGE = "/api/chat.postMessage"
OK = (200, {"ok": True, "channel": "C123", "ts": "1712345678.000100"})


def ctx() -> ActionContext:
    return ActionContext(idempotency_key="r1:s1", attempt=1, timeout=5)


def conn_for(fake: FakeServer, token: str = "xoxb-test") -> SlackConnection:
    return SlackConnection(bot_token=SecretStr(token), base_url=fake.url + "api/")


def test_connector_is_registered_under_slack() -> None:
    _, action = Registry([connector]).resolve("slack.send_message")
    assert action is SendMessage
    assert SlackConnection.secret_fields() == {"bot_token", "webhook_url"}


def test_message_is_posted_with_bot_token_and_json_body(fake_server: FakeServer) -> None:
    fake_server.on("POST", POST_MESSAGE, OK)

    out = SendMessage().run(
        ctx(), conn_for(fake_server), SendMessage.Input(channel="C123", text="hello")
    )

    assert out.model_dump() == {"ok": True, "channel": "C123", "ts": "1712345678.000100"}
    (req,) = fake_server.received("POST", POST_MESSAGE)
    assert req.headers["authorization"] == "Bearer xoxb-test"
    assert req.headers["content-type"].startswith("application/json")
    assert req.json() == {"channel": "C123", "text": "hello"}


def test_blocks_thread_and_unfurl_flags_are_sent(fake_server: FakeServer) -> None:
    fake_server.on("POST", POST_MESSAGE, OK)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]

    SendMessage().run(
        ctx(),
        conn_for(fake_server),
        SendMessage.Input(
            channel="C123",
            text="fallback",
            blocks=blocks,
            thread_ts="1712345678.000001",
            unfurl_links=False,
        ),
    )

    body = fake_server.received("POST", POST_MESSAGE)[0].json()
    assert body["blocks"] == blocks
    assert body["thread_ts"] == "1712345678.000001"
    assert body["unfurl_links"] is False
    assert "unfurl_media" not in body


def test_base_url_without_trailing_slash_still_works(fake_server: FakeServer) -> None:
    fake_server.on("POST", POST_MESSAGE, OK)
    conn = SlackConnection(bot_token=SecretStr("xoxb-t"), base_url=fake_server.url + "api")
    SendMessage().run(ctx(), conn, SendMessage.Input(channel="C123", text="hi"))
    assert len(fake_server.received("POST", POST_MESSAGE)) == 1


@pytest.mark.parametrize(
    "code", ["channel_not_found", "invalid_auth", "not_in_channel", "token_revoked"]
)
def test_slack_refusals_are_permanent_with_the_code(fake_server: FakeServer, code: str) -> None:
    fake_server.on("POST", POST_MESSAGE, (200, {"ok": False, "error": code}))

    with pytest.raises(PermanentError, match=code) as info:
        SendMessage().run(ctx(), conn_for(fake_server), SendMessage.Input(channel="C9", text="x"))

    assert info.value.details["error"] == code
    assert info.value.details["status"] == 200


def test_missing_scope_names_the_needed_scope(fake_server: FakeServer) -> None:
    answer = {
        "ok": False,
        "error": "missing_scope",
        "needed": "chat:write",
        "provided": "users:read",
    }
    fake_server.on("POST", POST_MESSAGE, (200, answer))

    with pytest.raises(PermanentError, match="chat:write") as info:
        SendMessage().run(ctx(), conn_for(fake_server), SendMessage.Input(channel="C9", text="x"))
    assert info.value.details["needed"] == "chat:write"


def test_invalid_blocks_reports_slack_messages(fake_server: FakeServer) -> None:
    answer = {
        "ok": False,
        "error": "invalid_blocks",
        "response_metadata": {
            "messages": ["[ERROR] missing required field: text [json-pointer:/blocks/0]"]
        },
    }
    fake_server.on("POST", POST_MESSAGE, (200, answer))

    with pytest.raises(PermanentError, match=r"invalid_blocks.*json-pointer:/blocks/0"):
        SendMessage().run(
            ctx(),
            conn_for(fake_server),
            SendMessage.Input(channel="C9", text="x", blocks=[{"type": "section"}]),
        )


def test_rate_limit_is_transient_with_retry_after(fake_server: FakeServer) -> None:
    fake_server.on(
        "POST", POST_MESSAGE, (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    )

    with pytest.raises(TransientError) as info:
        SendMessage().run(ctx(), conn_for(fake_server), SendMessage.Input(channel="C1", text="x"))

    assert info.value.retry_after == 7.0
    assert info.value.details["status"] == 429


@pytest.mark.parametrize("answer", [(500, "Internal Server Error"), (503, {"ok": False})])
def test_server_errors_are_transient(fake_server: FakeServer, answer: tuple[int, object]) -> None:
    fake_server.on("POST", POST_MESSAGE, answer)

    with pytest.raises(TransientError) as info:
        SendMessage().run(ctx(), conn_for(fake_server), SendMessage.Input(channel="C1", text="x"))
    assert info.value.details["status"] == answer[0]
    # The client must not retry on its own: the engine owns retries.
    assert len(fake_server.received("POST", POST_MESSAGE)) == 1


def test_slack_internal_error_code_is_transient(fake_server: FakeServer) -> None:
    fake_server.on("POST", POST_MESSAGE, (200, {"ok": False, "error": "internal_error"}))
    with pytest.raises(TransientError, match="internal_error"):
        SendMessage().run(ctx(), conn_for(fake_server), SendMessage.Input(channel="C1", text="x"))


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = SlackConnection(bot_token=SecretStr("xoxb-t"), base_url=f"http://127.0.0.1:{port}/api/")

    with pytest.raises(TransientError, match="Could not reach Slack"):
        SendMessage().run(ctx(), conn, SendMessage.Input(channel="C1", text="x"))


def test_missing_bot_token_says_what_to_set() -> None:
    conn = SlackConnection(webhook_url=SecretStr("https://hooks.example/x"))
    with pytest.raises(PermanentError, match="bot_token"):
        SendMessage().run(ctx(), conn, SendMessage.Input(channel="C1", text="x"))


def test_client_is_reused_per_connection(fake_server: FakeServer) -> None:
    first = web_client(conn_for(fake_server), 5)
    assert web_client(conn_for(fake_server), 5) is first
    assert web_client(conn_for(fake_server, "xoxb-2"), 5) is not first


def test_empty_message_is_rejected_by_the_input_model() -> None:
    with pytest.raises(ValidationError, match="text or blocks"):
        SendMessage.Input(channel="C1", text="  ")


@pytest.mark.parametrize("channel", ["ops@example.com", " backoffice@invest.fr "])
def test_an_email_address_is_refused_as_a_channel(channel: str) -> None:
    with pytest.raises(ValidationError, match="an e-mail address is not a Slack channel"):
        SendMessage.Input.model_validate({"channel": channel, "text": "hi"})
    # Names and IDs pass, a user's handle too.
    for fine in ("#ops", "C0123456789", "U0123456789", "@ada"):
        SendMessage.Input.model_validate({"channel": fine, "text": "hi"})


def test_a_channel_with_spaces_is_refused_unless_a_template_names_it() -> None:
    with pytest.raises(ValidationError, match="a Slack channel has no spaces"):
        SendMessage.Input.model_validate({"channel": "ops without hash", "text": "hi"})
    for fine in (
        "{{ event.channel }}",
        "{% if event.big %}#big{% else %}#ops{% endif %}",
        " #ops ",
    ):
        SendMessage.Input.model_validate({"channel": fine, "text": "hi"})
