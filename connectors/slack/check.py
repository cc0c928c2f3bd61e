"""Slack's "test connection": the bot token with ``auth.test``, the incoming webhook with a
dry call.

An incoming webhook cannot be asked who it is, and a real message would land in the channel.
So the test posts a message with an empty text: Slack refuses it (``no_text`` or
``missing_text_or_fallback_or_attachments``, HTTP 400) when the webhook exists, and answers
``no_service``, ``invalid_token`` or ``channel_is_archived`` when it does not: nothing is
posted either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from maillon.connectors.sdk import ConnectionCheck, ConnectorError
from maillon.connectors.slack.connection import SlackConnection

__all__ = ["check_connection"]

#: Seconds each call of the test waits for Slack.
TIMEOUT = 15.0

#: What Slack answers to an empty message posted to a webhook that exists.
_EMPTY_MESSAGE_REFUSALS = frozenset(
    {"no_text", "missing_text_or_fallback_or_attachments", "invalid_payload"}
)


async def check_connection(conn: SlackConnection) -> ConnectionCheck:
    """Check the bot token and the webhook URL, whichever are set (in a thread: the clients
    block)."""
    return await asyncio.to_thread(_check, conn)


def _check(conn: SlackConnection) -> ConnectionCheck:
    parts: list[tuple[bool, str]] = []
    if conn.bot_token is not None:
        parts.append(_outcome(_auth_test, conn))
    if conn.webhook_url is not None:
        parts.append(_outcome(_dry_webhook_call, conn))
    if not parts:
        return ConnectionCheck(
            ok=None,
            message="The connection has neither a bot token nor an incoming webhook URL to test.",
        )
    return ConnectionCheck(ok=all(ok for ok, _ in parts), message=" ".join(m for _, m in parts))


def _outcome(call: Callable[[SlackConnection], str], conn: SlackConnection) -> tuple[bool, str]:
    try:
        return True, call(conn)
    except ConnectorError as exc:
        return False, exc.message + "."


def _auth_test(conn: SlackConnection) -> str:
    # Imported on use, like the actions do: listing connectors must not load slack_sdk.
    from slack_sdk.errors import SlackApiError

    from maillon.connectors.slack._client import (
        CLIENT_ERRORS,
        classify_api_error,
        classify_network_error,
        web_client,
    )

    try:
        answer = web_client(conn, TIMEOUT).auth_test()
    except SlackApiError as exc:
        raise classify_api_error(exc, "the bot token") from exc
    except CLIENT_ERRORS as exc:
        raise classify_network_error(exc) from exc
    return (
        f"Slack accepts the bot token: workspace {answer.get('team')}, "
        f"bot user {answer.get('user')}."
    )


def _dry_webhook_call(conn: SlackConnection) -> str:
    from maillon.connectors.slack._client import (
        CLIENT_ERRORS,
        classify_network_error,
        classify_webhook_response,
        webhook_client,
    )

    try:
        # An empty text, not an empty body: slack_sdk sends an empty dict as "null".
        response = webhook_client(conn, TIMEOUT).send_dict({"text": ""})
    except CLIENT_ERRORS as exc:
        raise classify_network_error(exc) from exc
    code = (response.body or "").strip()
    if response.status_code == 400 and code in _EMPTY_MESSAGE_REFUSALS:
        return (
            f"Slack knows the incoming webhook (it refused an empty test message with {code}, "
            "so nothing was posted)."
        )
    if response.status_code == 200:
        return "The incoming webhook URL accepts messages (an empty test message was sent)."
    error = classify_webhook_response(response)
    assert error is not None  # any other status is an error
    raise error
